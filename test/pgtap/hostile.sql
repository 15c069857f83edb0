-- Hostile input: every kind of bad bytes a client can send gets its specific SQLSTATE (never
-- XX000, never a crash), for audio and for afp values in text and binary form.
BEGIN;
SELECT plan(35);

\set ogg `base64 -w0 "$AFP_FIXTURES/song3.ogg"`
\set opus `base64 -w0 "$AFP_FIXTURES/song5.opus"`
\set mp3 `base64 -w0 "$AFP_FIXTURES/song4.mp3"`
\set wav `base64 -w0 "$AFP_FIXTURES/song1.wav"`
\set flac `base64 -w0 "$AFP_FIXTURES/song2.flac"`
CREATE TEMP TABLE src AS
SELECT decode(:'ogg', 'base64') AS ogg, decode(:'opus', 'base64') AS opus, decode(:'mp3', 'base64') AS mp3,
       decode(:'wav', 'base64') AS wav, decode(:'flac', 'base64') AS flac,
       (SELECT string_agg(decode(md5(g::text) || md5((g + 1)::text), 'hex'), ''::bytea)
        FROM generate_series(1, 88200 / 16) g) AS noise;  -- 2 s of 16-bit mono noise at 44.1 kHz

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

-- Containers and encodings outside the documented list are refused before a parser reads them
-- (libsndfile would decode AU, W64, CAF, PAF, ADPCM ...); declared lengths are checked in every
-- container that has one (libsndfile shortens an AIFF whose SSND chunk runs past the end, and
-- stops a FLAC at the length STREAMINFO declares).
INSERT INTO bad
SELECT 'complete AIFF', pg_temp.aiff(noise, length(noise)) FROM src UNION ALL
SELECT 'AIFF cut in half', substring(pg_temp.aiff(noise, length(noise)) FROM 1 FOR 54 + length(noise) / 2) FROM src UNION ALL
SELECT 'AU', pg_temp.au(noise) FROM src UNION ALL
SELECT 'WAV of IMA ADPCM', pg_temp.wav_header(17, 1, 44100, 4, length(noise)) || noise FROM src UNION ALL
-- STREAMINFO's total samples (36 bits from byte 21 of the file) set to 4096: the data holds more.
SELECT 'FLAC longer than its header says', overlay(flac PLACING '\x0000001000'::bytea FROM 22) FROM src;
SELECT ok((SELECT afp_landmark_count(fingerprint(audio)) > 0 FROM bad WHERE name = 'complete AIFF'), 'a complete AIFF is fingerprinted');
SELECT throws_ok(format('SELECT fingerprint(audio) FROM bad WHERE name = %L', 'AIFF cut in half'), '22000', 'audio data is truncated', 'an AIFF cut in half: 22000');
SELECT throws_ok(format('SELECT fingerprint(audio) FROM bad WHERE name = %L', 'AU'), '22000', 'could not decode audio data', 'AU, a container libsndfile reads but afp does not accept: 22000');
SELECT throws_ok(format('SELECT fingerprint(audio) FROM bad WHERE name = %L', 'WAV of IMA ADPCM'), '22000', 'could not decode audio data', 'WAV of an encoding afp does not accept: 22000');
SELECT throws_ok(format('SELECT fingerprint(audio) FROM bad WHERE name = %L', 'FLAC longer than its header says'), '22000', 'audio header is invalid', 'a FLAC whose data runs past its declared length: 22000');

-- Hashes in the parameter set's id space that its analysis cannot make: dt = 0 (f1 200, df 5).
SELECT throws_ok($$SELECT '1:1:8000:128:8000:23347840@1'::afp$$, '22P02', 'malformed afp value', 'a hash with dt = 0: 22P02');

