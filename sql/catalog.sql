-- Catalogue operations (afp 0.2.0 and on): the upgrade from 0.1.0 to the default version, afp_catalog_stats(), afp_slice(),
-- match_segments() on a long recording, deleting and re-fingerprinting tracks.

-- The upgrade path: install the first version (this file stands alone: whatever ran before is
-- dropped), update, find the new functions.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS afp CASCADE;
DROP TABLE IF EXISTS afp_tracks;
RESET client_min_messages;
CREATE EXTENSION afp VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'afp';
SELECT to_regprocedure('afp_catalog_stats(regclass)') IS NULL AS stats_absent_in_0_1_0;
ALTER EXTENSION afp UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'afp';
SELECT p.oid::regprocedure AS added_in_0_2_0
FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'afp') AND d.deptype = 'e'
  AND p.proname IN ('afp_slice', 'afp_catalog_stats', 'afp_catalog_column', 'match_segments')
ORDER BY p.oid::regprocedure::text;

\set ECHO none
\i sql/include/songs.psql
\set radio `base64 -w0 "$AFP_FIXTURES/radio_song2_song5.ogg"`
\set ECHO all
INSERT INTO afp_tracks (title, fp) VALUES
  ('song1', fingerprint(decode(:'song1', 'base64'))), ('song2', fingerprint(decode(:'song2', 'base64'))),
  ('song3', fingerprint(decode(:'song3', 'base64'))), ('song4', fingerprint(decode(:'song4', 'base64'))),
  ('song5', fingerprint(decode(:'song5', 'base64'))), ('song6', fingerprint(decode(:'song6', 'base64')));

-- Stats: six 20 s songs.
SELECT tracks, round(hours::numeric * 3600) AS seconds, landmarks = (SELECT sum(afp_landmark_count(fp)) FROM afp_tracks) AS landmarks_add_up,
       landmarks_per_second BETWEEN 20 AND 150 AS density_plausible, table_bytes > 0 AS has_table, index_bytes > 0 AS has_index,
       param_sets
FROM afp_catalog_stats();
SELECT tracks, hours, landmarks, param_sets FROM afp_catalog_stats((SELECT 'afp_tracks'::regclass));
CREATE TABLE no_fp (id int PRIMARY KEY);
SELECT * FROM afp_catalog_stats('no_fp');
DROP TABLE no_fp;

-- afp_slice: the landmarks of a stretch, times relative to its start.
SELECT afp_landmark_count(afp_slice(fp, 0, 1000)) = afp_landmark_count(fp) AS whole,
       afp_landmark_count(afp_slice(fp, 5, 5)) AS empty,
       afp_landmark_count(afp_slice(fp, 0, 10)) + afp_landmark_count(afp_slice(fp, 10, 1000)) = afp_landmark_count(fp) AS halves_add_up,
       (SELECT max(t_s) FROM afp_landmarks(afp_slice(fp, 10, 15))) < 5 AS relative_times
FROM afp_tracks WHERE title = 'song3';
SELECT afp_slice(fp, 3, 1) FROM afp_tracks WHERE title = 'song3';
SELECT afp_slice(fp, -1, 1) FROM afp_tracks WHERE title = 'song3';

-- A slice of a track is found in it, where it was cut.
SELECT m.title, round(m.offset_s::numeric, 1) AS offset_s
FROM afp_tracks t, match_afp(afp_slice(t.fp, 7, 13)) m WHERE t.title = 'song4';

-- match_segments: a recording of song2 (2-14 s) then 3 s of noise then song5 (5-17 s).
SELECT title, round(start_s::numeric) AS start_s, round(end_s::numeric) AS end_s,
       round(track_start_s::numeric) AS track_start_s, confidence > 0.5 AS confident
FROM match_segments(decode(:'radio', 'base64'), 'afp_tracks', 6, 3);
SELECT * FROM match_segments(decode(:'radio', 'base64'), 'afp_tracks', 0.5, 3);
-- Values whose loop would never end (NaN compares above every number, infinities pass every
-- lower bound) or would run a window per sample, and windows beyond afp.max_clip_seconds.
SELECT * FROM match_segments(decode(:'radio', 'base64'), window_s => 'Infinity', hop_s => 'Infinity');
SELECT * FROM match_segments(decode(:'radio', 'base64'), window_s => 'NaN');
SELECT * FROM match_segments(decode(:'radio', 'base64'), hop_s => 'NaN');
SELECT * FROM match_segments(decode(:'radio', 'base64'), hop_s => 1e-9);
SELECT * FROM match_segments(decode(:'radio', 'base64'), window_s => 1e308);
SELECT * FROM match_segments(decode(:'radio', 'base64'), window_s => 61, hop_s => 10);

-- Deleting a track takes it out of the answers; re-fingerprinting puts it back.
DELETE FROM afp_tracks WHERE title = 'song2';
SELECT count(*) AS song2_segments FROM match_segments(decode(:'radio', 'base64'), 'afp_tracks', 6, 3) WHERE title = 'song2';
INSERT INTO afp_tracks (title, fp) VALUES ('song2', fingerprint(decode(:'song2', 'base64')));
UPDATE afp_tracks SET fp = fingerprint(decode(:'song2', 'base64')) WHERE title = 'song2';
SELECT title FROM match_segments(decode(:'radio', 'base64'), 'afp_tracks', 6, 3) ORDER BY start_s;
TRUNCATE afp_tracks;
