-- The afp_landmark index's runs and merges (0.6.0): inserts past the pending limit merge the
-- pending postings into runs, VACUUM and afp_index_merge() fold everything into one run, and a
-- catalogue answers the same (rows, scores, offsets, confidences) whatever state its index is in:
-- every posting pending, in several runs, merged, rebuilt. Prints no page counts.
\i sql/include/fresh.psql

\set ECHO none
\i sql/include/songs.psql
\i sql/include/clips.psql
\set ECHO all

CREATE TABLE mg_audio (n int PRIMARY KEY, fp afp);
INSERT INTO mg_audio
SELECT n, fingerprint(decode(a, 'base64'))
FROM (VALUES (1, :'song1'), (2, :'song2'), (3, :'song3'), (4, :'song4'), (5, :'song5'), (6, :'song6')) v(n, a);
CREATE TABLE mg_clips (name text PRIMARY KEY, audio bytea);
INSERT INTO mg_clips VALUES
  ('song1 at 12 s', decode(:'c1', 'base64')), ('song2 at 11.25 s', decode(:'c2', 'base64')),
  ('song3 at 7.5 s', decode(:'c3', 'base64')), ('song3 tempo 1.05', decode(:'c3t', 'base64')),
  ('song5 at 3 s', decode(:'c5', 'base64')), ('unknown', decode(:'cu', 'base64'));

-- A catalogue of 72 rows (the six songs, each twelve times under other ids), indexed while empty,
-- as CREATE EXTENSION leaves afp_tracks, in two tables: in one the pending limit is high enough
-- that every posting stays pending, in the other inserts merge into runs as they go.
CREATE TABLE mg_pending (id int PRIMARY KEY, title text, fp afp);
CREATE INDEX mg_pending_fp_idx ON mg_pending USING afp_landmark (fp) WITH (pending_limit = 100000);
CREATE TABLE mg_songs (id int PRIMARY KEY, title text, fp afp);
CREATE INDEX mg_songs_fp_idx ON mg_songs USING afp_landmark (fp) WITH (pending_limit = 64);
ALTER TABLE mg_pending SET (autovacuum_enabled = off);
ALTER TABLE mg_songs SET (autovacuum_enabled = off);
DO $$ BEGIN
  FOR k IN 0..11 LOOP
    INSERT INTO mg_pending SELECT k * 10 + n, 'song' || n, fp FROM mg_audio;
    INSERT INTO mg_songs SELECT k * 10 + n, 'song' || n, fp FROM mg_audio;
  END LOOP;
END $$;
SELECT 'pending' AS tab, rows, packed_postings, pending_postings > 0 AS has_pending, runs
FROM afp_index_stats('mg_pending_fp_idx')
UNION ALL
SELECT 'runs', rows, packed_postings, pending_postings * 12 < 64 * 1024, runs
FROM afp_index_stats('mg_songs_fp_idx');
SELECT runs > 1 AS several_runs FROM afp_index_stats('mg_songs_fp_idx');

-- Every clip's answer, with the exact values a user sees.
CREATE FUNCTION pg_temp.answers(state text, catalog regclass)
RETURNS TABLE (state text, clip text, track_id bigint, score int, offset_s numeric, confidence numeric, speed numeric)
LANGUAGE sql AS $$
  SELECT state, c.name, m.track_id, m.score, round(m.offset_s::numeric, 3), round(m.confidence::numeric, 6),
         round(m.speed::numeric, 3)
  FROM mg_clips c LEFT JOIN LATERAL match_clip(c.audio, catalog, 3) m ON true
$$;
CREATE TEMP TABLE mg_answers AS SELECT * FROM pg_temp.answers('all pending', 'mg_pending');
SELECT clip, track_id % 10 AS song, score > 0 AS scored, offset_s, confidence >= 0.5 AS confident
FROM mg_answers ORDER BY clip, score DESC, track_id;
INSERT INTO mg_answers SELECT * FROM pg_temp.answers('runs', 'mg_songs');
SELECT * FROM afp_index_check('mg_pending_fp_idx');
SELECT * FROM afp_index_check('mg_songs_fp_idx');

-- Merged by hand, then by VACUUM after a delete, then rebuilt: nothing pending; a full merge
-- writes slices of the mix space, a run each (8 here), a build one run.
SELECT afp_index_merge('mg_songs_fp_idx') = (SELECT sum(afp_landmark_count(fp)) FROM mg_songs) AS merged_every_posting;
SELECT runs, pending_postings FROM afp_index_stats('mg_songs_fp_idx');
INSERT INTO mg_answers SELECT * FROM pg_temp.answers('merged', 'mg_songs');
INSERT INTO mg_songs SELECT 1000 + n, 'late' || n, fp FROM mg_audio WHERE n = 1;
DELETE FROM mg_songs WHERE id = 1001;
VACUUM mg_songs;
SELECT runs, pending_postings, packed_postings = (SELECT sum(afp_landmark_count(fp)) FROM mg_songs) AS only_live_postings
FROM afp_index_stats('mg_songs_fp_idx');
INSERT INTO mg_answers SELECT * FROM pg_temp.answers('vacuumed', 'mg_songs');
REINDEX INDEX mg_songs_fp_idx;
INSERT INTO mg_answers SELECT * FROM pg_temp.answers('rebuilt', 'mg_songs');
SELECT * FROM afp_index_check('mg_songs_fp_idx');

