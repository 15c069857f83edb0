-- Clips time-stretched with their pitch kept, or pitch-shifted with their tempo kept (0.4.0):
-- nothing matches them as recorded or at any playback speed; the afp_landmark index's tempo and
-- pitch renditions find their track at the right place and report the factor. Without an
-- afp_landmark index (the GIN path) and with the searches turned off, they are not found.
-- Self-contained: its own tables, dropped at the end.
\i sql/include/fresh.psql

\set ECHO none
\i sql/include/songs.psql
\set tempo `base64 -w0 "$AFP_FIXTURES/clip_song3_tempo_1.05_at_6s.wav"`
\set pitch `base64 -w0 "$AFP_FIXTURES/clip_song3_pitch_up_1_at_6s.wav"`
\set ECHO all

CREATE TABLE rd_tracks (id int PRIMARY KEY, title text, fp afp);
INSERT INTO rd_tracks
SELECT n, 'song' || n, fingerprint(decode(a, 'base64'))
FROM (VALUES (1, :'song1'), (2, :'song2'), (3, :'song3'), (4, :'song4'), (5, :'song5'), (6, :'song6')) v(n, a);
CREATE INDEX rd_tracks_lm ON rd_tracks USING afp_landmark (fp);
CREATE TABLE rd_clips (name text PRIMARY KEY, audio bytea);
INSERT INTO rd_clips VALUES ('tempo 1.05', decode(:'tempo', 'base64')), ('pitch +1 semitone', decode(:'pitch', 'base64'));

-- Found, with the factor that undid the change; offset_s is where the clip starts in the track.
-- The tempo grid has 0.5% steps: 1.05 or a neighbour.
SELECT c.name, m.track_id, round(m.offset_s::numeric, 1) AS offset_s, m.speed,
       abs(m.tempo - (CASE WHEN c.name LIKE 'tempo%' THEN 1.05 ELSE 1 END)) <= 0.0051 AS tempo_right,
       round(m.pitch::numeric, 4) AS pitch, m.confidence > 0.9 AS confident
FROM rd_clips c, match_clip(c.audio, 'rd_tracks', 1) m ORDER BY c.name;

-- Turned off, nothing else explains them: no row.
SET afp.max_tempo_change = 0;
SET afp.max_pitch_change = 0;
SELECT c.name, count(m.track_id) AS rows FROM rd_clips c LEFT JOIN LATERAL match_clip(c.audio, 'rd_tracks', 1) m ON true
GROUP BY c.name ORDER BY c.name;
RESET afp.max_tempo_change;
RESET afp.max_pitch_change;

-- The GIN path tries speeds only.
SET afp.use_landmark_index = off;
SELECT c.name, count(m.track_id) AS rows FROM rd_clips c LEFT JOIN LATERAL match_clip(c.audio, 'rd_tracks', 1) m ON true
GROUP BY c.name ORDER BY c.name;
RESET afp.use_landmark_index;

-- The settings' ranges.
SET afp.max_tempo_change = 0.3;
SET afp.max_pitch_change = -1;

DROP TABLE rd_tracks, rd_clips;
