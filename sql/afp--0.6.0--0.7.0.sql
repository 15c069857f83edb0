-- afp 0.6.0 -> 0.7.0: hardening (hostile-testing fixes), the catalogue outside the extension,
-- and PostgreSQL 16-19.
\echo Use "ALTER EXTENSION afp UPDATE TO '0.7.0'" to load this file. \quit

-- The catalogue outside the extension ------------------------------------------------------
-- A user's tracks are the user's data, never an extension member: afp_tracks used to be one, so a
-- plain DROP EXTENSION afp dropped it, rows and all. A table with an afp column depends on the
-- type afp, so DROP EXTENSION afp now refuses while any catalogue exists (as for any user table
-- with an afp column), and pg_dump dumps the table itself, like any other.
--
-- CREATE EXTENSION afp no longer makes a catalogue: afp_create_catalog() does, owned by the
-- role that calls it. A restore runs CREATE EXTENSION and then the dump's CREATE TABLE
-- afp_tracks, which must not find a table the extension made.

-- The default catalogue of match_clip(), match_afp(), match_segments() and afp_catalog_stats():
-- afp_tracks of afp's schema, looked up at each call (a default naming the table would bind its
-- oid when the function is created, and make the extension depend on a user's table).
CREATE FUNCTION afp_default_catalog() RETURNS regclass
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    catalog regclass;
BEGIN
    SELECT to_regclass(quote_ident(n.nspname) || '.afp_tracks') INTO catalog
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'afp';
    IF catalog IS NULL THEN
        RAISE EXCEPTION 'the default catalogue afp_tracks does not exist'
            USING ERRCODE = 'undefined_table',
                  HINT = 'Create it with SELECT afp_create_catalog(); or pass a catalogue, as in match_clip(clip, ''my_table'').';
    END IF;
    RETURN catalog;
END $$;
COMMENT ON FUNCTION afp_default_catalog() IS 'afp_tracks of afp''s schema, the catalogue match_clip() searches when given none';

-- A catalogue as match_*() expect it, owned by the caller (who needs CREATE on the schema):
-- id, title, fp, meta, added_at, the afp_landmark index match_*() search with, and the GIN index
-- that serves && and %. An unqualified name goes into afp's schema, where the default is found.
CREATE FUNCTION afp_create_catalog(catalog text DEFAULT 'afp_tracks') RETURNS regclass
    LANGUAGE plpgsql VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts text[] := parse_ident(catalog);
    ext_schema text;
    target text;
    rel text;
    nsp text;
    created regclass;
    idx text;
    index_name text;
BEGIN
    SELECT quote_ident(n.nspname) INTO ext_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'afp';
    IF array_length(parts, 1) = 1 THEN
        rel := parts[1];
        nsp := ext_schema;
        target := ext_schema || '.' || quote_ident(rel);
    ELSIF array_length(parts, 1) = 2 THEN
        rel := parts[2];
        nsp := quote_ident(parts[1]);
        target := quote_ident(parts[1]) || '.' || quote_ident(rel);
    ELSE
        RAISE EXCEPTION 'a catalogue name is a table name, optionally schema-qualified: "%"', catalog
            USING ERRCODE = 'invalid_name';
    END IF;
    IF to_regclass(target) IS NOT NULL THEN
        RAISE EXCEPTION 'the catalogue % already exists', target
            USING ERRCODE = 'duplicate_table',
                  HINT = 'A catalogue is made once. To start again, DROP TABLE it first; to make another, name it: afp_create_catalog(''music.tracks'').';
    END IF;
    EXECUTE format('CREATE TABLE %s (
        id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        title    text,
        fp       %s.afp NOT NULL,
        meta     jsonb,
        added_at timestamptz NOT NULL DEFAULT pg_catalog.now())', target, ext_schema);
    created := target::regclass;
    -- LZ4 decompresses fingerprints ~5x faster than pglz, and matching decompresses every
    -- candidate (docs/performance.md). Only where the server has it.
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN fp SET COMPRESSION lz4', created);
    END IF;
    -- The indexes are named <table>_fp_idx and <table>_fp_landmark_idx when those fit (in bytes)
    -- and are free in the schema; else PostgreSQL picks free names. (Cutting the table's name to
    -- a count of characters made a name of multibyte characters, or one sharing its first 56
    -- characters with a catalogue's, give both indexes, or another table's, the same name.)
    FOREACH idx IN ARRAY ARRAY['gin', 'afp_landmark'] LOOP
        index_name := rel || CASE idx WHEN 'gin' THEN '_fp_idx' ELSE '_fp_landmark_idx' END;
        IF octet_length(index_name) <= current_setting('max_identifier_length')::int
           AND to_regclass(nsp || '.' || quote_ident(index_name)) IS NULL THEN
            EXECUTE format('CREATE INDEX %I ON %s USING %s (fp)', index_name, created, idx);
        ELSE
            EXECUTE format('CREATE INDEX ON %s USING %s (fp)', created, idx);
        END IF;
    END LOOP;
    EXECUTE format('COMMENT ON TABLE %s IS %L', created, 'an afp catalogue: the tracks match_clip() searches');
    RETURN created;
