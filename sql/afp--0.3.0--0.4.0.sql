-- afp 0.3.0 -> 0.4.0: match_clip() and match_afp() return tempo and pitch (the search tries
-- tempo changes and pitch shifts with the speeds); match_segments() refuses window and hop values whose loop would never end
-- or would run one window per sample (NaN, infinities, hop_s below 1 s), and windows longer than
-- afp.max_clip_seconds. The C functions changed with the module: format allowlist, sample cap
-- (afp.max_audio_samples), clip cap (afp.max_clip_seconds), GIN key cap (afp.max_query_hashes),
-- stricter afp validation. afp_catalog_column() accepts a domain over afp, as match_clip() does.
\echo Use "ALTER EXTENSION afp UPDATE TO '0.4.0'" to load this file. \quit

-- match_clip() and match_afp() report how a clip found in a tempo or pitch rendition relates to
-- its track: tempo and pitch next to speed. A result type cannot change in place; a view over
-- either function has to be dropped before the update and made again after it.
DROP FUNCTION match_clip(bytea, regclass, int);
CREATE FUNCTION match_clip(
    clip bytea,
    catalog regclass DEFAULT 'afp_tracks',
    max_results int DEFAULT 5,
    OUT track_id bigint, OUT title text, OUT score int, OUT offset_s float8, OUT confidence float4,
    OUT matched_s float8, OUT clip_start_s float8, OUT clip_end_s float8,
    OUT track_start_s float8, OUT track_end_s float8, OUT speed float8, OUT tempo float8, OUT pitch float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_match_clip' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 5;
COMMENT ON FUNCTION match_clip(bytea, regclass, int) IS 'tracks of a catalogue (default afp_tracks) that contain the audio clip, best first';

DROP FUNCTION match_afp(afp, regclass, int);
CREATE FUNCTION match_afp(
    query afp,
    catalog regclass DEFAULT 'afp_tracks',
    max_results int DEFAULT 5,
    OUT track_id bigint, OUT title text, OUT score int, OUT offset_s float8, OUT confidence float4,
    OUT matched_s float8, OUT clip_start_s float8, OUT clip_end_s float8,
    OUT track_start_s float8, OUT track_end_s float8, OUT speed float8, OUT tempo float8, OUT pitch float8)
RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_match_afp' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 5;
COMMENT ON FUNCTION match_afp(afp, regclass, int) IS 'tracks of a catalogue that contain the fingerprinted clip, best first';

CREATE OR REPLACE FUNCTION match_segments(
    audio bytea,
    catalog regclass DEFAULT 'afp_tracks',
    window_s float8 DEFAULT 10,
    hop_s float8 DEFAULT 5,
    OUT track_id bigint, OUT title text, OUT start_s float8, OUT end_s float8,
    OUT track_start_s float8, OUT confidence float4, OUT windows int)
    RETURNS SETOF record
    LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED ROWS 10
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fp @extschema@.afp;
    duration float8;
    max_window float8;
    w float8 := 0;
    m record;
    found_one boolean;
    open_segment boolean := false;
    shift float8;            -- track time minus recording time of the open segment
BEGIN
    -- NaN compares greater than every number in PostgreSQL and infinities pass every lower bound:
    -- name them, or the loop below never ends. hop_s >= 1 bounds the windows at one per second
    -- of audio (afp.max_audio_seconds of them at most).
    IF window_s IN ('NaN', 'Infinity', '-Infinity') OR hop_s IN ('NaN', 'Infinity', '-Infinity')
       OR NOT (window_s >= 1 AND hop_s >= 1 AND hop_s <= window_s) THEN
        RAISE EXCEPTION 'match_segments needs finite window_s and hop_s with 1 <= hop_s <= window_s'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('window_s is %s and hop_s is %s.', window_s, hop_s);
    END IF;
    fp := @extschema@.fingerprint(audio);
    -- fingerprint() has loaded the module, so its settings are known now.
    max_window := (SELECT setting::float8 FROM pg_catalog.pg_settings WHERE name = 'afp.max_clip_seconds');
    IF window_s > max_window THEN
        RAISE EXCEPTION 'match_segments needs window_s <= afp.max_clip_seconds (% s)', max_window
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = format('window_s is %s.', window_s),
                  HINT = 'Use a shorter window, or ask a superuser to raise afp.max_clip_seconds.';
    END IF;
    duration := @extschema@.afp_duration(fp);
    LOOP
        SELECT r.track_id, r.title, r.confidence, r.clip_start_s, r.clip_end_s, r.offset_s INTO m
        FROM @extschema@.match_afp(@extschema@.afp_slice(fp, w, w + window_s), catalog, 1) r;
        found_one := FOUND;
        IF open_segment AND found_one AND m.track_id = track_id AND abs((m.offset_s - w) - shift) < 1.0 THEN
            -- The same track at the same alignment: the segment goes on.
            end_s := greatest(end_s, w + m.clip_end_s);
            confidence := greatest(confidence, m.confidence);
            windows := windows + 1;
        ELSE
            IF open_segment THEN
                track_start_s := start_s + shift;
                RETURN NEXT;
                open_segment := false;
            END IF;
            IF found_one THEN
                track_id := m.track_id; title := m.title; confidence := m.confidence; windows := 1;
                start_s := w + m.clip_start_s; end_s := w + m.clip_end_s; shift := m.offset_s - w;
                open_segment := true;
            END IF;
        END IF;
        w := w + hop_s;
        EXIT WHEN w + window_s > duration + hop_s;
    END LOOP;
    IF open_segment THEN
        track_start_s := start_s + shift;
        RETURN NEXT;
    END IF;
END $$;
COMMENT ON FUNCTION match_segments(bytea, regclass, float8, float8) IS
    'every catalogue track a long recording contains, with where it plays in the recording';

CREATE OR REPLACE FUNCTION afp_catalog_column(catalog regclass) RETURNS name
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col name;
    n int;
BEGIN
    -- A column of type afp or of a domain over it (domains may nest).
    WITH RECURSIVE base(attname, typid) AS (
        SELECT a.attname, a.atttypid FROM pg_attribute a
        WHERE a.attrelid = catalog AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT b.attname, t.typbasetype FROM base b JOIN pg_type t ON t.oid = b.typid WHERE t.typtype = 'd')
    SELECT min(attname), count(*) INTO col, n FROM base WHERE typid = '@extschema@.afp'::regtype;
    IF n <> 1 THEN
        RAISE EXCEPTION 'catalogue % must have exactly one column of type afp', catalog
            USING ERRCODE = 'wrong_object_type', DETAIL = format('It has %s.', n);
    END IF;
    RETURN col;
END $$;

-- afp_index_check() reads the whole index and table and holds a set of every row's landmarks
-- (about 6 MB per hour of catalogue): a maintenance tool for the index's owner and superusers,
-- not for every role that can connect.
REVOKE EXECUTE ON FUNCTION afp_index_check(regclass) FROM PUBLIC;
