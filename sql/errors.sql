-- Every way audio can be bad gets its own message, detail and hint (SQLSTATEs are asserted in
-- test/pgtap/errors.sql). Nothing here may crash the backend: the last query proves it is alive.
\i sql/include/fresh.psql

SELECT fingerprint(''::bytea);
SELECT fingerprint('\x00'::bytea);
\set txt `base64 -w0 "$AFP_FIXTURES/not_audio.txt"`
SELECT fingerprint(decode(:'txt', 'base64'));
\set trunc_wav `base64 -w0 "$AFP_FIXTURES/truncated.wav"`
SELECT fingerprint(decode(:'trunc_wav', 'base64'));
\set trunc_flac `base64 -w0 "$AFP_FIXTURES/truncated.flac"`
SELECT fingerprint(decode(:'trunc_flac', 'base64'));
\set header_only `base64 -w0 "$AFP_FIXTURES/header_only.wav"`
SELECT fingerprint(decode(:'header_only', 'base64'));
\set zero_channels `base64 -w0 "$AFP_FIXTURES/zero_channels.wav"`
SELECT fingerprint(decode(:'zero_channels', 'base64'));
\set huge `base64 -w0 "$AFP_FIXTURES/huge_header.wav"`
SELECT fingerprint(decode(:'huge', 'base64'));
\set nan `base64 -w0 "$AFP_FIXTURES/nan.wav"`
SELECT fingerprint(decode(:'nan', 'base64'));
\set silence `base64 -w0 "$AFP_FIXTURES/silence.wav"`
SELECT fingerprint(decode(:'silence', 'base64'));

-- Caps: duration and size. Both are superuser settings.
\set song1 `base64 -w0 "$AFP_FIXTURES/song1.wav"`
SET afp.max_audio_seconds = 10;
SELECT fingerprint(decode(:'song1', 'base64'));
RESET afp.max_audio_seconds;
SET afp.max_audio_bytes = 1000;
SELECT fingerprint(decode(:'song1', 'base64'));
SELECT * FROM match_clip(decode(:'song1', 'base64'));
RESET afp.max_audio_bytes;
SHOW afp.max_audio_seconds;
SHOW afp.max_audio_bytes;
SHOW afp.min_shared_hashes;
SHOW afp.min_confidence;
SET afp.min_confidence = 2;
SET afp.min_shared_hashes = 0;

-- A silent clip is not an error for match_clip: it simply matches nothing.
SELECT count(*) AS silent_clip_rows FROM match_clip(decode(:'silence', 'base64'));

-- Cancellation: a statement timeout stops fingerprint() with 57014 and the session keeps working.
-- (The audio sits in a table so that the timeout falls inside fingerprint(), not in parsing; the
-- work, ~100,000 fingerprints, outlasts the timeout on any machine, and 200 ms is past any startup.)
CREATE TEMP TABLE long_audio AS SELECT decode(:'song1', 'base64') AS audio;
SET statement_timeout = '200ms';
SELECT afp_landmark_count(fingerprint(audio)) FROM long_audio, generate_series(1, 100000);
RESET statement_timeout;
SELECT afp_landmark_count(fingerprint(audio)) > 0 AS session_still_works FROM long_audio;
