-- afp.max_clip_seconds at its edge: a slice as long as the limit is searched (match_segments()
-- with window_s = the limit finds its track), a longer one is refused with 54000, and the refusal
-- says how long the clip lasts and where its last analysis frame starts, to the millisecond.
BEGIN;
SELECT plan(9);

\set wav `base64 -w0 "$AFP_FIXTURES/song1.wav"`
CREATE TEMP TABLE limit_cat (id bigint PRIMARY KEY, title text, fp afp NOT NULL);
INSERT INTO limit_cat VALUES (1, 'song1', fingerprint(decode(:'wav', 'base64')));
CREATE TEMP TABLE limit_src AS SELECT decode(:'wav', 'base64') AS wav;

-- The detail of the error a statement raises.
CREATE FUNCTION pg_temp.error_detail(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    EXECUTE statement;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN detail;
END $$;

SET LOCAL afp.max_clip_seconds = 6;
SELECT is((SELECT count(*) FROM limit_cat c, match_afp(afp_slice(c.fp, 0, 6), 'limit_cat') m WHERE m.track_id = 1),
          1::bigint, 'afp_slice(fp, 0, 6) passes a 6 s afp.max_clip_seconds and finds its track');
SELECT is((SELECT count(*) FROM limit_cat c, match_afp(afp_slice(c.fp, 2.5, 8.5), 'limit_cat') m WHERE m.track_id = 1),
          1::bigint, '... and so does afp_slice(fp, 2.5, 8.5)');
SELECT ok(afp_duration(afp_slice(fp, 0, 6)) < 6.2, 'afp_slice(fp, 0, 6) lasts the frames it holds and one analysis window')
FROM limit_cat;
SELECT is((SELECT string_agg(DISTINCT title, ',') FROM limit_src s, match_segments(s.wav, 'limit_cat', 6, 3)),
          'song1', 'match_segments with window_s = afp.max_clip_seconds finds the track');
SELECT throws_ok($$SELECT count(*) FROM limit_cat c, match_afp(afp_slice(c.fp, 0, 6.2), 'limit_cat')$$,
                 '54000', 'clip is longer than afp.max_clip_seconds (6 s)', 'a slice past the limit: 54000');
SELECT is(pg_temp.error_detail($$SELECT count(*) FROM limit_cat c, match_afp(afp_slice(c.fp, 0, 6.2), 'limit_cat')$$),
          'The clip lasts 6.320 s: its last analysis frame starts 6.192 s into it, after the limit of 6 s.',
          '... and its detail gives both durations to the millisecond');
SELECT throws_ok($$SELECT count(*) FROM limit_src s, match_clip(s.wav, 'limit_cat')$$,
                 '54000', 'clip is longer than afp.max_clip_seconds (6 s)', 'a 20 s clip: 54000');
SELECT is(pg_temp.error_detail($$SELECT count(*) FROM limit_src s, match_clip(s.wav, 'limit_cat')$$),
          'The clip''s audio goes on past 6 s, where its decoding stopped.', '... and its detail says where decoding stopped');
RESET afp.max_clip_seconds;
SELECT is((SELECT count(*) FROM limit_src s, match_clip(s.wav, 'limit_cat') m WHERE m.track_id = 1),
          1::bigint, 'under the default limit the whole song matches');

SELECT * FROM finish();
ROLLBACK;
