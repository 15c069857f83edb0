-- afp 0.5.0 -> 0.6.0: the afp_landmark index's second layout (compressed, size-tiered runs merged
-- online by inserts, VACUUM and afp_index_merge()), and the functions that show and drive it.
\echo Use "ALTER EXTENSION afp UPDATE TO '0.6.0'" to load this file. \quit

-- What an afp_landmark index holds: rows, postings in runs (packed_postings), in the pending and
-- merging chains (pending_postings), cleared in chains by VACUUM and not yet merged away
-- (removed_postings), directory buckets of all runs, the largest bucket, pages, bytes, runs, and
-- pages the free space map holds for reuse.
DROP FUNCTION afp_index_stats(regclass);
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

-- Indexes of layout 1 (0.3.0 - 0.5.0) are rebuilt in the new layout here: the 0.6.0 library
-- refuses to read them (0A000, with a REINDEX hint) until they are.
DO $$
DECLARE
    idx regclass;
BEGIN
    FOR idx IN
        SELECT i.indexrelid::regclass
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_am am ON am.oid = c.relam
        WHERE am.amname = 'afp_landmark' AND c.relpersistence <> 't'
    LOOP
        EXECUTE format('REINDEX INDEX %s', idx);
    END LOOP;
END
$$;
