-- Every error kind has its SQLSTATE; NULL, empty and tiny inputs live.
BEGIN;
SELECT plan(39);

\set song1 `base64 -w0 "$AFP_FIXTURES/song1.wav"`
\set txt `base64 -w0 "$AFP_FIXTURES/not_audio.txt"`
\set trunc_wav `base64 -w0 "$AFP_FIXTURES/truncated.wav"`
\set trunc_flac `base64 -w0 "$AFP_FIXTURES/truncated.flac"`
\set header_only `base64 -w0 "$AFP_FIXTURES/header_only.wav"`
\set zero_channels `base64 -w0 "$AFP_FIXTURES/zero_channels.wav"`
\set huge `base64 -w0 "$AFP_FIXTURES/huge_header.wav"`
\set nan `base64 -w0 "$AFP_FIXTURES/nan.wav"`
\set silence `base64 -w0 "$AFP_FIXTURES/silence.wav"`
\set one `base64 -w0 "$AFP_FIXTURES/one_sample.wav"`
\set clip `base64 -w0 "$AFP_FIXTURES/clip_song1_at_12s.ogg"`

CREATE TEMP TABLE fx (name text PRIMARY KEY, audio bytea);
INSERT INTO fx VALUES
  ('song1', decode(:'song1', 'base64')), ('text', decode(:'txt', 'base64')),
  ('truncated_wav', decode(:'trunc_wav', 'base64')), ('truncated_flac', decode(:'trunc_flac', 'base64')),
  ('header_only', decode(:'header_only', 'base64')), ('zero_channels', decode(:'zero_channels', 'base64')),
  ('huge', decode(:'huge', 'base64')), ('nan', decode(:'nan', 'base64')),
  ('silence', decode(:'silence', 'base64')), ('one', decode(:'one', 'base64')), ('clip', decode(:'clip', 'base64'));

-- Bad audio.
SELECT throws_ok($$SELECT fingerprint(''::bytea)$$, '22023', 'audio data is empty', 'empty bytes: 22023');
SELECT throws_ok($$SELECT fingerprint('\x00'::bytea)$$, '22000', 'could not decode audio data', 'one byte: 22000');
SELECT throws_ok($$SELECT fingerprint(audio) FROM fx WHERE name = 'text'$$, '22000', 'could not decode audio data', 'text: 22000');
SELECT throws_ok($$SELECT fingerprint(audio) FROM fx WHERE name = 'truncated_wav'$$, '22000', 'audio data is truncated', 'truncated WAV: 22000');
SELECT throws_ok($$SELECT fingerprint(audio) FROM fx WHERE name = 'truncated_flac'$$, '22000', 'audio data is truncated', 'truncated FLAC: 22000');
SELECT throws_ok($$SELECT fingerprint(audio) FROM fx WHERE name = 'header_only'$$, '22000', 'audio data is truncated', 'header without data: 22000');
SELECT throws_ok($$SELECT fingerprint(audio) FROM fx WHERE name = 'zero_channels'$$, '22000', 'audio header is invalid', 'zero channels: 22000');
SELECT throws_ok($$SELECT fingerprint(audio) FROM fx WHERE name = 'huge'$$, '22000', 'audio data is truncated', 'header claiming hours in 4 kB: 22000');
SELECT throws_ok($$SELECT fingerprint(audio) FROM fx WHERE name = 'nan'$$, '22000', 'audio data contains NaN or infinite samples', 'NaN samples: 22000');
SELECT throws_ok($$SELECT fingerprint(audio) FROM fx WHERE name = 'silence'$$, '22000', 'audio is silent', 'silence: 22000');
SELECT throws_ok($$SELECT * FROM match_clip(''::bytea)$$, '22023', 'audio data is empty', 'match_clip of empty bytes: 22023');
SELECT throws_ok($$SELECT m.* FROM fx, match_clip(fx.audio) m WHERE fx.name = 'text'$$, '22000', 'could not decode audio data', 'match_clip of text: 22000');

-- Caps.
SET LOCAL afp.max_audio_seconds = 10;
SELECT throws_ok($$SELECT fingerprint(audio) FROM fx WHERE name = 'song1'$$, '54000', 'audio is longer than afp.max_audio_seconds (10 s)', 'longer than the cap: 54000');
RESET afp.max_audio_seconds;
SET LOCAL afp.max_audio_bytes = 1000;
SELECT throws_ok($$SELECT fingerprint(audio) FROM fx WHERE name = 'song1'$$, '54000', 'audio data is larger than afp.max_audio_bytes (1000 bytes)', 'larger than the cap: 54000');
SELECT throws_ok($$SELECT m.* FROM fx, match_clip(fx.audio) m WHERE fx.name = 'clip'$$, '54000', NULL, 'match_clip larger than the cap: 54000');
RESET afp.max_audio_bytes;

