-- The afp_landmark index access method (0.3.0): build on a populated table, rows inserted after
-- the build (the pending chain), afp_index_stats() and afp_index_check() through UPDATE, DELETE,
-- VACUUM, REINDEX and REINDEX CONCURRENTLY, ORDER BY fp <~> q by the index and by a sequential
-- scan, match_clip() with and without the index, empty, NULL-only, unlogged, partitioned and
-- TRUNCATEd tables, and the errors with their SQLSTATEs. Self-contained: its own tables, dropped
-- at the end. Prints only values that do not depend on the page layout (no page counts).
\i sql/include/fresh.psql

\set ECHO none
\i sql/include/songs.psql
\i sql/include/clips.psql
\set ECHO all

-- The fixture songs and clips, fingerprinted once.
CREATE TABLE lm_audio (n int PRIMARY KEY, title text, fp afp);
INSERT INTO lm_audio
SELECT n, 'song' || n, fingerprint(decode(a, 'base64'))
FROM (VALUES (1, :'song1'), (2, :'song2'), (3, :'song3'), (4, :'song4'), (5, :'song5'), (6, :'song6')) v(n, a);
CREATE TABLE lm_clips (name text PRIMARY KEY, expect_id int, expect_offset float8, audio bytea, q afp);
INSERT INTO lm_clips (name, expect_id, expect_offset, audio) VALUES
  ('song1 at 12 s',    1, 12.0,  decode(:'c1', 'base64')),
  ('song2 at 11.25 s', 2, 11.25, decode(:'c2', 'base64')),
  ('song3 at 7.5 s',   3, 7.5,   decode(:'c3', 'base64')),
  ('song5 at 3 s',     5, 3.0,   decode(:'c5', 'base64')),
  ('unknown',          NULL, NULL, decode(:'cu', 'base64'));
UPDATE lm_clips SET q = fingerprint(audio);

