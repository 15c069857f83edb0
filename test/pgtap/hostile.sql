-- Hostile input: every kind of bad bytes a client can send gets its specific SQLSTATE (never
-- XX000, never a crash), for audio and for afp values in text and binary form.
BEGIN;
SELECT plan(19);

\set ogg `base64 -w0 "$AFP_FIXTURES/song3.ogg"`
\set opus `base64 -w0 "$AFP_FIXTURES/song5.opus"`
\set mp3 `base64 -w0 "$AFP_FIXTURES/song4.mp3"`
\set wav `base64 -w0 "$AFP_FIXTURES/song1.wav"`
CREATE TEMP TABLE src AS
SELECT decode(:'ogg', 'base64') AS ogg, decode(:'opus', 'base64') AS opus, decode(:'mp3', 'base64') AS mp3,
       decode(:'wav', 'base64') AS wav;

\i test/pgtap/include/wav.psql

CREATE TEMP TABLE bad (name text PRIMARY KEY, audio bytea);
INSERT INTO bad
SELECT 'truncated Ogg Vorbis', substring(ogg FROM 1 FOR length(ogg) / 2) FROM src UNION ALL
SELECT 'truncated Ogg Opus', substring(opus FROM 1 FOR length(opus) / 2) FROM src UNION ALL
SELECT 'truncated MP3', substring(mp3 FROM 1 FOR length(mp3) / 2) FROM src UNION ALL
SELECT 'WAV with a sample rate of 0', overlay(wav PLACING '\x00000000'::bytea FROM 25) FROM src UNION ALL
SELECT 'random bytes', (SELECT string_agg(decode(md5(g::text), 'hex'), ''::bytea) FROM generate_series(1, 512) g) UNION ALL
SELECT 'RF64 header claiming 2^60 bytes',
       'RF64'::bytea || '\xffffffff'::bytea || 'WAVEds64'::bytea || pg_temp.le(28, 4)
       || pg_temp.le(2::numeric ^ 60 + 36, 8) || pg_temp.le(2::numeric ^ 60, 8) || pg_temp.le(2::numeric ^ 59, 8) || pg_temp.le(0, 4)
       || 'fmt '::bytea || pg_temp.le(16, 4) || pg_temp.le(1, 2) || pg_temp.le(1, 2) || pg_temp.le(44100, 4) || pg_temp.le(88200, 4)
       || pg_temp.le(2, 2) || pg_temp.le(16, 2) || 'data'::bytea || '\xffffffff'::bytea || decode(repeat('0102', 2048), 'hex') UNION ALL
SELECT 'WAV header claiming 4 GB', pg_temp.wav_header(1, 2, 44100, 16, 4294967000) || decode(repeat('0102', 2048), 'hex') UNION ALL
SELECT 'infinite float samples', pg_temp.wav_header(3, 1, 8000, 32, 16) || '\x0000003f0000807f0000003f0000803f'::bytea UNION ALL
SELECT 'one float sample', pg_temp.wav_header(3, 1, 8000, 32, 4) || '\x0000003f'::bytea UNION ALL
SELECT 'WAV with 0 channels', overlay(wav PLACING '\x0000'::bytea FROM 23) FROM src;

