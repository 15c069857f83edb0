-- Recall guard: a small accuracy benchmark on the generated fixtures (scripts/bench-accuracy is the
-- full one, on real music). Every condition must keep at least the recall it had when this test
-- was written, and clips of a song that is not in the catalogue must never match.
\i sql/include/fresh.psql
\set ECHO none
\i sql/include/songs.psql
\set manifest `cat "$AFP_FIXTURES/accuracy.csv"`
\set ECHO all
CREATE TABLE accuracy_tracks (id int PRIMARY KEY, title text, fp afp);
INSERT INTO accuracy_tracks VALUES
  (1, 'song1', fingerprint(decode(:'song1', 'base64'))), (2, 'song2', fingerprint(decode(:'song2', 'base64'))),
  (3, 'song3', fingerprint(decode(:'song3', 'base64'))), (4, 'song4', fingerprint(decode(:'song4', 'base64'))),
  (5, 'song5', fingerprint(decode(:'song5', 'base64'))), (6, 'song6', fingerprint(decode(:'song6', 'base64')));
CREATE INDEX ON accuracy_tracks USING gin (fp afp_ops);

CREATE TEMP TABLE accuracy_clips AS
SELECT split_part(line, ',', 1) AS song, split_part(line, ',', 2)::float8 AS offset_s,
       split_part(line, ',', 3) AS condition, decode(split_part(line, ',', 4), 'base64') AS audio
FROM regexp_split_to_table(:'manifest', E'\n') WITH ORDINALITY AS l(line, n)
WHERE n > 1 AND line <> '';

CREATE TEMP TABLE accuracy_answers AS
SELECT c.song, c.offset_s, c.condition, m.title, m.offset_s AS found_at, m.speed
FROM accuracy_clips c LEFT JOIN LATERAL match_clip(c.audio, 'accuracy_tracks', 1) m ON true;

-- Floors: the right answers (track and offset within 0.1 s) out of 12 clips per condition, as
-- measured when this guard was written. Raise them when recall improves.
SELECT a.condition,
       count(*) FILTER (WHERE a.song <> 'unknown') AS clips,
       count(*) FILTER (WHERE a.title = a.song AND abs(a.found_at - a.offset_s) <= 0.1) >= f.floor AS recall_holds,
       count(*) FILTER (WHERE a.song = 'unknown' AND a.title IS NOT NULL) AS false_positives
FROM accuracy_answers a
JOIN (VALUES ('clean', 12), ('white noise 5 dB', 12), ('white noise 0 dB', 12), ('white noise -5 dB', 7),
             ('speed +3%', 12), ('8 kHz mono -30 dB', 12)) AS f(condition, floor) USING (condition)
GROUP BY a.condition, f.floor
ORDER BY a.condition;

-- The speed search reports the speed it matched at, and is what finds the sped-up clips.
SELECT condition,
       bool_and(CASE WHEN condition = 'speed +3%' THEN speed BETWEEN 1.02 AND 1.04 ELSE speed = 1 END) AS speed_as_expected
FROM accuracy_answers WHERE title IS NOT NULL GROUP BY condition ORDER BY condition;
SET afp.max_speed_change = 0;
SELECT count(m.*) AS found_without_speed_search
FROM accuracy_clips c LEFT JOIN LATERAL match_clip(c.audio, 'accuracy_tracks', 1) m ON true
WHERE c.condition = 'speed +3%';
RESET afp.max_speed_change;

DROP TABLE accuracy_tracks;