-- The index's answer and the sequential scan's answer for every clip: the first row of
-- ORDER BY fp <~> q LIMIT 3, with the plan pinned each way.
CREATE FUNCTION pg_temp.top_rows(tab regclass, by_index bool)
RETURNS TABLE (clip text, top_id int, rows_returned int)
LANGUAGE plpgsql AS $$
DECLARE
  q text := format(
    'SELECT c.name, (array_agg(m.id ORDER BY m.rank))[1], count(m.id)::int
     FROM lm_clips c LEFT JOIN LATERAL
          (SELECT id, row_number() OVER () AS rank FROM (SELECT id FROM %s ORDER BY fp <~> c.q LIMIT 3) s) m ON true
     GROUP BY c.name ORDER BY c.name', tab);
  line text;
  plan text := '';
BEGIN
  -- SET LOCAL lasts to the end of the transaction, which may call this function both ways: set all.
  SET LOCAL max_parallel_workers_per_gather = 0;
  PERFORM set_config(name, CASE WHEN by_index = on_for_index THEN 'on' ELSE 'off' END, true)
  FROM (VALUES ('enable_indexscan', true), ('enable_bitmapscan', true),
               ('enable_seqscan', false), ('enable_sort', false)) v(name, on_for_index);
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    plan := plan || line || E'\n';
  END LOOP;
  -- An index scan ordering by <~> shows "Order By:"; a sort shows "Sort Key:" instead.
  IF (plan LIKE '%Order By: (%<~>%') IS DISTINCT FROM by_index THEN
    RAISE EXCEPTION 'top_rows(%, by_index => %) did not get the plan it pins:%', tab, by_index, E'\n' || plan;
  END IF;
  RETURN QUERY EXECUTE q;
END $$;

-- 1. Build on a populated table: songs 1 to 4 and a row without a fingerprint. A temporary table:
-- what VACUUM can remove then depends on this session alone (see 8b).
CREATE TEMP TABLE lm_songs (id int PRIMARY KEY, title text, fp afp);
INSERT INTO lm_songs SELECT n, title, fp FROM lm_audio WHERE n <= 4;
INSERT INTO lm_songs VALUES (100, 'no fingerprint', NULL);
CREATE INDEX lm_songs_fp_idx ON lm_songs USING afp_landmark (fp);
SELECT rows, packed_postings = (SELECT sum(afp_landmark_count(fp)) FROM lm_songs) AS every_landmark_packed,
       pending_postings, removed_postings,
       buckets >= 16 AND buckets & (buckets - 1) = 0 AS buckets_power_of_two,
       largest_bucket BETWEEN 1 AND packed_postings AS largest_bucket_ok,
       pages > 0 AND bytes = pages * current_setting('block_size')::bigint AS bytes_are_pages
FROM afp_index_stats('lm_songs_fp_idx');
-- rows counts every row the snapshot sees (the NULL one too); postings every landmark.
SELECT rows, postings = (SELECT sum(afp_landmark_count(fp)) FROM lm_songs) AS postings_ok, missing, orphaned
FROM afp_index_check('lm_songs_fp_idx');
SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.oid = 'lm_songs_fp_idx'::regclass;

-- 2. Rows inserted after the build go to the pending chain, and are found from there.
INSERT INTO lm_songs SELECT n, title, fp FROM lm_audio WHERE n IN (5, 6);
INSERT INTO lm_songs VALUES (101, 'no fingerprint either', NULL);
SELECT rows, pending_postings = (SELECT sum(afp_landmark_count(fp)) FROM lm_audio WHERE n IN (5, 6)) AS pending_are_new_rows,
       packed_postings = (SELECT sum(afp_landmark_count(fp)) FROM lm_audio WHERE n <= 4) AS packed_unchanged,
       removed_postings
FROM afp_index_stats('lm_songs_fp_idx');
SELECT rows, missing, orphaned FROM afp_index_check('lm_songs_fp_idx');

-- 3. ORDER BY fp <~> q LIMIT k: the index scan (its plan pinned), then the sequential scan.
SET enable_seqscan = off;
-- The clip's fingerprint as a client sends it: a parameter, in a generic plan (a subquery's
-- InitPlan would print differently from PostgreSQL 17 on).
SET plan_cache_mode = force_generic_plan;
PREPARE lm_plan(afp) AS SELECT id FROM lm_songs ORDER BY fp <~> $1 LIMIT 3;
EXPLAIN (COSTS OFF) EXECUTE lm_plan(NULL);
DEALLOCATE lm_plan;
RESET plan_cache_mode;
-- (The next two are ordered by a primary key, so that no plan needs the disabled sequential scan,
-- which PostgreSQL 18 marks "Disabled".)
EXPLAIN (COSTS OFF) SELECT c.name, m.id FROM lm_clips c, LATERAL (SELECT id FROM lm_songs ORDER BY fp <~> c.q LIMIT 1) m ORDER BY c.name;
-- Without ORDER BY fp <~> q the index is of no use, whatever the settings.
EXPLAIN (COSTS OFF) SELECT id FROM lm_songs WHERE fp IS NOT NULL ORDER BY id;
RESET enable_seqscan;
SET enable_indexscan = off;
SET plan_cache_mode = force_generic_plan;
PREPARE lm_plan(afp) AS SELECT id FROM lm_songs ORDER BY fp <~> $1 LIMIT 3;
EXPLAIN (COSTS OFF) EXECUTE lm_plan(NULL);
DEALLOCATE lm_plan;
RESET plan_cache_mode;
RESET enable_indexscan;
-- The song5 clip is found in the pending chain; the others in the packed area.
SELECT i.clip, i.top_id AS by_index, s.top_id AS by_seqscan, i.top_id = s.top_id AS same_top,
       i.top_id IS NOT DISTINCT FROM c.expect_id AS right_row
FROM pg_temp.top_rows('lm_songs', true) i JOIN pg_temp.top_rows('lm_songs', false) s USING (clip)
     JOIN lm_clips c ON c.name = i.clip
WHERE c.expect_id IS NOT NULL ORDER BY i.clip;
-- The distance of a row is minus its full vote: a clip scores in its own track, hardly elsewhere.
SELECT c.name, bool_and((s.fp <~> c.q) < -50) FILTER (WHERE s.id = c.expect_id) AS own_track_scores,
       bool_and((s.fp <~> c.q) > -20) FILTER (WHERE s.id <> c.expect_id) AS others_do_not
FROM lm_clips c, lm_songs s WHERE c.expect_id IS NOT NULL AND s.fp IS NOT NULL GROUP BY c.name ORDER BY c.name;
SELECT (fp <~> fp) = -(SELECT count(DISTINCT h) FROM unnest(afp_hashes(fp)) h) AS self_distance_is_distinct_hashes
FROM lm_songs WHERE id = 1;
SELECT count(*) AS null_distance FROM lm_songs WHERE (fp <~> NULL::afp) IS NULL;

