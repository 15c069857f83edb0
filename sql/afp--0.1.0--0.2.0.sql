-- afp 0.1.0 -> 0.2.0: catalogue operations and long recordings.
\echo Use "ALTER EXTENSION afp UPDATE TO '0.2.0'" to load this file. \quit

-- One match_clip instead of two overloads: with (bytea, int) and (bytea, regclass, int) side by
-- side, match_clip(clip, 'my_table') was ambiguous (an unknown literal fits both).
DROP FUNCTION match_clip(bytea, int);
DROP FUNCTION match_clip(bytea, regclass, int);
CREATE FUNCTION match_clip(
    clip bytea,
    catalog regclass DEFAULT 'afp_tracks',
    max_results int DEFAULT 5,
    OUT track_id bigint, OUT title text, OUT score int, OUT offset_s float8, OUT confidence float4,
    OUT matched_s float8, OUT clip_start_s float8, OUT clip_end_s float8,
    OUT track_start_s float8, OUT track_end_s float8, OUT speed float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_match_clip' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 5;
COMMENT ON FUNCTION match_clip(bytea, regclass, int) IS 'tracks of a catalogue (default afp_tracks) that contain the audio clip, best first';

CREATE FUNCTION afp_slice(fp afp, from_s float8, to_s float8) RETURNS afp
    AS 'MODULE_PATHNAME', 'afp_slice' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 100;
COMMENT ON FUNCTION afp_slice(afp, float8, float8) IS
    'the landmarks anchored between from_s and to_s seconds, with times relative to from_s';

-- The afp column of a catalogue (the one column of type afp), or an error naming the table.
CREATE FUNCTION afp_catalog_column(catalog regclass) RETURNS name
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col name;
    n int;
BEGIN
    SELECT min(a.attname), count(*) INTO col, n
    FROM pg_attribute a
    WHERE a.attrelid = catalog AND a.attnum > 0 AND NOT a.attisdropped
      AND a.atttypid = '@extschema@.afp'::regtype;
    IF n <> 1 THEN
        RAISE EXCEPTION 'catalogue % must have exactly one column of type afp', catalog
            USING ERRCODE = 'wrong_object_type', DETAIL = format('It has %s.', n);
    END IF;
    RETURN col;
END $$;

CREATE FUNCTION afp_catalog_stats(
    catalog regclass DEFAULT 'afp_tracks',
    OUT tracks bigint, OUT hours float8, OUT landmarks bigint, OUT landmarks_per_second float8,
    OUT table_bytes bigint, OUT index_bytes bigint, OUT bytes_per_hour float8, OUT param_sets int[])
    LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col name := @extschema@.afp_catalog_column(catalog);
BEGIN
    EXECUTE format('SELECT count(%1$I), coalesce(sum(@extschema@.afp_duration(%1$I)), 0) / 3600,
                           coalesce(sum(@extschema@.afp_landmark_count(%1$I)), 0),
                           array_agg(DISTINCT @extschema@.afp_param_set(%1$I)) FILTER (WHERE %1$I IS NOT NULL)
                    FROM %2$s', col, catalog)
        INTO tracks, hours, landmarks, param_sets;
    landmarks_per_second := CASE WHEN hours > 0 THEN landmarks / (hours * 3600) END;
    table_bytes := pg_table_size(catalog);
    index_bytes := pg_indexes_size(catalog);
    bytes_per_hour := CASE WHEN hours > 0 THEN (table_bytes + index_bytes) / hours END;
END $$;
COMMENT ON FUNCTION afp_catalog_stats(regclass) IS
    'tracks, hours of audio, landmarks, bytes of table and indexes, and parameter sets of a catalogue';

CREATE FUNCTION match_segments(
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
    w float8 := 0;
    m record;
    found_one boolean;
    open_segment boolean := false;
    shift float8;            -- track time minus recording time of the open segment
BEGIN
    IF NOT (window_s >= 1 AND hop_s > 0 AND hop_s <= window_s) THEN
        RAISE EXCEPTION 'match_segments needs window_s >= 1 and 0 < hop_s <= window_s'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('window_s is %s and hop_s is %s.', window_s, hop_s);
    END IF;
    fp := @extschema@.fingerprint(audio);
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