END $$;
COMMENT ON FUNCTION afp_create_catalog(text) IS 'creates a catalogue table (default afp_tracks in afp''s schema) with the indexes match_clip() searches with';

CREATE OR REPLACE FUNCTION match_clip(
    clip bytea,
    catalog regclass DEFAULT afp_default_catalog(),
    max_results int DEFAULT 5,
    OUT track_id bigint, OUT title text, OUT score int, OUT offset_s float8, OUT confidence float4,
    OUT matched_s float8, OUT clip_start_s float8, OUT clip_end_s float8,
    OUT track_start_s float8, OUT track_end_s float8, OUT speed float8, OUT tempo float8, OUT pitch float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_match_clip' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 5;
COMMENT ON FUNCTION match_clip(bytea, regclass, int) IS 'tracks of a catalogue (default afp_tracks) that contain the audio clip, best first';

CREATE OR REPLACE FUNCTION match_afp(
    query afp,
    catalog regclass DEFAULT afp_default_catalog(),
    max_results int DEFAULT 5,
    OUT track_id bigint, OUT title text, OUT score int, OUT offset_s float8, OUT confidence float4,
    OUT matched_s float8, OUT clip_start_s float8, OUT clip_end_s float8,
    OUT track_start_s float8, OUT track_end_s float8, OUT speed float8, OUT tempo float8, OUT pitch float8)
RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_match_afp' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 5;
COMMENT ON FUNCTION match_afp(afp, regclass, int) IS 'tracks of a catalogue that contain the fingerprinted clip, best first';

CREATE OR REPLACE FUNCTION match_segments(
    audio bytea,
    catalog regclass DEFAULT afp_default_catalog(),
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

CREATE OR REPLACE FUNCTION afp_catalog_stats(
    catalog regclass DEFAULT afp_default_catalog(),
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

-- afp_tracks leaves the extension. An installation being upgraded keeps it, with its rows,
-- indexes and grants, as a table of its own (pg_dump dumps it as one). CREATE EXTENSION, which
-- ran afp--0.1.0.sql in this same transaction, drops the empty one it made: a restore creates
-- the dumped afp_tracks after CREATE EXTENSION, and a fresh database gets its catalogue from
-- afp_create_catalog().
DO $$
DECLARE
    ext oid := (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'afp');
    -- Made by this same CREATE EXTENSION: its membership was recorded by the (sub)transaction
    -- that created afp_default_catalog() above.
    now_xid xid := (SELECT p.xmin FROM pg_catalog.pg_proc p
                    WHERE p.oid = '@extschema@.afp_default_catalog()'::regprocedure);
    member record;
    made_now regclass[] := '{}';
    tracks regclass;
    empty boolean;
BEGIN
    -- Found by membership, not by name: a 0.6.0 catalogue its owner renamed or moved to another
    -- schema is still afp_tracks of the extension (by name it stayed a member, and a plain DROP
    -- EXTENSION then dropped it with its rows). The extension's only member tables and sequences
    -- are afp_tracks and its identity sequence. ALTER EXTENSION ... DROP also takes them out of
    -- extconfig (a DROP TABLE would leave their oids there); tables first, as the sequence is
    -- the table's.
    FOR member IN
        SELECT d.objid::regclass AS rel, c.relkind, d.xmin = now_xid AS made_now
        FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid
        WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'e'
          AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.refobjid = ext
          AND c.relkind IN ('r', 'p', 'S')
        ORDER BY c.relkind = 'S', d.objid
    LOOP
        EXECUTE pg_catalog.format('ALTER EXTENSION afp DROP %s %s',
                                  CASE WHEN member.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, member.rel);
        IF member.relkind <> 'S' AND member.made_now THEN
            made_now := made_now || member.rel;
        END IF;
    END LOOP;
    FOREACH tracks IN ARRAY made_now LOOP
        EXECUTE pg_catalog.format('SELECT NOT EXISTS (SELECT 1 FROM %s)', tracks) INTO empty;
        IF empty THEN
            EXECUTE pg_catalog.format('DROP TABLE %s', tracks);
        END IF;
    END LOOP;
END $$;

-- Duplicates by audio ----------------------------------------------------------------------------
-- The same recording ingested twice (as FLAC and as Ogg, or a track and an excerpt of it) has
-- different bytes but shares its audio. afp_shared_audio() finds the catalogue tracks a
-- fingerprint shares audio with: it matches windows of the fingerprint through the catalogue's
-- index (match_afp) and keeps, per track, the windows that agree on one alignment, so the cost is
-- one indexed search per window whatever the catalogue's size.
CREATE FUNCTION afp_shared_audio(
    query afp,
    catalog regclass DEFAULT afp_default_catalog(),
    window_s float8 DEFAULT 10,
    hop_s float8 DEFAULT 20,
    OUT track_id bigint, OUT title text, OUT start_s float8, OUT end_s float8,
    OUT track_start_s float8, OUT windows int, OUT confidence float4)
    RETURNS SETOF record
    LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED ROWS 5
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    duration float8 := @extschema@.afp_duration(query);
    starts float8[] := '{}';
    w float8 := 0;
    ids bigint[] := '{}';
    titles text[] := '{}';
    shifts float8[] := '{}';
    firsts float8[] := '{}';
    lasts float8[] := '{}';
    confs float4[] := '{}';
    m record;
BEGIN
    IF window_s IN ('NaN', 'Infinity', '-Infinity') OR hop_s IN ('NaN', 'Infinity', '-Infinity')
       OR NOT (window_s >= 1 AND hop_s >= 1) THEN
        RAISE EXCEPTION 'afp_shared_audio needs finite window_s >= 1 and hop_s >= 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('window_s is %s and hop_s is %s.', window_s, hop_s);
    END IF;
    -- Windows from the start every hop_s, and one ending at the end if the last stopped short of
    -- it; a fingerprint shorter than a window is one window.
    WHILE w + window_s <= duration LOOP
        starts := starts || w;
        w := w + hop_s;
    END LOOP;
    IF cardinality(starts) = 0 THEN
        starts := ARRAY[0::float8];
    ELSIF starts[cardinality(starts)] + window_s < duration - 1 THEN
        starts := starts || (duration - window_s);
    END IF;
    FOREACH w IN ARRAY starts LOOP
        FOR m IN SELECT r.track_id, r.title, r.offset_s, r.clip_start_s, r.clip_end_s, r.confidence
                 FROM @extschema@.match_afp(@extschema@.afp_slice(query, w, w + window_s), catalog, 10) r LOOP
            ids := ids || m.track_id;
            titles := titles || m.title;
            shifts := shifts || (m.offset_s - w);      -- track time minus query time
            firsts := firsts || (w + m.clip_start_s);
            lasts := lasts || (w + m.clip_end_s);
            confs := confs || m.confidence;
        END LOOP;
    END LOOP;
    -- Per track, the alignment most windows agree on, and the stretch of the query those windows
    -- cover. Windows agree when their alignments, in order, are less than half a second apart:
    -- a copy's alignment drifts by a frame or two from window to window, and bins of whole
    -- seconds (round()) split such windows wherever the alignment fell near a half second.
    RETURN QUERY
    SELECT DISTINCT ON (g.id) g.id, g.title, g.first, g.last, g.first + g.shift, g.n::int, g.conf
    FROM (SELECT c.id, min(c.title) AS title, min(c.first) AS first, max(c.last) AS last,
                 avg(c.shift) AS shift, count(*) AS n, max(c.conf) AS conf
          FROM (SELECT b.*, count(*) FILTER (WHERE b.gap >= 0.5)
                                OVER (PARTITION BY b.id ORDER BY b.shift, b.first ROWS UNBOUNDED PRECEDING) AS cluster
                FROM (SELECT u.*, u.shift - lag(u.shift) OVER (PARTITION BY u.id ORDER BY u.shift, u.first) AS gap
                      FROM unnest(ids, titles, shifts, firsts, lasts, confs)
                           u(id, title, shift, first, last, conf)) b) c
          GROUP BY c.id, c.cluster) g
    ORDER BY g.id, g.n DESC, g.last - g.first DESC;
END $$;
COMMENT ON FUNCTION afp_shared_audio(afp, regclass, float8, float8) IS
    'catalogue tracks that share audio with a fingerprint: where in it, where in the track, over how many windows';

-- Every pair of catalogue tracks that share at least min_shared_s of audio, each pair once (the
-- lower id first), with where the shared audio starts in each and how long it is: one
-- afp_shared_audio() per track.
CREATE FUNCTION afp_duplicates(
    catalog regclass DEFAULT afp_default_catalog(),
    min_shared_s float8 DEFAULT 10,
    OUT track_id bigint, OUT other_id bigint, OUT track_start_s float8, OUT other_start_s float8,
    OUT shared_s float8, OUT track_s float8, OUT other_s float8)
    RETURNS SETOF record
    LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cols record;
BEGIN
    SELECT c.id, c.fp INTO cols FROM @extschema@.afp_catalog_columns(catalog) c;
    RETURN QUERY EXECUTE format($q$
        WITH found AS (
            SELECT t.%1$I::bigint AS a, s.track_id AS b, s.start_s AS a_start, s.track_start_s AS b_start,
                   s.end_s - s.start_s AS shared, @extschema@.afp_duration(t.%2$I) AS a_len
            FROM %3$s t, LATERAL @extschema@.afp_shared_audio(t.%2$I, $1) s
            WHERE t.%2$I IS NOT NULL AND s.track_id <> t.%1$I),
        pairs AS (
            SELECT f.*, @extschema@.afp_duration(o.%2$I) AS b_len
            FROM found f JOIN %3$s o ON o.%1$I = f.b
            WHERE f.shared >= $2)
        SELECT DISTINCT ON (least(a, b), greatest(a, b))
               least(a, b), greatest(a, b),
               CASE WHEN a < b THEN a_start ELSE b_start END, CASE WHEN a < b THEN b_start ELSE a_start END,
               shared, CASE WHEN a < b THEN a_len ELSE b_len END, CASE WHEN a < b THEN b_len ELSE a_len END
        FROM pairs
        ORDER BY least(a, b), greatest(a, b), shared DESC$q$, cols.id, cols.fp, catalog)
    USING catalog, min_shared_s;
END $$;
COMMENT ON FUNCTION afp_duplicates(regclass, float8) IS
    'pairs of catalogue tracks that share audio (the same recording twice, or an excerpt), with offsets and lengths';

-- The shard protocol ----------------------------------------------------------------------
-- The version of the conversation between a sharded catalogue's coordinator and its shards
-- (src/pg/shardprotocol.h): the coordinator asks every shard first, and a shard of another version
-- is an error naming it, not a guess.
CREATE FUNCTION afp_shard_protocol() RETURNS int
    AS 'MODULE_PATHNAME', 'afp_shard_protocol' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION afp_shard_protocol() IS 'for a sharded catalogue''s coordinator: the shard protocol version this afp speaks';

-- afp_shard_vote also answers drift_pairs (shard protocol 2): the pairs near a vote's best offset
-- that it does not hold, by which the coordinator's searcher sees a clip drifting against a track
-- and votes it in the other renditions.
DROP FUNCTION afp_shard_vote(afp, bigint[], float8[], float8[], float8[]);
CREATE FUNCTION afp_shard_vote(
    query afp, ids bigint[], speeds float8[], tempos float8[], pitches float8[],
    OUT item int, OUT id bigint, OUT title text, OUT score int, OUT anchors int, OUT aligned_pairs int,
    OUT total_pairs int, OUT offset_frames float8, OUT clip_first_frame bigint, OUT clip_last_frame bigint,
    OUT log_chance float8, OUT drift_pairs int)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_shard_vote' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION afp_shard_vote(afp, bigint[], float8[], float8[], float8[]) IS 'for a sharded catalogue''s coordinator: full votes on this shard';
