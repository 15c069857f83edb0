-- fingerprint(): every container decodes, the result is deterministic and sized as designed.
\i sql/include/fresh.psql

\i sql/include/songs.psql

CREATE TEMP TABLE songs (name text, format text, audio bytea);
INSERT INTO songs VALUES
  ('song1', 'WAV 16-bit 44.1 kHz stereo', decode(:'song1', 'base64')),
  ('song2', 'FLAC 48 kHz stereo',         decode(:'song2', 'base64')),
  ('song3', 'Ogg Vorbis 44.1 kHz stereo', decode(:'song3', 'base64')),
  ('song4', 'MP3 44.1 kHz stereo',        decode(:'song4', 'base64')),
  ('song5', 'Ogg Opus 48 kHz stereo',     decode(:'song5', 'base64')),
  ('song6', 'WAV float 22.05 kHz mono',   decode(:'song6', 'base64'));

-- 20 s songs: the duration is exact for lossless input and within codec padding otherwise;
-- 20 to 100 landmarks per second is the designed density.
SELECT name, format,
       round(afp_duration(fingerprint(audio))::numeric, 1) AS seconds,
       afp_landmark_count(fingerprint(audio)) / afp_duration(fingerprint(audio)) BETWEEN 20 AND 100 AS density_ok
FROM songs ORDER BY name;

-- Bit-for-bit deterministic: the same bytes give the same fingerprint, call after call.
SELECT name, fingerprint(audio)::text = fingerprint(audio)::text AS deterministic FROM songs ORDER BY name;

-- Different songs share only a small part of their hashes (same scale, same instruments).
SELECT a.name, b.name,
       afp_shared_hashes(fingerprint(a.audio), fingerprint(b.audio))::float8
         / least(cardinality(afp_hashes(fingerprint(a.audio))), cardinality(afp_hashes(fingerprint(b.audio)))) < 0.25
         AS mostly_disjoint
FROM songs a JOIN songs b ON a.name < b.name
ORDER BY 1, 2;

-- NULL in, NULL out (STRICT).
SELECT fingerprint(NULL) IS NULL AS null_gives_null;

-- A lone sample is audio too short to hold a landmark: an empty fingerprint, not an error.
\set one `base64 -w0 "$AFP_FIXTURES/one_sample.wav"`
SELECT afp_landmark_count(fingerprint(decode(:'one', 'base64'))) AS one_sample_landmarks;
