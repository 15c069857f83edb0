-- afp 0.4.0 -> 0.5.0: what a shard of a sharded catalogue answers its coordinator (the afp_shards
-- extension, docs/scale-out.md), and the directory_bits option of afp_landmark indexes. The C
-- functions are in the module; nothing else changes.
\echo Use "ALTER EXTENSION afp UPDATE TO '0.5.0'" to load this file. \quit

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
    OUT log_chance float8)
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

-- The columns match_* read from a catalogue, by the rule they use (one rule, in C): an afp column
-- (or a domain over afp), an integer id (named id, or a one-column integer primary key), an
-- optional title. afp_catalog_column() and afp_catalog_stats() follow it; afp-plot reads it.
CREATE FUNCTION afp_catalog_columns(catalog regclass, OUT id name, OUT fp name, OUT title name)
    AS 'MODULE_PATHNAME', 'afp_catalog_columns' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION afp_catalog_columns(regclass) IS 'the id, afp and title columns match_clip reads from a catalogue';

CREATE OR REPLACE FUNCTION afp_catalog_column(catalog regclass) RETURNS name
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT c.fp FROM @extschema@.afp_catalog_columns(catalog) c $$;