-- The promise: the same rows, scores, offsets and confidences in every state.
SELECT state, count(*) AS answers_differing_from_all_pending FROM (
  SELECT a.state, a.clip, a.track_id, a.score, a.offset_s, a.confidence, a.speed FROM mg_answers a WHERE a.state <> 'all pending'
  EXCEPT ALL
  SELECT s.state, p.clip, p.track_id, p.score, p.offset_s, p.confidence, p.speed
  FROM mg_answers p CROSS JOIN (SELECT DISTINCT state FROM mg_answers WHERE state <> 'all pending') s
  WHERE p.state = 'all pending') d
GROUP BY state ORDER BY state;
SELECT state, count(*) AS answers FROM mg_answers GROUP BY state ORDER BY state;

-- Space comes back: the free space map takes the pages of merged runs, and new runs reuse them.
-- A cycle of inserts and deletes, then VACUUM, leaves the file at a size the next cycle keeps.
ALTER INDEX mg_songs_fp_idx SET (pending_limit = 64);
CREATE FUNCTION pg_temp.churn() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..5 LOOP
    INSERT INTO mg_songs SELECT 2000 + i * 10 + n, 'again', fp FROM mg_audio;
    DELETE FROM mg_songs WHERE id BETWEEN 2000 + i * 10 AND 2000 + i * 10 + 9;
  END LOOP;
END $$;
SELECT pg_temp.churn();
VACUUM mg_songs;
SELECT pg_temp.churn();
VACUUM mg_songs;
SELECT pg_relation_size('mg_songs_fp_idx') AS size_after_two \gset
SELECT pg_temp.churn();
VACUUM mg_songs;
SELECT pg_temp.churn();
VACUUM mg_songs;
SELECT pg_relation_size('mg_songs_fp_idx') <= :size_after_two * 1.05 AS size_kept, s.runs, s.pending_postings
FROM afp_index_stats('mg_songs_fp_idx') s;
SELECT * FROM afp_index_check('mg_songs_fp_idx');

-- A parallel build (max_parallel_maintenance_workers) writes the serial build's index, byte for byte
-- in what it holds: the same run, the same answers.
CREATE INDEX mg_serial ON mg_pending USING afp_landmark (fp);
SET max_parallel_maintenance_workers = 2;
SET maintenance_work_mem = '256MB';
SET min_parallel_table_scan_size = 0;
ALTER TABLE mg_pending SET (parallel_workers = 2);
SET client_min_messages = debug1;
CREATE INDEX mg_parallel ON mg_pending USING afp_landmark (fp);
RESET client_min_messages;
RESET max_parallel_maintenance_workers;
RESET maintenance_work_mem;
RESET min_parallel_table_scan_size;
SELECT s.rows = p.rows AS same_rows, s.packed_postings = p.packed_postings AS same_postings,
       s.buckets = p.buckets AS same_buckets, s.largest_bucket = p.largest_bucket AS same_largest, s.pages = p.pages AS same_pages
FROM afp_index_stats('mg_serial') s, afp_index_stats('mg_parallel') p;
SELECT * FROM afp_index_check('mg_parallel');
DROP INDEX mg_serial, mg_pending_fp_idx;
SELECT count(*) AS answers_differing_from_the_serial_build FROM (
  SELECT clip, track_id, score, offset_s, confidence, speed FROM pg_temp.answers('parallel', 'mg_pending')
  EXCEPT ALL
  SELECT clip, track_id, score, offset_s, confidence, speed FROM mg_answers WHERE state = 'all pending') d;

-- Options and errors.
CREATE INDEX mg_bad ON mg_songs USING afp_landmark (fp) WITH (pending_limit = -2);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX mg_bad ON mg_songs USING afp_landmark (fp) WITH (pending_limit = 'x');
\echo :LAST_ERROR_SQLSTATE
-- (by SQLSTATE: the message's range gained units in PostgreSQL 17)
\set VERBOSITY sqlstate
SET afp.index_pending_limit = 10;
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
SET afp.index_pending_limit = '1MB';
SHOW afp.index_pending_limit;
RESET afp.index_pending_limit;
SELECT afp_index_merge('mg_songs');
\echo :LAST_ERROR_SQLSTATE
SELECT afp_index_merge('mg_songs_pkey');
\echo :LAST_ERROR_SQLSTATE
SELECT afp_index_merge(NULL);
CREATE ROLE mg_reader;
GRANT SELECT ON mg_songs TO mg_reader;
SET ROLE mg_reader;
SELECT afp_index_merge('mg_songs_fp_idx');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT EXECUTE ON FUNCTION afp_index_merge(regclass) TO mg_reader;
SET ROLE mg_reader;
SELECT afp_index_merge('mg_songs_fp_idx');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE ALL ON mg_songs FROM mg_reader;
REVOKE EXECUTE ON FUNCTION afp_index_merge(regclass) FROM mg_reader;
DROP ROLE mg_reader;

DROP TABLE mg_songs, mg_pending, mg_audio, mg_clips;
