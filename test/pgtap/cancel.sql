-- Cancellation: statement_timeout stops fingerprint() of long audio and match_clip() against a
-- large catalogue with 57014 within 100 ms of the deadline, and the session keeps working.
BEGIN;
SELECT plan(6);

-- Twenty minutes of pseudo-random 16-bit PCM at 44.1 kHz mono: a WAV header, then md5 noise.
\i test/pgtap/include/wav.psql
CREATE FUNCTION pg_temp.wav(pcm bytea) RETURNS bytea LANGUAGE sql AS
$$ SELECT pg_temp.wav_header(1, 1, 44100, 16, length(pcm)) || pcm $$;
CREATE TEMP TABLE noise AS
SELECT (SELECT string_agg(decode(md5(g::text) || md5((g + 1)::text), 'hex'), ''::bytea)
        FROM generate_series(1, 105840000 / 32) g) AS pcm;
CREATE TEMP TABLE long_clip AS SELECT pg_temp.wav(pcm) AS audio FROM noise;

-- A catalogue of 3000 rows that all share hashes with the clip, so each is a voted candidate:
-- six 30 s stretches of the noise, then copies of them.
CREATE TEMP TABLE big_catalog (id int PRIMARY KEY, fp afp);
INSERT INTO big_catalog
SELECT g, fingerprint(pg_temp.wav(substring(pcm FROM 1 + (g % 7) * 176400 FOR 2646000))) FROM noise, generate_series(1, 6) g;
INSERT INTO big_catalog SELECT 6 + g, (SELECT fp FROM big_catalog WHERE id = 1 + g % 6) FROM generate_series(1, 2994) g;
CREATE TEMP TABLE clip AS SELECT pg_temp.wav(substring(pcm FROM 1 + 88200 * 3 FOR 441000)) AS audio FROM noise;  -- 3 s to 8 s

-- Runs query, which statement_timeout is expected to cancel; returns the SQLSTATE and how long
-- after the deadline (counted, like the timeout, from the start of the calling statement) it stopped.
CREATE FUNCTION pg_temp.cancel_lag(query text, OUT state text, OUT lag_ms float8)
LANGUAGE plpgsql AS $f$
BEGIN
  BEGIN
    EXECUTE query;
    state := '00000';
  EXCEPTION WHEN query_canceled THEN
    state := SQLSTATE;
  END;
  lag_ms := extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000
            - extract(epoch FROM current_setting('statement_timeout')::interval) * 1000;
END $f$;

-- fingerprint() gets a deadline of 1 s: reading its 100 MB argument from the temporary table
-- cannot be interrupted, and on a busy machine that alone took longer than a shorter deadline.
-- The 20 minutes are fingerprinted 8 times over: on an idle machine one pass can end inside 1 s
-- (it did on PostgreSQL 19), and then nothing was left to cancel.
SET LOCAL statement_timeout = 1000;
CREATE TEMP TABLE fingerprint_cancel AS
SELECT * FROM pg_temp.cancel_lag($$SELECT count(fingerprint(audio)) FROM long_clip, generate_series(1, 8)$$);
SET LOCAL statement_timeout = 300;
CREATE TEMP TABLE match_cancel AS
SELECT * FROM pg_temp.cancel_lag($$SELECT count(*) FROM clip, generate_series(1, 400) g, match_clip(clip.audio, 'big_catalog', 1 + g % 2) m$$);
SET LOCAL statement_timeout = 0;

SELECT is(state, '57014', 'fingerprint() of 20 minutes stops at statement_timeout (57014)') FROM fingerprint_cancel;
SELECT cmp_ok(lag_ms, '<', 100::float8, 'fingerprint() stops within 100 ms of the deadline') FROM fingerprint_cancel;
SELECT is(state, '57014', 'match_clip() against 3000 candidates stops at statement_timeout (57014)') FROM match_cancel;
SELECT cmp_ok(lag_ms, '<', 100::float8, 'match_clip() stops within 100 ms of the deadline') FROM match_cancel;

SELECT is((SELECT count(*) FROM clip, match_clip(clip.audio, 'big_catalog', 1)), 1::bigint,
          'the session keeps working after a cancellation');
SELECT ok((SELECT afp_landmark_count(fp) > 0 FROM big_catalog WHERE id = 1), 'and reads its tables');

SELECT * FROM finish();
ROLLBACK;
