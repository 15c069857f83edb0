-- The GIN operator class: the index answers exactly like a sequential scan, for both operators
-- and several thresholds, and EXPLAIN shows it is used.
\i sql/include/fresh.psql

\i sql/include/songs.psql
\set clip1 `base64 -w0 "$AFP_FIXTURES/clip_song1_at_12s.ogg"`
\set clip2 `base64 -w0 "$AFP_FIXTURES/clip_song2_at_11.25s_snr5.mp3"`
\set clip3 `base64 -w0 "$AFP_FIXTURES/clip_song3_at_7.5s.wav"`
\set clipu `base64 -w0 "$AFP_FIXTURES/clip_unknown.wav"`

CREATE TABLE gin_tracks (id int PRIMARY KEY, fp afp NOT NULL);
INSERT INTO gin_tracks VALUES
  (1, fingerprint(decode(:'song1', 'base64'))), (2, fingerprint(decode(:'song2', 'base64'))),
  (3, fingerprint(decode(:'song3', 'base64'))), (4, fingerprint(decode(:'song4', 'base64'))),
  (5, fingerprint(decode(:'song5', 'base64'))), (6, fingerprint(decode(:'song6', 'base64')));
-- Padding rows made from the real fingerprints' hashes shifted into other landmarks, so the
-- index holds many posting lists and the planner has a reason to use it. A hash is parameter set 1
-- in the top byte, then f1 | df + 128 | dt; shifting its index in the space f1 144..368, df + 128
-- 1..255, dt 1..63 by k keeps it a hash the parameter set can produce (target bin inside 16..496).
CREATE FUNCTION pg_temp.shifted(h int, k int) RETURNS int LANGUAGE sql IMMUTABLE AS $$
  SELECT 16777216 + ((144 + j / 16065) << 15) + ((1 + (j / 63) % 255) << 7) + 1 + j % 63
  FROM (SELECT ((((h >> 15) & 511) - 16)::bigint * 16065 + (((h >> 7) & 255) - 1) * 63 + (h & 127) - 1 + k) % 3614625 AS j) s $$;
INSERT INTO gin_tracks
SELECT 100 + g, ('1:1:8000:128:160000:' ||
        (SELECT string_agg(h::text || '@' || (i % 1200)::text, ',' ORDER BY h)
         FROM (SELECT DISTINCT pg_temp.shifted(x, g * 7919) AS h, row_number() OVER () AS i
               FROM unnest(afp_hashes(t.fp)) x) s))::afp
FROM gin_tracks t, generate_series(1, 50) g WHERE t.id = 1 + g % 6;

CREATE TABLE gin_queries (name text, fp afp);
INSERT INTO gin_queries VALUES
  ('clip1', fingerprint(decode(:'clip1', 'base64'))), ('clip2', fingerprint(decode(:'clip2', 'base64'))),
  ('clip3', fingerprint(decode(:'clip3', 'base64'))), ('unknown', fingerprint(decode(:'clipu', 'base64'))),
  ('empty', '1:1:8000:128:0:');

CREATE INDEX gin_tracks_fp ON gin_tracks USING gin (fp);
ANALYZE gin_tracks;

-- Sequential scan answers, kept for comparison.
SET enable_indexscan = off; SET enable_bitmapscan = off;
CREATE TEMP TABLE seq_answers AS
SELECT q.name, s.k, 'overlap' AS op, t.id FROM gin_queries q, gin_tracks t, (VALUES (0)) s(k) WHERE t.fp && q.fp
UNION ALL
SELECT q.name, s.k, 'shares', t.id FROM gin_queries q, (VALUES (1), (8), (30)) s(k),
  LATERAL (SELECT set_config('afp.min_shared_hashes', s.k::text, true)) c, gin_tracks t
  WHERE afp_shared_hashes(t.fp, q.fp) >= s.k;
RESET enable_indexscan; RESET enable_bitmapscan;

SET enable_seqscan = off;
-- The query's fingerprint as a client sends it: a parameter, in a generic plan (a subquery's
-- InitPlan would print differently from PostgreSQL 17 on).
SET plan_cache_mode = force_generic_plan;
PREPARE gin_shares(afp) AS SELECT id FROM gin_tracks WHERE fp && $1;
PREPARE gin_similar(afp) AS SELECT id FROM gin_tracks WHERE fp % $1;
EXPLAIN (COSTS OFF) EXECUTE gin_shares(NULL);
EXPLAIN (COSTS OFF) EXECUTE gin_similar(NULL);
DEALLOCATE gin_shares;
DEALLOCATE gin_similar;
RESET plan_cache_mode;

-- Index answers for each operator and threshold, then the difference from the sequential scan.
CREATE TEMP TABLE index_answers (name text, k int, op text, id int);
DO $$
DECLARE q record; k int;
BEGIN
  FOR q IN SELECT name, fp FROM gin_queries LOOP
    INSERT INTO index_answers SELECT q.name, 0, 'overlap', id FROM gin_tracks WHERE fp && q.fp;
    FOREACH k IN ARRAY ARRAY[1, 8, 30] LOOP
      PERFORM set_config('afp.min_shared_hashes', k::text, true);
      INSERT INTO index_answers SELECT q.name, k, 'shares', id FROM gin_tracks WHERE fp % q.fp;
    END LOOP;
  END LOOP;
END $$;
RESET enable_seqscan;

SELECT name, op, k, count(*) AS rows_found FROM index_answers GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT 'only in index' AS side, * FROM (TABLE index_answers EXCEPT TABLE seq_answers) d
UNION ALL
SELECT 'only in seqscan', * FROM (TABLE seq_answers EXCEPT TABLE index_answers) d;

-- The clips find their own song through the index at the default threshold.
SET enable_seqscan = off;
SELECT q.name, array_agg(t.id ORDER BY t.id) AS tracks
FROM gin_queries q JOIN gin_tracks t ON t.fp % q.fp AND t.id < 100
GROUP BY q.name ORDER BY q.name;
RESET enable_seqscan;

DROP TABLE gin_tracks, gin_queries;