-- Work caps at smaller values: samples decoded, clip length, GIN keys.
SET LOCAL afp.max_audio_samples = 100000;
SELECT throws_ok($$SELECT fingerprint(wav) FROM src$$, '54000', 'audio has more samples than afp.max_audio_samples (100000)', 'afp.max_audio_samples: 54000');
RESET afp.max_audio_samples;
SET LOCAL afp.max_clip_seconds = 5;
SELECT throws_ok($$SELECT count(*) FROM src, match_clip(src.wav)$$, '54000', 'clip is longer than afp.max_clip_seconds (5 s)', 'match_clip of a clip over afp.max_clip_seconds: 54000');
SELECT throws_ok($$SELECT count(*) FROM src, match_afp(fingerprint(src.wav))$$, '54000', 'clip is longer than afp.max_clip_seconds (5 s)', 'match_afp of a fingerprint over afp.max_clip_seconds: 54000');
RESET afp.max_clip_seconds;
CREATE TEMP TABLE gin_cat (id int PRIMARY KEY, fp afp);
INSERT INTO gin_cat SELECT 1, fingerprint(wav) FROM src;
CREATE INDEX ON gin_cat USING gin (fp);
SET LOCAL enable_seqscan = off;
SET LOCAL afp.max_query_hashes = 100;
SELECT throws_ok($$SELECT count(*) FROM gin_cat WHERE fp && (SELECT fingerprint(wav) FROM src)$$, '54000', NULL, '&& with more keys than afp.max_query_hashes: 54000');
SELECT throws_ok($$SELECT count(*) FROM src, match_afp(fingerprint(src.wav), 'gin_cat')$$, '54000', 'query has more landmarks than afp.max_query_hashes (100)', 'match_afp of a query with more landmarks than afp.max_query_hashes: 54000');
CREATE INDEX ON gin_cat USING afp_landmark (fp);
SELECT throws_ok($$SELECT id FROM gin_cat ORDER BY fp <~> (SELECT fingerprint(wav) FROM src) LIMIT 1$$, '54000', 'query has more landmarks than afp.max_query_hashes (100)', 'an afp_landmark scan for a query with more landmarks than afp.max_query_hashes: 54000');
RESET afp.max_query_hashes;
SELECT is((SELECT count(*) FROM gin_cat WHERE fp && (SELECT fingerprint(wav) FROM src)), 1::bigint, 'and within the cap the index answers');
RESET enable_seqscan;

-- A catalogue whose afp column is a domain, read by a role granted SELECT on (id, fp) only
-- (ordinary tables: another role cannot see this session's temporary schema; ROLLBACK drops them).
CREATE DOMAIN afp_hostile_nn AS afp NOT NULL;
CREATE TABLE afp_hostile_dom (id int PRIMARY KEY, title text, fp afp_hostile_nn);
INSERT INTO afp_hostile_dom SELECT 1, 'song1', fingerprint(wav) FROM src;
CREATE TABLE afp_hostile_clip AS SELECT wav AS clip FROM src;
CREATE ROLE afp_column_reader;
GRANT SELECT (id, fp) ON afp_hostile_dom TO afp_column_reader;
GRANT SELECT ON afp_hostile_clip TO afp_column_reader;
SELECT is((SELECT track_id FROM afp_hostile_clip, match_clip(clip, 'afp_hostile_dom') LIMIT 1), 1::bigint,
          'a domain over afp is a catalogue column');
SET LOCAL ROLE afp_column_reader;
SELECT results_eq($$SELECT track_id, title FROM afp_hostile_clip, match_clip(clip, 'afp_hostile_dom')$$,
                  $$VALUES (1::bigint, NULL::text)$$, 'SELECT on (id, fp) is enough: matches with NULL titles');
RESET ROLE;
REVOKE SELECT (fp) ON afp_hostile_dom FROM afp_column_reader;
SET LOCAL ROLE afp_column_reader;
SELECT throws_ok($$SELECT count(*) FROM afp_hostile_clip, match_clip(clip, 'afp_hostile_dom')$$, '42501', NULL, 'without SELECT on the afp column: 42501');
RESET ROLE;

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