SELECT throws_ok(format('SELECT fingerprint(audio) FROM bad WHERE name = %L', 'truncated Ogg Vorbis'), '22000', 'audio data is truncated', 'truncated Ogg Vorbis: 22000');
SELECT throws_ok(format('SELECT fingerprint(audio) FROM bad WHERE name = %L', 'truncated Ogg Opus'), '22000', 'audio data is truncated', 'truncated Ogg Opus: 22000');
SELECT throws_ok(format('SELECT fingerprint(audio) FROM bad WHERE name = %L', 'truncated MP3'), '22000', 'audio data is truncated', 'truncated MP3: 22000');
SELECT throws_ok(format('SELECT fingerprint(audio) FROM bad WHERE name = %L', 'WAV with a sample rate of 0'), '22000', 'audio header is invalid', 'a 0 Hz header: 22000');
SELECT throws_ok(format('SELECT fingerprint(audio) FROM bad WHERE name = %L', 'WAV with 0 channels'), '22000', 'audio header is invalid', 'a 0-channel header: 22000');
SELECT throws_ok(format('SELECT fingerprint(audio) FROM bad WHERE name = %L', 'random bytes'), '22000', 'could not decode audio data', '8 kB of random bytes: 22000');
SELECT throws_ok(format('SELECT fingerprint(audio) FROM bad WHERE name = %L', 'RF64 header claiming 2^60 bytes'), '22000', 'audio data is truncated', 'an RF64 header claiming 2^60 bytes: 22000');
SELECT throws_ok(format('SELECT fingerprint(audio) FROM bad WHERE name = %L', 'WAV header claiming 4 GB'), '22000', 'audio data is truncated', 'a WAV header claiming 4 GB in 4 kB: 22000');
SELECT throws_ok(format('SELECT fingerprint(audio) FROM bad WHERE name = %L', 'infinite float samples'), '22000', 'audio data contains NaN or infinite samples', 'infinite samples: 22000');
SELECT is((SELECT afp_landmark_count(fingerprint(audio)) FROM bad WHERE name = 'one float sample'), 0, 'one sample: an empty fingerprint');
SELECT throws_ok(format('SELECT count(*) FROM match_clip((SELECT audio FROM bad WHERE name = %L))', 'truncated MP3'), '22000', 'audio data is truncated', 'match_clip of a truncated MP3: 22000');

-- Binary afp input (COPY ... BINARY): framing and validation errors are 22P03.
CREATE TEMP TABLE received (fp afp);
CREATE FUNCTION pg_temp.receive(body bytea) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  file text := '/tmp/afp_hostile_' || pg_backend_pid() || '.b64';
  copy bytea := '\x5047434f50590aff0d0a00'::bytea || '\x00000000'::bytea || '\x00000000'::bytea
                || '\x0001'::bytea || int4send(length(body)) || body || '\xffff'::bytea;
BEGIN
  EXECUTE format('COPY (SELECT %L) TO %L', translate(encode(copy, 'base64'), E'\n', ''), file);
  EXECUTE format('COPY received FROM PROGRAM %L WITH (FORMAT binary)', 'base64 -d ' || file);
END $f$;
-- version 1, set 1, hop 128, rate 8000, n_samples 8000, count, then (hash, frame) pairs, big-endian.
CREATE FUNCTION pg_temp.body(version int, count int, pairs int[]) RETURNS bytea LANGUAGE sql AS
$$ SELECT set_byte('\x00'::bytea, 0, version) || '\x01'::bytea || '\x0080'::bytea || int4send(8000) || int4send(8000)
          || int4send(count) || coalesce((SELECT string_agg(int4send(p), ''::bytea ORDER BY o) FROM unnest(pairs) WITH ORDINALITY u(p, o)), ''::bytea) $$;

SELECT lives_ok($$SELECT pg_temp.receive(pg_temp.body(1, 2, ARRAY[23341697, 5, 23341697, 9]))$$, 'a valid binary value is received');
SELECT is((SELECT fp::text FROM received), '1:1:8000:128:8000:23341697@5,23341697@9', 'and reads back as text');
SELECT throws_ok($$SELECT pg_temp.receive(pg_temp.body(9, 1, ARRAY[23341697, 5]))$$, '22P03', 'malformed binary afp value', 'binary: wrong version: 22P03');
SELECT throws_ok($$SELECT pg_temp.receive(pg_temp.body(1, 5, ARRAY[23341697, 5]))$$, '22P03', 'malformed binary afp value', 'binary: count larger than the data: 22P03');
SELECT throws_ok($$SELECT pg_temp.receive(pg_temp.body(1, 0, ARRAY[23341697, 5]))$$, '22P03', 'malformed binary afp value', 'binary: count smaller than the data: 22P03');
SELECT throws_ok($$SELECT pg_temp.receive(pg_temp.body(1, 2, ARRAY[23348097, 1, 23341697, 5]))$$, '22P03', 'malformed binary afp value', 'binary: unsorted landmarks: 22P03');
SELECT throws_ok($$SELECT pg_temp.receive(pg_temp.body(1, 2, ARRAY[23341697, 5, 23341697, 5]))$$, '22P03', 'malformed binary afp value', 'binary: duplicate landmarks: 22P03');
SELECT throws_ok($$SELECT pg_temp.receive(pg_temp.body(1, 1, ARRAY[23341697, 99999]))$$, '22P03', 'malformed binary afp value', 'binary: a frame beyond the audio: 22P03');

SELECT * FROM finish();
ROLLBACK;
