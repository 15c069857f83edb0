-- afp 0.2.0 -> 0.3.0: the afp_landmark index access method, which votes on time offsets inside
-- the index, its ordering operator <~>, and afp_tracks indexed by it.
\echo Use "ALTER EXTENSION afp UPDATE TO '0.3.0'" to load this file. \quit

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

-- What an afp_landmark index holds: rows, postings (packed by the build, pending since, removed by
-- VACUUM), directory buckets, the largest bucket, pages and bytes.
CREATE FUNCTION afp_index_stats(index regclass,
    OUT rows bigint, OUT packed_postings bigint, OUT pending_postings bigint,
    OUT removed_postings bigint, OUT buckets bigint, OUT largest_bucket bigint,
    OUT pages bigint, OUT bytes bigint)
    AS 'MODULE_PATHNAME', 'afp_index_stats' LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- Checks an afp_landmark index against its table: rows the current snapshot sees, postings stored,
-- landmarks of visible rows with no posting (missing), postings of no row (orphaned). Both 0 when healthy.
CREATE FUNCTION afp_index_check(index regclass,
    OUT rows bigint, OUT postings bigint, OUT missing bigint, OUT orphaned bigint)
    AS 'MODULE_PATHNAME', 'afp_index_check' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

-- The default catalogue gets the index match_clip() searches with. The GIN index stays: it serves
-- && and %, and catalogues without an afp_landmark index.
CREATE INDEX afp_tracks_fp_landmark_idx ON afp_tracks USING afp_landmark (fp);
