-- afp 0.7.0: audio fingerprints inside PostgreSQL, installed in one script.
-- CREATE EXTENSION afp runs this file; an installation of an earlier version reaches the same
-- objects through the upgrade scripts (afp--0.1.0.sql, then afp--A--B.sql), and a test compares
-- the two (test/t/018_install_script.pl). Every object is created in the extension's schema; the
-- C functions schema-qualify whatever they look up, and the SQL-language code names pg_catalog.
-- The extension makes no catalogue: afp_create_catalog() does, owned by its caller.

\echo Use "CREATE EXTENSION afp" to load this file. \quit

-- The afp type ---------------------------------------------------------------

CREATE TYPE afp;

CREATE FUNCTION afp_in(cstring) RETURNS afp
    AS 'MODULE_PATHNAME', 'afp_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION afp_out(afp) RETURNS cstring
    AS 'MODULE_PATHNAME', 'afp_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION afp_recv(internal) RETURNS afp
    AS 'MODULE_PATHNAME', 'afp_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION afp_send(afp) RETURNS bytea
    AS 'MODULE_PATHNAME', 'afp_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE afp (
    INPUT = afp_in,
    OUTPUT = afp_out,
    RECEIVE = afp_recv,
    SEND = afp_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);

COMMENT ON TYPE afp IS 'audio fingerprint: a versioned, sorted set of (hash, time) landmarks';

-- Making and reading fingerprints --------------------------------------------

-- COST: decoding and analysing audio takes milliseconds per call.
CREATE FUNCTION fingerprint(audio bytea) RETURNS afp
    AS 'MODULE_PATHNAME', 'afp_fingerprint' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 100000;
COMMENT ON FUNCTION fingerprint(bytea) IS 'decodes audio (WAV, FLAC, Ogg Vorbis/Opus, MP3, ...) and returns its fingerprint';

CREATE FUNCTION afp_duration(afp) RETURNS float8
    AS 'MODULE_PATHNAME', 'afp_duration' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION afp_duration(afp) IS 'seconds of audio the fingerprint covers';

CREATE FUNCTION afp_landmark_count(afp) RETURNS int
    AS 'MODULE_PATHNAME', 'afp_landmark_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION afp_landmark_count(afp) IS 'number of landmarks in the fingerprint';

CREATE FUNCTION afp_param_set(afp) RETURNS int
    AS 'MODULE_PATHNAME', 'afp_param_set' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION afp_param_set(afp) IS 'id of the analysis parameter set that made the fingerprint';

CREATE FUNCTION afp_hashes(afp) RETURNS int4[]
    AS 'MODULE_PATHNAME', 'afp_hashes' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION afp_hashes(afp) IS 'distinct landmark hashes, ascending';

CREATE FUNCTION afp_landmarks(afp, OUT hash int4, OUT t_s float8) RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_landmarks' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION afp_landmarks(afp) IS 'every landmark as (hash, time in seconds), by hash then time';

-- Comparing fingerprints detoasts and decompresses them (~70 kB for a 3-minute track, ~0.1 ms):
-- cost them like it. At COST 1000 the planner, seeing a heap of a few pages (the fingerprints live
-- in TOAST), chose a sequential scan that evaluated % on every row: 34 ms instead of 1.2 ms
-- through the GIN index on an 11 h catalogue (docs/performance.md).
CREATE FUNCTION afp_shared_hashes(afp, afp) RETURNS int
    AS 'MODULE_PATHNAME', 'afp_shared_hashes' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10000;
COMMENT ON FUNCTION afp_shared_hashes(afp, afp) IS 'number of distinct hashes two fingerprints share';

-- Operators and the GIN operator class ----------------------------------------

CREATE FUNCTION afp_overlaps(afp, afp) RETURNS bool
    AS 'MODULE_PATHNAME', 'afp_overlaps' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10000;

-- STABLE: the threshold comes from the afp.min_shared_hashes setting.
CREATE FUNCTION afp_shares(afp, afp) RETURNS bool
    AS 'MODULE_PATHNAME', 'afp_shares' LANGUAGE C STABLE STRICT PARALLEL SAFE COST 10000;

CREATE OPERATOR && (
    LEFTARG = afp, RIGHTARG = afp, PROCEDURE = afp_overlaps,
    COMMUTATOR = &&, RESTRICT = contsel, JOIN = contjoinsel
);
COMMENT ON OPERATOR && (afp, afp) IS 'the fingerprints share at least one hash';

CREATE OPERATOR % (
    LEFTARG = afp, RIGHTARG = afp, PROCEDURE = afp_shares,
    COMMUTATOR = %, RESTRICT = contsel, JOIN = contjoinsel
);
COMMENT ON OPERATOR % (afp, afp) IS 'the fingerprints share at least afp.min_shared_hashes distinct hashes';

