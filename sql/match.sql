-- match_clip() and match_afp(): degraded clips find their track at the right offset; clips of
-- other audio, silence and noise find nothing; any table with an id and an afp column can be
-- the catalogue; the caller's privileges apply.
\i sql/include/fresh.psql

\i sql/include/songs.psql

INSERT INTO afp_tracks (title, fp, meta)
SELECT title, fingerprint(decode(audio, 'base64')), jsonb_build_object('fixture', title)
FROM (VALUES ('song1', :'song1'), ('song2', :'song2'), ('song3', :'song3'),
             ('song4', :'song4'), ('song5', :'song5'), ('song6', :'song6')) v(title, audio);
SELECT id, title, round(afp_duration(fp)::numeric, 1) AS seconds FROM afp_tracks ORDER BY id;

\set c1 `base64 -w0 "$AFP_FIXTURES/clip_song1_at_12s.ogg"`
\set c2 `base64 -w0 "$AFP_FIXTURES/clip_song2_at_11.25s_snr5.mp3"`
\set c3 `base64 -w0 "$AFP_FIXTURES/clip_song3_at_7.5s.wav"`
\set c5 `base64 -w0 "$AFP_FIXTURES/clip_song5_at_3s_quiet.flac"`
\set cu `base64 -w0 "$AFP_FIXTURES/clip_unknown.wav"`
\set silence `base64 -w0 "$AFP_FIXTURES/silence.wav"`
\set noise `base64 -w0 "$AFP_FIXTURES/noise.wav"`

CREATE TEMP TABLE clips (name text, expect_title text, expect_offset float8, audio bytea);
INSERT INTO clips VALUES
  ('song1 at 12 s, Ogg Vorbis',            'song1', 12.0,  decode(:'c1', 'base64')),
  ('song2 at 11.25 s, 5 dB SNR, MP3',      'song2', 11.25, decode(:'c2', 'base64')),
  ('song3 at 7.5 s, 16 kHz mono WAV',      'song3', 7.5,   decode(:'c3', 'base64')),
  ('song5 at 3 s, -30 dB, FLAC',           'song5', 3.0,   decode(:'c5', 'base64')),
  ('a song never ingested',                NULL,    NULL,  decode(:'cu', 'base64')),
  ('digital silence',                      NULL,    NULL,  decode(:'silence', 'base64')),
  ('white noise',                          NULL,    NULL,  decode(:'noise', 'base64'));

-- Best match per clip: right title, offset within 0.05 s, confident; nothing for the last three.
SELECT c.name, m.title, m.title IS NOT DISTINCT FROM c.expect_title AS right_track,
       abs(m.offset_s - c.expect_offset) < 0.05 AS offset_ok, m.confidence >= 0.5 AS confident,
       m.score >= current_setting('afp.min_shared_hashes')::int AS score_ok
FROM clips c LEFT JOIN LATERAL match_clip(c.audio, max_results => 1) m ON true
ORDER BY c.name;

-- Every row is consistent: time ranges inside the clip and the track, best first, bounded count.
SELECT bool_and(m.clip_start_s >= 0 AND m.clip_end_s <= 6 AND m.clip_start_s <= m.clip_end_s) AS clip_range_ok,
       bool_and(abs(m.track_start_s - (m.clip_start_s + m.offset_s)) < 1e-9) AS track_range_ok,
       bool_and(m.matched_s = m.clip_end_s - m.clip_start_s) AS matched_ok,
       bool_and(m.confidence BETWEEN 0 AND 1) AS confidence_in_range
FROM clips c, LATERAL match_clip(c.audio) m;
SELECT count(*) <= 2 AS at_most_two FROM clips c, LATERAL match_clip(c.audio, max_results => 2) m WHERE c.name LIKE 'song1%';

-- The same through match_afp, for clients that fingerprint elsewhere.
SELECT c.name, m.title, abs(m.offset_s - c.expect_offset) < 0.05 AS offset_ok
FROM clips c, LATERAL match_afp(fingerprint(c.audio)) m
WHERE c.expect_title IS NOT NULL ORDER BY c.name;

-- The index is what finds the candidates.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM afp_tracks WHERE fp % '1:1:8000:128:0:'::afp;
RESET enable_seqscan;

-- With the threshold raised above any score, nothing is reported; lowering confidence keeps the best.
SET afp.min_shared_hashes = 100000;
SELECT count(*) AS rows_at_huge_threshold FROM clips c, LATERAL match_clip(c.audio) m;
RESET afp.min_shared_hashes;

-- A user catalogue: integer primary key not called id, a title column, the afp column named anything.
CREATE TABLE my_music (track_no int PRIMARY KEY, title text, fingerprint_value afp);
INSERT INTO my_music SELECT 1000 + id, upper(title), fp FROM afp_tracks;
CREATE INDEX ON my_music USING gin (fingerprint_value);
SELECT c.name, m.track_id, m.title
FROM clips c, LATERAL match_clip(c.audio, 'my_music'::regclass, 1) m ORDER BY c.name;
-- Named notation passes the catalogue too.
SELECT track_id, title FROM match_clip((SELECT audio FROM clips WHERE name LIKE 'song3%'), catalog => 'my_music');
-- A view is a catalogue as well; without a title column the title is NULL.
CREATE VIEW my_music_ids AS SELECT track_no AS id, fingerprint_value FROM my_music;
SELECT track_id, title FROM match_clip((SELECT audio FROM clips WHERE name LIKE 'song3%'), 'my_music_ids'::regclass);

-- Catalogues match_clip cannot use.
CREATE TABLE no_fp (id int, title text);
SELECT * FROM match_clip((SELECT audio FROM clips LIMIT 1), 'no_fp'::regclass);
CREATE TABLE two_fp (id int, a afp, b afp);
SELECT * FROM match_clip((SELECT audio FROM clips LIMIT 1), 'two_fp'::regclass);
CREATE TABLE no_id (name text, fp afp);
SELECT * FROM match_clip((SELECT audio FROM clips LIMIT 1), 'no_id'::regclass);
SELECT * FROM match_clip((SELECT audio FROM clips LIMIT 1), 4000000000::oid::regclass);

-- The caller's privileges apply: no SELECT on the catalogue, no answer.
CREATE ROLE afp_regress_reader;
GRANT SELECT ON clips TO afp_regress_reader;
SET ROLE afp_regress_reader;
SELECT * FROM match_clip((SELECT audio FROM clips LIMIT 1), 'my_music'::regclass);
SELECT * FROM match_clip((SELECT audio FROM clips LIMIT 1));
RESET ROLE;
GRANT SELECT ON my_music TO afp_regress_reader;
SET ROLE afp_regress_reader;
SELECT count(*) AS rows_with_privilege FROM match_clip((SELECT audio FROM clips WHERE name LIKE 'song1%'), 'my_music'::regclass);
RESET ROLE;
REVOKE ALL ON my_music, clips FROM afp_regress_reader;
DROP ROLE afp_regress_reader;

-- max_results must be positive.
SELECT * FROM match_clip((SELECT audio FROM clips LIMIT 1), max_results => 0);
-- A number in the catalogue's place names no catalogue, and the hint says how to pass max_results.
SELECT * FROM match_clip((SELECT audio FROM clips LIMIT 1), 3);
SELECT * FROM match_afp('1:1:8000:128:0:', 'afp_tracks', -1);

DROP VIEW my_music_ids;
DROP TABLE my_music, no_fp, two_fp, no_id;
