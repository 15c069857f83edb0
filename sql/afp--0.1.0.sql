-- afp 0.1.0: audio fingerprints inside PostgreSQL.
-- Every object is created in the extension's schema; the C functions schema-qualify
-- whatever they look up, and the SQL-language code below names pg_catalog explicitly.

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

-- The ready-made catalogue ------------------------------------------------------

CREATE TABLE afp_tracks (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title    text,
    fp       afp NOT NULL,
    meta     jsonb,
    added_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX afp_tracks_fp_idx ON afp_tracks USING gin (fp);
-- LZ4 decompresses fingerprints ~5x faster than pglz, and matching decompresses every candidate:
-- 31 ms -> 9 ms per match on an 11 h catalogue (docs/performance.md). Only where the server has it.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE afp_tracks ALTER COLUMN fp SET COMPRESSION lz4;
    END IF;
END $$;

COMMENT ON TABLE afp_tracks IS 'the default catalogue match_clip() searches';

-- Rows users insert are data, not part of the extension: pg_dump keeps them.
SELECT pg_catalog.pg_extension_config_dump('afp_tracks', '');
SELECT pg_catalog.pg_extension_config_dump('afp_tracks_id_seq', '');

-- Recognition -------------------------------------------------------------------

CREATE FUNCTION match_afp(
    query afp,
    catalog regclass DEFAULT 'afp_tracks',
    max_results int DEFAULT 5,
    OUT track_id bigint, OUT title text, OUT score int, OUT offset_s float8, OUT confidence float4,
    OUT matched_s float8, OUT clip_start_s float8, OUT clip_end_s float8,
    OUT track_start_s float8, OUT track_end_s float8, OUT speed float8)
RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_match_afp' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 5;
COMMENT ON FUNCTION match_afp(afp, regclass, int) IS 'tracks of a catalogue that contain the fingerprinted clip, best first';

CREATE FUNCTION match_clip(
    clip bytea,
    max_results int DEFAULT 5,
    OUT track_id bigint, OUT title text, OUT score int, OUT offset_s float8, OUT confidence float4,
    OUT matched_s float8, OUT clip_start_s float8, OUT clip_end_s float8,
    OUT track_start_s float8, OUT track_end_s float8, OUT speed float8)
RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_match_clip' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 5;
COMMENT ON FUNCTION match_clip(bytea, int) IS 'tracks of afp_tracks that contain the audio clip, best first';

CREATE FUNCTION match_clip(
    clip bytea,
    catalog regclass,
    max_results int DEFAULT 5,
    OUT track_id bigint, OUT title text, OUT score int, OUT offset_s float8, OUT confidence float4,
    OUT matched_s float8, OUT clip_start_s float8, OUT clip_end_s float8,
    OUT track_start_s float8, OUT track_end_s float8, OUT speed float8)
RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_match_clip' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 5;
COMMENT ON FUNCTION match_clip(bytea, regclass, int) IS 'tracks of a catalogue that contain the audio clip, best first';
