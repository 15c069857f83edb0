-- Duplicates by audio (0.7.0): afp_shared_audio() finds the catalogue tracks a fingerprint shares
-- audio with, afp_duplicates() every pair of catalogue tracks that do, through the index.
\i sql/include/fresh.psql
\set ECHO none
\i sql/include/songs.psql
\set excerpt `base64 -w0 "$AFP_FIXTURES/clip_song3_at_7.5s.wav"`
\set radio `base64 -w0 "$AFP_FIXTURES/radio_song2_song5.ogg"`
\set ECHO all
-- The same recording twice (song1), an excerpt of song3 (5 s from 7.5 s), a recording that plays
-- song2 then song5, and tracks that share nothing.
INSERT INTO afp_tracks (title, fp) VALUES
  ('song1', fingerprint(decode(:'song1', 'base64'))), ('song2', fingerprint(decode(:'song2', 'base64'))),
  ('song3', fingerprint(decode(:'song3', 'base64'))), ('song4', fingerprint(decode(:'song4', 'base64'))),
  ('song5', fingerprint(decode(:'song5', 'base64'))), ('song6', fingerprint(decode(:'song6', 'base64'))),
  ('song1 again', fingerprint(decode(:'song1', 'base64'))),
  ('song3 excerpt', fingerprint(decode(:'excerpt', 'base64'))),
  ('radio', fingerprint(decode(:'radio', 'base64')));

SELECT d.track_id, a.title, d.other_id, b.title AS other_title, round(d.track_start_s::numeric) AS track_start_s,
       round(d.other_start_s::numeric) AS other_start_s, round(d.shared_s::numeric) AS shared_s,
       round(d.track_s::numeric) AS track_s, round(d.other_s::numeric) AS other_s
FROM afp_duplicates(min_shared_s => 3) d JOIN afp_tracks a ON a.id = d.track_id JOIN afp_tracks b ON b.id = d.other_id
ORDER BY 1, 3;
-- The default keeps pairs sharing 10 s or more: the 5 s excerpt is left out.
SELECT track_id, other_id FROM afp_duplicates() ORDER BY 1, 2;

-- A new file's fingerprint against the catalogue (what afp-ingest --skip-duplicates asks).
SELECT track_id, title, round(start_s::numeric) AS start_s, round(end_s::numeric) AS end_s,
       round(track_start_s::numeric) AS track_start_s, windows, confidence > 0.5 AS confident
FROM afp_shared_audio(fingerprint(decode(:'song3', 'base64'))) ORDER BY track_id;
SELECT count(*) AS shares_with_nothing FROM afp_shared_audio(fingerprint(decode(:'song4', 'base64'))) WHERE title <> 'song4';

-- Windows that agree on an alignment to within a few frames are one stretch, wherever the
-- alignment falls: song3 from 6.48 s, then (6.4 s into the query) from 6.512 s, two frames later,
-- as a copy resampled or re-encoded drifts. (Alignments were binned by rounding to whole seconds:
-- 6.48 and 6.512 fell apart, and each window counted alone.)
CREATE TEMP TABLE song3_landmarks AS
SELECT hash, round(t_s / 0.016)::int AS frame FROM afp_landmarks((SELECT fp FROM afp_tracks WHERE title = 'song3'));
SELECT ('1:1:8000:128:108000:' || string_agg(hash || '@' || q, ',' ORDER BY hash, q)) AS drifting
FROM (SELECT hash, frame - 405 AS q FROM song3_landmarks WHERE frame >= 405 AND frame < 805
      UNION ALL SELECT hash, frame - 407 FROM song3_landmarks WHERE frame >= 807 AND frame < 1237) x \gset
SELECT title, round(start_s::numeric) AS start_s, round(end_s::numeric) AS end_s,
       round(track_start_s::numeric) AS track_start_s, windows
FROM afp_shared_audio(:'drifting') WHERE title = 'song3';

-- Any catalogue, by its rule; bad windows are refused.
CREATE TABLE dup_music (n int PRIMARY KEY, name text, sound afp);
INSERT INTO dup_music SELECT id * 10, title, fp FROM afp_tracks WHERE title IN ('song2', 'radio', 'song4');
SELECT track_id, other_id, round(shared_s::numeric) AS shared_s FROM afp_duplicates('dup_music');
SELECT * FROM afp_shared_audio(fingerprint(decode(:'song4', 'base64')), window_s => 'NaN');
SELECT * FROM afp_shared_audio(fingerprint(decode(:'song4', 'base64')), hop_s => 0.5);
DROP TABLE dup_music;