-- 4. match_clip with the index and without it (the GIN path, here a sequential scan) agree.
SET afp.use_landmark_index = on;
CREATE TEMP TABLE lm_with_index AS
SELECT c.name, m.track_id, m.score, m.offset_s, m.confidence >= 0.5 AS confident
FROM lm_clips c LEFT JOIN LATERAL match_clip(c.audio, 'lm_songs', 3) m ON true;
SET afp.use_landmark_index = off;
CREATE TEMP TABLE lm_without_index AS
SELECT c.name, m.track_id, m.score, m.offset_s, m.confidence >= 0.5 AS confident
FROM lm_clips c LEFT JOIN LATERAL match_clip(c.audio, 'lm_songs', 3) m ON true;
RESET afp.use_landmark_index;
SELECT w.name, w.track_id, w.track_id IS NOT DISTINCT FROM c.expect_id AS right_track,
       abs(w.offset_s - c.expect_offset) < 0.05 AS offset_ok, w.confident
FROM lm_with_index w JOIN lm_clips c USING (name) ORDER BY w.name, w.score DESC;
SELECT count(*) AS rows_differing FROM (
  (SELECT name, track_id, score, offset_s, confident FROM lm_with_index
   EXCEPT ALL SELECT name, track_id, score, offset_s, confident FROM lm_without_index)
  UNION ALL
  (SELECT name, track_id, score, offset_s, confident FROM lm_without_index
   EXCEPT ALL SELECT name, track_id, score, offset_s, confident FROM lm_with_index)) d;
-- The first path really is the index's: when the index returns nothing (no row can have 1000
-- aligned votes), match_clip finds nothing; with the index off the setting does not matter.
SET afp.index_min_votes = 1000;
SET afp.use_landmark_index = on;
SELECT count(*) AS index_path_rows FROM lm_clips c, LATERAL match_clip(c.audio, 'lm_songs', 3) m;
SET afp.use_landmark_index = off;
SELECT count(*) AS gin_path_rows FROM lm_clips c, LATERAL match_clip(c.audio, 'lm_songs', 3) m;
RESET afp.use_landmark_index;
RESET afp.index_min_votes;
-- match_afp takes the same path.
SELECT c.name, m.track_id FROM lm_clips c, LATERAL match_afp(c.q, 'lm_songs', 1) m ORDER BY c.name;

-- 5. UPDATE: a title (HOT when it fits) and a fingerprint (a new row version, new postings).
UPDATE lm_songs SET title = upper(title);
UPDATE lm_songs SET fp = afp_slice(fp, 0, 15) WHERE id = 4;
UPDATE lm_songs SET fp = (SELECT fp FROM lm_audio WHERE n = 1) WHERE id = 101;
SELECT rows, missing, orphaned FROM afp_index_check('lm_songs_fp_idx');

-- 6. DELETE: the row is never answered, before VACUUM (its postings are still there) and after.
DELETE FROM lm_songs WHERE id = 3;
SELECT rows, missing, orphaned FROM afp_index_check('lm_songs_fp_idx');
SELECT clip, top_id FROM pg_temp.top_rows('lm_songs', true) WHERE clip = 'song3 at 7.5 s';
SELECT count(*) AS answers_for_deleted_row FROM lm_clips c, LATERAL match_clip(c.audio, 'lm_songs') m WHERE m.track_id = 3;
SET enable_seqscan = off;
SELECT count(*) AS index_rows_for_deleted_row
FROM lm_clips c, LATERAL (SELECT id FROM lm_songs ORDER BY fp <~> c.q LIMIT 10) m WHERE m.id = 3;
RESET enable_seqscan;

-- 7. VACUUM removes the postings of the deleted row and of the replaced row versions, and merges
--    what is left into one run: the index holds exactly the live rows' landmarks again.
VACUUM lm_songs;
SELECT rows, pending_postings AS still_pending, runs,
       packed_postings = (SELECT sum(afp_landmark_count(fp)) FROM lm_songs) AS only_live_postings
FROM afp_index_stats('lm_songs_fp_idx');
SELECT rows, missing, orphaned FROM afp_index_check('lm_songs_fp_idx');
SET enable_seqscan = off;
SELECT count(*) AS index_rows_for_deleted_row
FROM lm_clips c, LATERAL (SELECT id FROM lm_songs ORDER BY fp <~> c.q LIMIT 10) m WHERE m.id = 3;
RESET enable_seqscan;
-- A row inserted now may reuse a freed line pointer: the index finds it, not the dead row.
INSERT INTO lm_songs SELECT 3, title, fp FROM lm_audio WHERE n = 3;
SELECT rows, missing, orphaned FROM afp_index_check('lm_songs_fp_idx');
SELECT clip, top_id FROM pg_temp.top_rows('lm_songs', true) WHERE clip = 'song3 at 7.5 s';