CREATE FUNCTION afp_gin_extract_value(afp, internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'afp_gin_extract_value' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION afp_gin_extract_query(afp, internal, int2, internal, internal, internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'afp_gin_extract_query' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION afp_gin_consistent(internal, int2, afp, int4, internal, internal, internal, internal) RETURNS bool
    AS 'MODULE_PATHNAME', 'afp_gin_consistent' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION afp_gin_triconsistent(internal, int2, afp, int4, internal, internal, internal) RETURNS "char"
    AS 'MODULE_PATHNAME', 'afp_gin_triconsistent' LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE OPERATOR CLASS afp_ops
    DEFAULT FOR TYPE afp USING gin AS
        OPERATOR 1 && (afp, afp),
        OPERATOR 2 % (afp, afp),
        FUNCTION 1 pg_catalog.btint4cmp(int4, int4),
        FUNCTION 2 afp_gin_extract_value(afp, internal, internal),
        FUNCTION 3 afp_gin_extract_query(afp, internal, int2, internal, internal, internal, internal),
        FUNCTION 4 afp_gin_consistent(internal, int2, afp, int4, internal, internal, internal, internal),
        FUNCTION 6 afp_gin_triconsistent(internal, int2, afp, int4, internal, internal, internal),
        STORAGE int4;

-- Slices -------------------------------------------------------------------------

CREATE FUNCTION afp_slice(fp afp, from_s float8, to_s float8) RETURNS afp
    AS 'MODULE_PATHNAME', 'afp_slice' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 100;
COMMENT ON FUNCTION afp_slice(afp, float8, float8) IS
    'the landmarks anchored between from_s and to_s seconds, with times relative to from_s';

-- The afp_landmark index ---------------------------------------------------------

-- track <~> query: minus the full vote's score of query against track (lower is a better match).
-- A sequential scan computes it for every row; an afp_landmark index orders by its own vote.
CREATE FUNCTION afp_vote_distance(afp, afp) RETURNS float8
    AS 'MODULE_PATHNAME', 'afp_vote_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10000;

CREATE OPERATOR <~> (
    LEFTARG = afp, RIGHTARG = afp, FUNCTION = afp_vote_distance
);
COMMENT ON OPERATOR <~> (afp, afp) IS 'minus the aligned hashes of the right fingerprint in the left one: ORDER BY fp <~> query finds the best matches';

CREATE FUNCTION afp_landmark_handler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME', 'afp_landmark_handler' LANGUAGE C;

CREATE ACCESS METHOD afp_landmark TYPE INDEX HANDLER afp_landmark_handler;
COMMENT ON ACCESS METHOD afp_landmark IS 'landmark postings (hash -> row, time) that vote on time offsets: ORDER BY fp <~> query LIMIT k';

CREATE OPERATOR CLASS afp_landmark_ops
    DEFAULT FOR TYPE afp USING afp_landmark AS
    OPERATOR 1 <~> (afp, afp) FOR ORDER BY float_ops;

-- What an afp_landmark index holds: rows, postings in runs (packed_postings), in the pending and
-- merging chains (pending_postings), cleared in chains by VACUUM and not yet merged away
-- (removed_postings), directory buckets of all runs, the largest bucket, pages, bytes, runs, and
-- pages the free space map holds for reuse.
CREATE FUNCTION afp_index_stats(index regclass,
    OUT rows bigint, OUT packed_postings bigint, OUT pending_postings bigint,
    OUT removed_postings bigint, OUT buckets bigint, OUT largest_bucket bigint,
    OUT pages bigint, OUT bytes bigint, OUT runs int, OUT free_pages bigint)
    AS 'MODULE_PATHNAME', 'afp_index_stats' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

-- Folds the pending postings and every run of an afp_landmark index together now (VACUUM and
-- autovacuum do the same); returns the postings of that run. For the table's owner.
CREATE FUNCTION afp_index_merge(index regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'afp_index_merge' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
REVOKE EXECUTE ON FUNCTION afp_index_merge(regclass) FROM PUBLIC;

-- Checks an afp_landmark index against its table: rows the current snapshot sees, postings stored,
-- landmarks of visible rows with no posting (missing), postings of no row (orphaned). Both 0 when healthy.
CREATE FUNCTION afp_index_check(index regclass,
    OUT rows bigint, OUT postings bigint, OUT missing bigint, OUT orphaned bigint)
    AS 'MODULE_PATHNAME', 'afp_index_check' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

-- afp_index_check() reads the whole index and table and holds a set of every row's landmarks
-- (about 6 MB per hour of catalogue): a maintenance tool for the index's owner and superusers,
-- not for every role that can connect.
REVOKE EXECUTE ON FUNCTION afp_index_check(regclass) FROM PUBLIC;

-- Catalogues ----------------------------------------------------------------------

-- The columns match_* read from a catalogue, by the rule they use (one rule, in C): an afp column
-- (or a domain over afp), an integer id (named id, or a one-column integer primary key), an
-- optional title. afp_catalog_column() and afp_catalog_stats() follow it; afp-plot reads it.
CREATE FUNCTION afp_catalog_columns(catalog regclass, OUT id name, OUT fp name, OUT title name)
    AS 'MODULE_PATHNAME', 'afp_catalog_columns' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION afp_catalog_columns(regclass) IS 'the id, afp and title columns match_clip reads from a catalogue';

CREATE FUNCTION afp_catalog_column(catalog regclass) RETURNS name
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT c.fp FROM @extschema@.afp_catalog_columns(catalog) c $$;

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

-- Recognition -------------------------------------------------------------------

CREATE FUNCTION match_clip(
    clip bytea,
    catalog regclass DEFAULT afp_default_catalog(),
    max_results int DEFAULT 5,
    OUT track_id bigint, OUT title text, OUT score int, OUT offset_s float8, OUT confidence float4,
    OUT matched_s float8, OUT clip_start_s float8, OUT clip_end_s float8,
    OUT track_start_s float8, OUT track_end_s float8, OUT speed float8, OUT tempo float8, OUT pitch float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_match_clip' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 5;
COMMENT ON FUNCTION match_clip(bytea, regclass, int) IS 'tracks of a catalogue (default afp_tracks) that contain the audio clip, best first';

CREATE FUNCTION match_afp(
    query afp,
    catalog regclass DEFAULT afp_default_catalog(),
    max_results int DEFAULT 5,
    OUT track_id bigint, OUT title text, OUT score int, OUT offset_s float8, OUT confidence float4,
    OUT matched_s float8, OUT clip_start_s float8, OUT clip_end_s float8,
    OUT track_start_s float8, OUT track_end_s float8, OUT speed float8, OUT tempo float8, OUT pitch float8)
RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_match_afp' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 5;
COMMENT ON FUNCTION match_afp(afp, regclass, int) IS 'tracks of a catalogue that contain the fingerprinted clip, best first';

CREATE FUNCTION match_segments(
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

CREATE FUNCTION afp_catalog_stats(
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

-- A shard of a sharded catalogue (the afp_shards extension, docs/scale-out.md) -------------

-- The postings this shard's afp_landmark index holds for each distinct hash of each probe,
-- counted in directory buckets of min(bits, the index's own) bits, with the bits used and the
-- rows of afp_tracks: the coordinator adds them up and plans each stage's index vote.
CREATE FUNCTION afp_shard_estimates(
    probes afp[], bits int,
    OUT probe int, OUT directory_bits int, OUT catalog_rows float8, OUT estimates bigint[])
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_shard_estimates' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION afp_shard_estimates(afp[], int) IS 'for a sharded catalogue''s coordinator: index postings per probe hash on this shard';

-- The index vote of each probe (already cut down to the coordinator's plan) with its budget and
-- minimum votes: the first limits[k] rows of afp_tracks and their ties.
CREATE FUNCTION afp_shard_rank(
    probes afp[], max_postings bigint[], min_votes int[], limits int[],
    OUT probe int, OUT id bigint, OUT votes int)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_shard_rank' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION afp_shard_rank(afp[], bigint[], int[], int[]) IS 'for a sharded catalogue''s coordinator: the index vote on this shard';

-- The full vote of the rows of afp_tracks with the given ids that this shard holds, item k in
-- rendition (speeds[k], tempos[k], pitches[k]), as raw evidence: confidence is the coordinator's.
CREATE FUNCTION afp_shard_vote(
    query afp, ids bigint[], speeds float8[], tempos float8[], pitches float8[],
    OUT item int, OUT id bigint, OUT title text, OUT score int, OUT anchors int, OUT aligned_pairs int,
    OUT total_pairs int, OUT offset_frames float8, OUT clip_first_frame bigint, OUT clip_last_frame bigint,
    OUT log_chance float8, OUT drift_pairs int)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_shard_vote' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION afp_shard_vote(afp, bigint[], float8[], float8[], float8[]) IS 'for a sharded catalogue''s coordinator: full votes on this shard';

-- A track the coordinator routed here, with the id it drew.
CREATE FUNCTION afp_shard_insert(id bigint, title text, fp afp, meta jsonb)
    RETURNS bigint LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
    AS $$ INSERT INTO @extschema@.afp_tracks (id, title, fp, meta) OVERRIDING SYSTEM VALUE
          VALUES ($1, $2, $3, $4) RETURNING id $$;
COMMENT ON FUNCTION afp_shard_insert(bigint, text, afp, jsonb) IS 'for a sharded catalogue''s coordinator: stores a track routed to this shard';

CREATE FUNCTION afp_shard_delete(id bigint)
    RETURNS bigint LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
    AS $$ WITH gone AS (DELETE FROM @extschema@.afp_tracks t WHERE t.id = $1 RETURNING 1)
          SELECT count(*) FROM gone $$;
COMMENT ON FUNCTION afp_shard_delete(bigint) IS 'for a sharded catalogue''s coordinator: removes a track from this shard';

-- The version of the conversation between a sharded catalogue's coordinator and its shards
-- (src/pg/shardprotocol.h): the coordinator asks every shard first, and a shard of another version
-- is an error naming it, not a guess.
CREATE FUNCTION afp_shard_protocol() RETURNS int
    AS 'MODULE_PATHNAME', 'afp_shard_protocol' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION afp_shard_protocol() IS 'for a sharded catalogue''s coordinator: the shard protocol version this afp speaks';

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