-- Malformed afp values.
SELECT throws_ok($$SELECT 'hello'::afp$$, '22P02', 'malformed afp value', 'text that is not an afp: 22P02');
SELECT throws_ok($$SELECT '9:1:8000:128:8000:'::afp$$, '22P02', 'malformed afp value', 'wrong version: 22P02');
SELECT throws_ok($$SELECT '1:1:8000:128:8000:23348097@1,23341697@5'::afp$$, '22P02', 'malformed afp value', 'unsorted landmarks: 22P02');
SELECT throws_ok($$SELECT '1:1:8000:128:8000:23341697@5,23341697@5'::afp$$, '22P02', 'malformed afp value', 'duplicate landmarks: 22P02');

-- Catalogues that cannot be matched against.
CREATE TEMP TABLE no_fp (id int, title text);
CREATE TEMP TABLE two_fp (id int, a afp, b afp);
CREATE TEMP TABLE no_id (name text, fp afp);
SELECT throws_ok($$SELECT * FROM match_afp('1:1:8000:128:0:', 'no_fp')$$, '42703', NULL, 'catalogue without an afp column: 42703');
SELECT throws_ok($$SELECT * FROM match_afp('1:1:8000:128:0:', 'two_fp')$$, '42702', NULL, 'catalogue with two afp columns: 42702');
SELECT throws_ok($$SELECT * FROM match_afp('1:1:8000:128:0:', 'no_id')$$, '42703', NULL, 'catalogue without an id: 42703');
SELECT throws_ok($$SELECT * FROM match_afp('1:1:8000:128:0:', 4000000000::oid::regclass)$$, '42P01', NULL, 'catalogue that does not exist: 42P01');
SELECT throws_ok($$SELECT * FROM match_afp('1:1:8000:128:0:', 'pg_class')$$, '42703', NULL, 'a system catalogue is not an afp catalogue: 42703');
SELECT throws_ok($$SELECT * FROM match_afp('1:1:8000:128:0:', 'afp_tracks', 0)$$, '22023', 'max_results must be at least 1', 'max_results 0: 22023');

-- Privileges: no SELECT on the catalogue, 42501.
CREATE ROLE afp_tap_reader;
GRANT SELECT ON fx TO afp_tap_reader;
SET LOCAL ROLE afp_tap_reader;
SELECT throws_ok($$SELECT m.* FROM fx, match_clip(fx.audio) m WHERE fx.name = 'clip'$$, '42501', 'permission denied for table afp_tracks', 'match_clip without SELECT on the catalogue: 42501');
RESET ROLE;

-- Settings reject nonsense.
SELECT throws_ok($$SET afp.min_confidence = 2$$, '22023', NULL, 'min_confidence above 1: 22023');
SELECT throws_ok($$SET afp.min_shared_hashes = 0$$, '22023', NULL, 'min_shared_hashes below 1: 22023');

-- Cancellation. pgTAP's throws_ok cannot catch a cancel (WHEN OTHERS excludes it), so a helper
-- names query_canceled explicitly.
CREATE FUNCTION pg_temp.sqlstate_of(query text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
  EXECUTE query;
  RETURN '00000';
EXCEPTION WHEN query_canceled THEN
  RETURN SQLSTATE;
END $f$;
-- Work that outlasts the timeout on any machine (~100,000 fingerprints), a timeout past any startup.
SET LOCAL statement_timeout = '200ms';
SELECT is(pg_temp.sqlstate_of($$SELECT fingerprint(audio) FROM fx, generate_series(1, 100000) WHERE name = 'song1'$$),
          '57014', 'statement_timeout cancels fingerprint(): 57014');
RESET statement_timeout;

-- NULL, empty and tiny inputs live.
SELECT lives_ok($$SELECT fingerprint(NULL)$$, 'fingerprint(NULL)');
SELECT ok(fingerprint(NULL) IS NULL, 'fingerprint(NULL) is NULL');
SELECT lives_ok($$SELECT * FROM match_clip(NULL)$$, 'match_clip(NULL)');
SELECT lives_ok($$SELECT * FROM match_afp(NULL)$$, 'match_afp(NULL)');
SELECT is((SELECT count(*) FROM match_afp('1:1:8000:128:0:')), 0::bigint, 'an empty fingerprint matches nothing');
SELECT is((SELECT count(*) FROM fx, match_clip(fx.audio) m WHERE fx.name = 'silence'), 0::bigint, 'a silent clip matches nothing');
SELECT is((SELECT afp_landmark_count(fingerprint(audio)) FROM fx WHERE name = 'one'), 0, 'one sample gives an empty fingerprint');
SELECT is((SELECT count(*) FROM fx, match_clip(fx.audio) m WHERE fx.name = 'one'), 0::bigint, 'a one-sample clip matches nothing');
SELECT is(afp_hashes('1:1:8000:128:0:'), '{}'::int4[], 'an empty fingerprint has no hashes');
SELECT is((SELECT count(*) FROM afp_landmarks('1:1:8000:128:0:')), 0::bigint, 'an empty fingerprint has no landmarks');

SELECT * FROM finish();
ROLLBACK;