-- 8. REINDEX folds the pending postings into the packed area and drops removed ones.
REINDEX INDEX lm_songs_fp_idx;
SELECT rows, pending_postings, removed_postings,
       packed_postings = (SELECT sum(afp_landmark_count(fp)) FROM lm_songs) AS packed_every_landmark
FROM afp_index_stats('lm_songs_fp_idx');
SELECT rows, missing, orphaned FROM afp_index_check('lm_songs_fp_idx');
DELETE FROM lm_songs WHERE id = 101;
INSERT INTO lm_songs VALUES (102, 'song6 again', (SELECT fp FROM lm_audio WHERE n = 6));
SELECT rows, missing, orphaned FROM afp_index_check('lm_songs_fp_idx');
SELECT i.clip, i.top_id AS by_index, s.top_id AS by_seqscan
FROM pg_temp.top_rows('lm_songs', true) i JOIN pg_temp.top_rows('lm_songs', false) s USING (clip)
WHERE i.clip <> 'unknown' ORDER BY i.clip;

-- 8b. REINDEX CONCURRENTLY and CREATE INDEX CONCURRENTLY, on a persistent table (on a temporary
-- one they run as the plain commands). Their builds read an MVCC snapshot, so what they index does
-- not depend on other sessions' snapshots; what VACUUM and a plain REINDEX may drop does, which is
-- why lm_songs is a temporary table (its horizon is this session's alone).
CREATE TABLE lm_conc (id int PRIMARY KEY, fp afp);
INSERT INTO lm_conc SELECT n, fp FROM lm_audio WHERE n <= 4;
CREATE INDEX lm_conc_fp_idx ON lm_conc USING afp_landmark (fp);
INSERT INTO lm_conc SELECT n, fp FROM lm_audio WHERE n > 4;
UPDATE lm_conc SET fp = afp_slice(fp, 0, 15) WHERE id = 4;
DELETE FROM lm_conc WHERE id = 6;
SELECT rows, missing, orphaned FROM afp_index_check('lm_conc_fp_idx');
REINDEX INDEX CONCURRENTLY lm_conc_fp_idx;
SELECT rows, pending_postings, removed_postings,
       packed_postings = (SELECT sum(afp_landmark_count(fp)) FROM lm_conc) AS packed_every_landmark
FROM afp_index_stats('lm_conc_fp_idx');
SELECT rows, missing, orphaned FROM afp_index_check('lm_conc_fp_idx');
SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = 'lm_conc_fp_idx'::regclass;
SELECT i.clip, i.top_id AS by_index, s.top_id AS by_seqscan
FROM pg_temp.top_rows('lm_conc', true) i JOIN pg_temp.top_rows('lm_conc', false) s USING (clip)
WHERE i.clip <> 'unknown' ORDER BY i.clip;
INSERT INTO lm_conc SELECT n, fp FROM lm_audio WHERE n = 6;
SELECT rows, missing, orphaned FROM afp_index_check('lm_conc_fp_idx');
-- A second index, built concurrently, equally healthy.
CREATE INDEX CONCURRENTLY lm_conc_fp_idx2 ON lm_conc USING afp_landmark (fp);
SELECT rows, pending_postings, removed_postings FROM afp_index_stats('lm_conc_fp_idx2');
SELECT rows, missing, orphaned FROM afp_index_check('lm_conc_fp_idx2');
DROP TABLE lm_conc;
VACUUM lm_songs;
-- Rolled-back inserts (a transaction, a subtransaction): their postings stay until VACUUM, never
-- answered, never counted as orphaned while their heap tuples are there.
BEGIN;
SAVEPOINT s;
INSERT INTO lm_songs VALUES (301, 'rolled back to a savepoint', (SELECT fp FROM lm_audio WHERE n = 4));
ROLLBACK TO SAVEPOINT s;
INSERT INTO lm_songs VALUES (302, 'committed', (SELECT fp FROM lm_audio WHERE n = 5));
COMMIT;
BEGIN;
INSERT INTO lm_songs VALUES (300, 'rolled back', (SELECT fp FROM lm_audio WHERE n = 3));
INSERT INTO lm_songs VALUES (303, 'rolled back', (SELECT fp FROM lm_audio WHERE n = 6));
ROLLBACK;
SELECT rows, missing, orphaned FROM afp_index_check('lm_songs_fp_idx');
SET enable_seqscan = off;
SELECT count(*) AS index_rows_for_rolled_back
FROM lm_clips c, LATERAL (SELECT id FROM lm_songs ORDER BY fp <~> c.q LIMIT 10) m WHERE m.id IN (300, 301, 303);
RESET enable_seqscan;
SELECT packed_postings + pending_postings - (SELECT sum(afp_landmark_count(fp)) FROM lm_songs)
       = (SELECT sum(afp_landmark_count(fp)) FROM lm_audio WHERE n IN (3, 4, 6)) AS rolled_back_postings_held
FROM afp_index_stats('lm_songs_fp_idx');
VACUUM lm_songs;
SELECT packed_postings + pending_postings = (SELECT sum(afp_landmark_count(fp)) FROM lm_songs)
       AS vacuum_removed_rolled_back
FROM afp_index_stats('lm_songs_fp_idx');
SELECT rows, missing, orphaned FROM afp_index_check('lm_songs_fp_idx');
DELETE FROM lm_songs WHERE id = 302;
-- VACUUM FULL and CLUSTER rebuild the index through the build.
VACUUM FULL lm_songs;
SELECT s.rows AS indexed_rows, s.pending_postings, s.removed_postings, c.missing, c.orphaned
FROM afp_index_stats('lm_songs_fp_idx') s, afp_index_check('lm_songs_fp_idx') c;
INSERT INTO lm_songs VALUES (304, 'pending again', (SELECT fp FROM lm_audio WHERE n = 2));
CLUSTER lm_songs USING lm_songs_pkey;
SELECT s.rows AS indexed_rows, s.pending_postings, s.removed_postings, c.missing, c.orphaned
FROM afp_index_stats('lm_songs_fp_idx') s, afp_index_check('lm_songs_fp_idx') c;
CLUSTER lm_songs USING lm_songs_fp_idx;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM lm_songs WHERE id = 304;

-- 9. Settings of the scan: a row needs afp.index_min_votes aligned hashes to be returned.
SET enable_seqscan = off;
SET afp.index_min_votes = 1000;
SELECT count(*) AS rows_at_huge_min_votes
FROM lm_clips c, LATERAL (SELECT id FROM lm_songs ORDER BY fp <~> c.q LIMIT 5) m;
RESET afp.index_min_votes;
-- The smallest budget still finds a clip in its track.
SET afp.index_max_postings = 1000;
SELECT c.name, m.id FROM lm_clips c, LATERAL (SELECT id FROM lm_songs ORDER BY fp <~> c.q LIMIT 1) m
WHERE c.name = 'song1 at 12 s';
RESET afp.index_max_postings;
-- A NULL query (a parameter: a NULL constant folds the ORDER BY away) gets no row from the index,
-- where a sequential scan returns rows with a NULL distance.
SELECT count(*) AS index_rows_for_null_query FROM (SELECT id FROM lm_songs ORDER BY fp <~> (SELECT NULL::afp) LIMIT 3) s;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT count(*) AS seqscan_rows_for_null_query FROM (SELECT id FROM lm_songs ORDER BY fp <~> (SELECT NULL::afp) LIMIT 3) s;
RESET enable_indexscan;

-- 10. An empty table: the build, the stats, the check, a scan; then its first rows.
CREATE TABLE lm_empty (id int PRIMARY KEY, fp afp);
CREATE INDEX lm_empty_fp_idx ON lm_empty USING afp_landmark (fp);
SELECT rows, packed_postings, pending_postings, removed_postings, runs
FROM afp_index_stats('lm_empty_fp_idx');
SELECT * FROM afp_index_check('lm_empty_fp_idx');
SET enable_seqscan = off;
SELECT count(*) AS rows_in_empty_index FROM (SELECT id FROM lm_empty ORDER BY fp <~> (SELECT q FROM lm_clips WHERE name = 'song1 at 12 s') LIMIT 3) s;
INSERT INTO lm_empty SELECT n, fp FROM lm_audio;
SELECT rows, packed_postings, pending_postings > 0 AS pending FROM afp_index_stats('lm_empty_fp_idx');
SELECT rows, missing, orphaned FROM afp_index_check('lm_empty_fp_idx');
RESET enable_seqscan;
SELECT i.clip, i.top_id AS by_index, s.top_id AS by_seqscan
FROM pg_temp.top_rows('lm_empty', true) i JOIN pg_temp.top_rows('lm_empty', false) s USING (clip)
WHERE i.clip <> 'unknown' ORDER BY i.clip;
-- TRUNCATE rebuilds the index empty.
TRUNCATE lm_empty;
SELECT rows, packed_postings, pending_postings FROM afp_index_stats('lm_empty_fp_idx');
SELECT * FROM afp_index_check('lm_empty_fp_idx');
INSERT INTO lm_empty SELECT n, fp FROM lm_audio WHERE n = 2;
SELECT rows, missing, orphaned FROM afp_index_check('lm_empty_fp_idx');

-- 11. Only NULL fingerprints: nothing to index, nothing returned.
CREATE TABLE lm_nulls (id int PRIMARY KEY, fp afp);
INSERT INTO lm_nulls SELECT g, NULL FROM generate_series(1, 3) g;
CREATE INDEX lm_nulls_fp_idx ON lm_nulls USING afp_landmark (fp);
SELECT rows, packed_postings, pending_postings FROM afp_index_stats('lm_nulls_fp_idx');
SELECT * FROM afp_index_check('lm_nulls_fp_idx');
INSERT INTO lm_nulls VALUES (4, NULL);
SET enable_seqscan = off;
SELECT count(*) AS rows_returned FROM (SELECT id FROM lm_nulls ORDER BY fp <~> (SELECT q FROM lm_clips WHERE name = 'song1 at 12 s') LIMIT 3) s;
RESET enable_seqscan;
SELECT * FROM afp_index_check('lm_nulls_fp_idx');

-- 12. An unlogged table (its index has an init fork), then made logged.
CREATE UNLOGGED TABLE lm_unlogged (id int PRIMARY KEY, fp afp);
INSERT INTO lm_unlogged SELECT n, fp FROM lm_audio WHERE n <= 3;
CREATE INDEX lm_unlogged_fp_idx ON lm_unlogged USING afp_landmark (fp);
INSERT INTO lm_unlogged SELECT n, fp FROM lm_audio WHERE n > 3;
SELECT relpersistence FROM pg_class WHERE oid = 'lm_unlogged_fp_idx'::regclass;
SELECT rows, missing, orphaned FROM afp_index_check('lm_unlogged_fp_idx');
SELECT i.clip, i.top_id AS by_index, s.top_id AS by_seqscan
FROM pg_temp.top_rows('lm_unlogged', true) i JOIN pg_temp.top_rows('lm_unlogged', false) s USING (clip)
WHERE i.clip <> 'unknown' ORDER BY i.clip;
SELECT c.name, m.track_id FROM lm_clips c, LATERAL match_clip(c.audio, 'lm_unlogged', 1) m ORDER BY c.name;
ALTER TABLE lm_unlogged SET LOGGED;
SELECT relpersistence FROM pg_class WHERE oid = 'lm_unlogged_fp_idx'::regclass;
SELECT s.rows AS indexed_rows, s.pending_postings, c.missing, c.orphaned
FROM afp_index_stats('lm_unlogged_fp_idx') s, afp_index_check('lm_unlogged_fp_idx') c;

-- 13. A partitioned table: one index per partition, merged in order.
CREATE TABLE lm_parts (id int PRIMARY KEY, fp afp) PARTITION BY RANGE (id);
CREATE TABLE lm_parts_low PARTITION OF lm_parts FOR VALUES FROM (0) TO (4);
CREATE TABLE lm_parts_high PARTITION OF lm_parts FOR VALUES FROM (4) TO (100);
INSERT INTO lm_parts SELECT n, fp FROM lm_audio;
CREATE INDEX lm_parts_fp_idx ON lm_parts USING afp_landmark (fp);
SET enable_seqscan = off;
SET max_parallel_workers_per_gather = 0;
SET plan_cache_mode = force_generic_plan;
PREPARE lm_plan(afp) AS SELECT id FROM lm_parts ORDER BY fp <~> $1 LIMIT 3;
EXPLAIN (COSTS OFF) EXECUTE lm_plan(NULL);
DEALLOCATE lm_plan;
RESET plan_cache_mode;
RESET max_parallel_workers_per_gather;
RESET enable_seqscan;
SELECT i.clip, i.top_id AS by_index, s.top_id AS by_seqscan
FROM pg_temp.top_rows('lm_parts', true) i JOIN pg_temp.top_rows('lm_parts', false) s USING (clip)
WHERE i.clip <> 'unknown' ORDER BY i.clip;
SELECT c.relname, k.rows, k.missing, k.orphaned
FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid, afp_index_check(c.oid) k
WHERE h.inhparent = 'lm_parts_fp_idx'::regclass ORDER BY c.relname;
SELECT c.name, m.track_id FROM lm_clips c, LATERAL match_clip(c.audio, 'lm_parts', 1) m ORDER BY c.name;

-- 13b. A temporary table (local buffers), an expression index and a partial index.
CREATE TEMP TABLE lm_temp (id int PRIMARY KEY, fp afp);
INSERT INTO lm_temp SELECT n, fp FROM lm_audio WHERE n <= 3;
CREATE INDEX lm_temp_fp_idx ON lm_temp USING afp_landmark (fp);
CREATE INDEX lm_temp_head_idx ON lm_temp USING afp_landmark (afp_slice(fp, 0, 10));
CREATE INDEX lm_temp_late_idx ON lm_temp USING afp_landmark (fp) WHERE id > 2;
INSERT INTO lm_temp SELECT n, fp FROM lm_audio WHERE n > 3;
DELETE FROM lm_temp WHERE id = 4;
VACUUM lm_temp;
SELECT i.relname, s.rows AS indexed_rows, s.runs, s.pending_postings, c.missing, c.orphaned
FROM (VALUES ('lm_temp_fp_idx'), ('lm_temp_head_idx'), ('lm_temp_late_idx')) i(relname),
     afp_index_stats(i.relname::regclass) s, afp_index_check(i.relname::regclass) c ORDER BY 1;
SELECT i.clip, i.top_id AS by_index, s.top_id AS by_seqscan
FROM pg_temp.top_rows('lm_temp', true) i JOIN pg_temp.top_rows('lm_temp', false) s USING (clip)
WHERE i.clip <> 'unknown' ORDER BY i.clip;
SET enable_seqscan = off;
SET plan_cache_mode = force_generic_plan;
PREPARE lm_plan(afp) AS SELECT id FROM lm_temp ORDER BY afp_slice(fp, 0, 10) <~> $1 LIMIT 1;
EXPLAIN (COSTS OFF) EXECUTE lm_plan(NULL);
DEALLOCATE lm_plan;
RESET plan_cache_mode;
SELECT id FROM lm_temp ORDER BY afp_slice(fp, 0, 10) <~> (SELECT q FROM lm_clips WHERE name = 'song3 at 7.5 s') LIMIT 1;
RESET enable_seqscan;
DROP TABLE lm_temp;

-- 14. afp_index_check sees damage: rows changed while the index is not maintained (indisready
-- off, as a lost write would leave it). An insert it never got: its landmarks are missing. A row
-- deleted and vacuumed without it: its postings are orphaned.
CREATE TEMP TABLE lm_damaged (id int PRIMARY KEY, fp afp);
INSERT INTO lm_damaged SELECT n, fp FROM lm_audio WHERE n <= 3;
CREATE INDEX lm_damaged_fp_idx ON lm_damaged USING afp_landmark (fp);
UPDATE pg_index SET indisready = false WHERE indexrelid = 'lm_damaged_fp_idx'::regclass;
INSERT INTO lm_damaged SELECT n, fp FROM lm_audio WHERE n = 4;
DELETE FROM lm_damaged WHERE id = 1;
VACUUM lm_damaged;
UPDATE pg_index SET indisready = true WHERE indexrelid = 'lm_damaged_fp_idx'::regclass;
SELECT missing = (SELECT afp_landmark_count(fp) FROM lm_audio WHERE n = 4) AS row_4_missing,
       orphaned = (SELECT afp_landmark_count(fp) FROM lm_audio WHERE n = 1) AS row_1_orphaned
FROM afp_index_check('lm_damaged_fp_idx');
REINDEX INDEX lm_damaged_fp_idx;
SELECT missing, orphaned FROM afp_index_check('lm_damaged_fp_idx');
DROP TABLE lm_damaged;

-- 15. Errors, each with its SQLSTATE.
-- The index takes one option, directory_bits (0, or 4 to 24).
CREATE INDEX lm_bad_idx ON lm_songs USING afp_landmark (fp) WITH (fillfactor = 50);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX lm_bad_idx ON lm_songs USING afp_landmark (fp) WITH (lists = 100);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX lm_bad_idx ON lm_songs USING afp_landmark (fp) WITH (directory_bits = 25);
\echo :LAST_ERROR_SQLSTATE
ALTER INDEX lm_songs_fp_idx SET (fillfactor = 50);
\echo :LAST_ERROR_SQLSTATE
-- One afp column, no uniqueness, no other types.
CREATE INDEX lm_bad_idx ON lm_songs USING afp_landmark (fp, id);
\echo :LAST_ERROR_SQLSTATE
CREATE UNIQUE INDEX lm_bad_idx ON lm_songs USING afp_landmark (fp);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX lm_bad_idx ON lm_songs USING afp_landmark (title);
\echo :LAST_ERROR_SQLSTATE
-- The stats and the check take an afp_landmark index, nothing else.
CREATE INDEX lm_songs_gin_idx ON lm_songs USING gin (fp);
SELECT * FROM afp_index_stats('lm_songs_pkey');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM afp_index_stats('lm_songs_gin_idx');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM afp_index_check('lm_songs_pkey');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM afp_index_check('lm_songs_gin_idx');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM afp_index_stats('lm_songs');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM afp_index_check('lm_songs');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM afp_index_stats(NULL);
-- A landmark past frame 2^21 - 1 (9.3 hours) fits no posting: refused on insert and at build.
INSERT INTO lm_songs VALUES (200, 'too long', '1:1:8000:128:400000000:23341697@2097152');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO lm_songs VALUES (200, 'just fits', '1:1:8000:128:400000000:23341697@2097151');
SELECT rows, missing, orphaned FROM afp_index_check('lm_songs_fp_idx');
CREATE TABLE lm_long (id int, fp afp);
INSERT INTO lm_long VALUES (1, '1:1:8000:128:400000000:23341697@2097152');
CREATE INDEX lm_long_fp_idx ON lm_long USING afp_landmark (fp);
\echo :LAST_ERROR_SQLSTATE
-- The check reads the table: it needs SELECT on it.
SET client_min_messages = warning;
DROP ROLE IF EXISTS afp_regress_landmark;
RESET client_min_messages;
CREATE ROLE afp_regress_landmark;
SET ROLE afp_regress_landmark;
SELECT * FROM afp_index_check('lm_songs_fp_idx');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM afp_index_stats('lm_songs_fp_idx');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE afp_regress_landmark;

-- 16. The upgrade from 0.2.0 builds afp_tracks's index over the rows it already has, and
-- match_clip then searches with it. (The extension is dropped and made again: the fingerprints
-- wait in a table of text, which does not depend on the type; DROP EXTENSION ... CASCADE drops the
-- column fp of afp_tracks, a table of the user's since 0.7.0, and the table goes with DROP TABLE.)
CREATE TEMP TABLE lm_saved AS
SELECT a.n, a.title, a.fp::text AS fp, c.name, c.audio FROM lm_audio a LEFT JOIN lm_clips c ON c.expect_id = a.n;
DROP TABLE lm_songs, lm_empty, lm_nulls, lm_unlogged, lm_parts, lm_long, lm_audio, lm_clips;
SET client_min_messages = warning;
DROP EXTENSION afp CASCADE;
DROP TABLE afp_tracks;
RESET client_min_messages;
CREATE EXTENSION afp VERSION '0.2.0';
INSERT INTO afp_tracks (title, fp) SELECT title, fp::afp FROM lm_saved ORDER BY n;
SELECT count(*) AS landmark_indexes FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'afp_tracks'::regclass AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'afp_landmark');
ALTER EXTENSION afp UPDATE TO '0.3.0';
SELECT extversion FROM pg_extension WHERE extname = 'afp';
SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'afp_tracks'::regclass AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'afp_landmark');
SELECT s.rows AS indexed_rows, s.pending_postings, c.missing, c.orphaned
FROM afp_index_stats('afp_tracks_fp_landmark_idx') s, afp_index_check('afp_tracks_fp_landmark_idx') c;
SET afp.index_min_votes = 1000;
SELECT count(*) AS rows_when_the_index_returns_none FROM lm_saved s, LATERAL match_clip(s.audio) m WHERE s.audio IS NOT NULL;
RESET afp.index_min_votes;
SELECT s.name, m.title FROM lm_saved s, LATERAL match_clip(s.audio, max_results => 1) m WHERE s.audio IS NOT NULL ORDER BY s.name;
TRUNCATE afp_tracks;
SELECT rows, packed_postings, pending_postings FROM afp_index_stats('afp_tracks_fp_landmark_idx');
DROP TABLE lm_saved;
