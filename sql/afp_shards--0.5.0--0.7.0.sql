-- afp_shards 0.5.0 -> 0.7.0: every call on a shard names afp's schema (a shard-side role could
-- otherwise shadow afp_shard_* on its search_path), and match_clip()/match_afp() default their
-- catalogue to NULL, the sharded afp_tracks, instead of a table of the coordinator's (since afp
-- 0.7.0 a database has no afp_tracks until afp_create_catalog() makes one). The coordinator in the
-- module checks every field of every shard's answer.
\echo Use "ALTER EXTENSION afp_shards UPDATE TO '0.7.0'" to load this file. \quit

-- Calls on shards. SPLIT + RUN ON parts sends the call to the partitions listed in parts, in
-- parallel (with modular_mapping, hash p is partition p), so the coordinator can leave out a
-- shard that failed when afp.shard_allow_partial is on. Every call names afp's schema (afp is in
-- the same schema on every node, docs/scale-out.md): unqualified, a role allowed to create objects
-- on a shard could put a function of its own before afp's on its search_path there.
DO $do$
DECLARE
    afp text := (SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e
                 JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'afp');
BEGIN
    -- The protocol version of each shard (shardprotocol.h), asked on first contact.
    EXECUTE pg_catalog.format($sql$
CREATE FUNCTION @extschema@.shard_protocol(parts int[], OUT version int)
    RETURNS SETOF int AS $$
    CLUSTER 'afp_shards';
    SPLIT parts;
    RUN ON parts;
    SELECT %1$s.afp_shard_protocol();
$$ LANGUAGE plproxy$sql$, afp);

    EXECUTE pg_catalog.format($sql$
CREATE OR REPLACE FUNCTION @extschema@.shard_estimates(
    parts int[], probes %1$s.afp[], bits int,
    OUT probe int, OUT directory_bits int, OUT catalog_rows float8, OUT estimates bigint[])
    RETURNS SETOF record AS $$
    CLUSTER 'afp_shards';
    SPLIT parts;
    RUN ON parts;
    SELECT probe, directory_bits, catalog_rows, estimates FROM %1$s.afp_shard_estimates(probes, bits);
$$ LANGUAGE plproxy$sql$, afp);

    EXECUTE pg_catalog.format($sql$
CREATE OR REPLACE FUNCTION @extschema@.shard_rank(
    parts int[], probes %1$s.afp[], max_postings bigint[], min_votes int[], limits int[],
    OUT probe int, OUT id bigint, OUT votes int)
    RETURNS SETOF record AS $$
    CLUSTER 'afp_shards';
    SPLIT parts;
    RUN ON parts;
    SELECT probe, id, votes FROM %1$s.afp_shard_rank(probes, max_postings, min_votes, limits);
$$ LANGUAGE plproxy$sql$, afp);

    -- A result of another shape: dropped and made again (protocol 2 adds drift_pairs).
    EXECUTE pg_catalog.format('DROP FUNCTION @extschema@.shard_vote(int[], %1$s.afp, bigint[], float8[], float8[], float8[])',
                              afp);
    EXECUTE pg_catalog.format($sql$
CREATE FUNCTION @extschema@.shard_vote(
    parts int[], query %1$s.afp, ids bigint[], speeds float8[], tempos float8[], pitches float8[],
    OUT item int, OUT id bigint, OUT title text, OUT score int, OUT anchors int, OUT aligned_pairs int,
    OUT total_pairs int, OUT offset_frames float8, OUT clip_first_frame bigint, OUT clip_last_frame bigint,
    OUT log_chance float8, OUT drift_pairs int)
    RETURNS SETOF record AS $$
    CLUSTER 'afp_shards';
    SPLIT parts;
    RUN ON parts;
    SELECT item, id, title, score, anchors, aligned_pairs, total_pairs, offset_frames, clip_first_frame,
           clip_last_frame, log_chance, drift_pairs
      FROM %1$s.afp_shard_vote(query, ids, speeds, tempos, pitches);
$$ LANGUAGE plproxy$sql$, afp);

    -- Routing: a track lives on partition abs(hashint8(id) % N).
    EXECUTE pg_catalog.format($sql$
CREATE OR REPLACE FUNCTION @extschema@.shard_insert(id bigint, title text, fp %1$s.afp, meta jsonb)
    RETURNS bigint AS $$
    CLUSTER 'afp_shards';
    RUN ON hashint8(id);
    SELECT %1$s.afp_shard_insert(id, title, fp, meta);
$$ LANGUAGE plproxy$sql$, afp);

    EXECUTE pg_catalog.format($sql$
CREATE OR REPLACE FUNCTION @extschema@.shard_delete(id bigint)
    RETURNS bigint AS $$
    CLUSTER 'afp_shards';
    RUN ON hashint8(id);
    SELECT %1$s.afp_shard_delete(id);
$$ LANGUAGE plproxy$sql$, afp);
END
$do$;

-- The sharded search, with the signature and result of afp's. The catalogue argument may be left
-- out (NULL: the sharded afp_tracks); a catalogue other than afp_tracks is refused. NULL for the
-- clip or max_results gives no rows, as a strict function would.
CREATE OR REPLACE FUNCTION match_clip(
    clip bytea,
    catalog regclass DEFAULT NULL,
    max_results int DEFAULT 5,
    OUT track_id bigint, OUT title text, OUT score int, OUT offset_s float8, OUT confidence float4,
    OUT matched_s float8, OUT clip_start_s float8, OUT clip_end_s float8,
    OUT track_start_s float8, OUT track_end_s float8, OUT speed float8, OUT tempo float8, OUT pitch float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_sharded_match_clip' LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE ROWS 5;
COMMENT ON FUNCTION match_clip(bytea, regclass, int) IS 'tracks of the sharded catalogue that contain the audio clip, best first, as one node would answer';

CREATE OR REPLACE FUNCTION match_afp(
    query afp,
    catalog regclass DEFAULT NULL,
    max_results int DEFAULT 5,
    OUT track_id bigint, OUT title text, OUT score int, OUT offset_s float8, OUT confidence float4,
    OUT matched_s float8, OUT clip_start_s float8, OUT clip_end_s float8,
    OUT track_start_s float8, OUT track_end_s float8, OUT speed float8, OUT tempo float8, OUT pitch float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'afp_sharded_match_afp' LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE ROWS 5;
COMMENT ON FUNCTION match_afp(afp, regclass, int) IS 'tracks of the sharded catalogue that contain the fingerprinted clip, best first, as one node would answer';
