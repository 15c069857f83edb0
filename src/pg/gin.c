/*
 * gin.c — the afp_ops GIN operator class and the operators it serves.
 *
 * Keys are the distinct int4 hashes of a fingerprint. Two operators:
 *   a && b   a and b share at least one hash
 *   a %  b   a and b share at least afp.min_shared_hashes distinct hashes
 * Hashes carry their parameter set in bits 24..30, so fingerprints made with
 * different parameter sets share no key and never match each other.
 */
#include "afp_pg.h"

#include "access/gin.h"
#include "access/stratnum.h"

#define AFP_OVERLAP_STRATEGY 1
#define AFP_SHARES_STRATEGY 2

PG_FUNCTION_INFO_V1(afp_overlaps);
PG_FUNCTION_INFO_V1(afp_shares);
PG_FUNCTION_INFO_V1(afp_shared_hashes);
PG_FUNCTION_INFO_V1(afp_gin_extract_value);
PG_FUNCTION_INFO_V1(afp_gin_extract_query);
PG_FUNCTION_INFO_V1(afp_gin_consistent);
PG_FUNCTION_INFO_V1(afp_gin_triconsistent);

/* Distinct hashes shared by two fingerprints. */
static uint32
count_shared(const AfpDatum *a, const AfpDatum *b)
{
    return afp_core_count_shared(afp_body_hashes(&a->header), a->header.count,
                                 afp_body_hashes(&b->header), b->header.count);
}

/* How many keys a strategy needs to see before a row can satisfy it. */
static int32
required_keys(StrategyNumber strategy)
{
    return strategy == AFP_SHARES_STRATEGY ? afp_min_shared_hashes : 1;
}

/* a && b: at least one shared hash. */
Datum
afp_overlaps(PG_FUNCTION_ARGS)
{
    AfpDatum   *a = PG_GETARG_AFP_P(0);
    AfpDatum   *b = PG_GETARG_AFP_P(1);
    bool        result = count_shared(a, b) >= 1;

    PG_FREE_IF_COPY(a, 0);
    PG_FREE_IF_COPY(b, 1);
    PG_RETURN_BOOL(result);
}

/* a % b: at least afp.min_shared_hashes shared distinct hashes. */
Datum
afp_shares(PG_FUNCTION_ARGS)
{
    AfpDatum   *a = PG_GETARG_AFP_P(0);
    AfpDatum   *b = PG_GETARG_AFP_P(1);
    bool        result = count_shared(a, b) >= (uint32) afp_min_shared_hashes;

    PG_FREE_IF_COPY(a, 0);
    PG_FREE_IF_COPY(b, 1);
    PG_RETURN_BOOL(result);
}

/* The number of distinct hashes two fingerprints share. */
Datum
afp_shared_hashes(PG_FUNCTION_ARGS)
{
    AfpDatum   *a = PG_GETARG_AFP_P(0);
    AfpDatum   *b = PG_GETARG_AFP_P(1);
    int32       result = (int32) count_shared(a, b);

    PG_FREE_IF_COPY(a, 0);
    PG_FREE_IF_COPY(b, 1);
    PG_RETURN_INT32(result);
}

/* The distinct hashes of a fingerprint as int4 Datums, ascending (the datum is sorted). */
Datum *
afp_distinct_hashes(const AfpDatum *fp, int32 *nkeys)
{
    const int32 *hashes = afp_body_hashes(&fp->header);
    Datum      *keys;
    int32       n = 0;

    if (fp->header.count == 0)
    {
        *nkeys = 0;
        return NULL;
    }
    keys = palloc(sizeof(Datum) * fp->header.count);
    for (uint32 i = 0; i < fp->header.count; i++)
        if (i == 0 || hashes[i] != hashes[i - 1])
            keys[n++] = Int32GetDatum(hashes[i]);
    *nkeys = n;
    return keys;
}

/* extractValue: the keys of an indexed fingerprint. */
Datum
afp_gin_extract_value(PG_FUNCTION_ARGS)
{
    AfpDatum   *fp = PG_GETARG_AFP_P(0);
    int32      *nkeys = (int32 *) PG_GETARG_POINTER(1);
    Datum      *keys = afp_distinct_hashes(fp, nkeys);

    PG_FREE_IF_COPY(fp, 0);
    PG_RETURN_POINTER(keys);
}

/*
 * extractQuery: the keys of the query fingerprint. When the query has fewer
 * distinct hashes than the strategy needs, no row can match: report zero keys,
 * which GIN's default search mode answers with no rows without reading the index.
 */
Datum
afp_gin_extract_query(PG_FUNCTION_ARGS)
{
    AfpDatum   *query = PG_GETARG_AFP_P(0);
    int32      *nkeys = (int32 *) PG_GETARG_POINTER(1);
    StrategyNumber strategy = PG_GETARG_UINT16(2);
    int32      *search_mode = (int32 *) PG_GETARG_POINTER(6);
    Datum      *keys = afp_distinct_hashes(query, nkeys);

    *search_mode = GIN_SEARCH_MODE_DEFAULT;
    if (*nkeys > afp_max_query_hashes)
        ereport(ERROR,
                (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                 errmsg("afp value has more distinct hashes than afp.max_query_hashes (%d) allows in an index scan",
                        afp_max_query_hashes),
                 errdetail("The value has %d distinct hashes.", *nkeys),
                 errhint("Search with a shorter clip (afp_slice), or ask a superuser to raise afp.max_query_hashes.")));
    if (*nkeys < required_keys(strategy))
        *nkeys = 0;
    PG_FREE_IF_COPY(query, 0);
    PG_RETURN_POINTER(keys);
}

/*
 * Counts the bytes of check[0..n) equal to value, stopping at limit. memchr
 * skips runs of other bytes many at a time: GIN's scan setup calls
 * triConsistent once per key with every key set, so a loop over all keys at
 * every call costs the square of the query's keys (80,000 keys: 6.3 s).
 */
static int32
count_up_to(const void *check, int32 n, unsigned char value, int32 limit)
{
    const char *p = check;
    const char *end = p + n;
    int32       count = 0;

    while (count < limit && p < end && (p = memchr(p, value, end - p)) != NULL)
    {
        count++;
        p++;
    }
    return count;
}

/*
 * consistent: the number of true entries in check[] is exactly the number of
 * distinct query hashes the row contains, because the keys are the distinct
 * hashes on both sides. So "count >= required" is not merely an upper bound
 * for the operator but equal to it, and no recheck is needed. match_clip()
 * relies on this: its score (distinct hashes aligned at one offset) is at most
 * the number of distinct shared hashes, so any row scoring at least
 * afp.min_shared_hashes is returned by the index.
 */
Datum
afp_gin_consistent(PG_FUNCTION_ARGS)
{
    bool       *check = (bool *) PG_GETARG_POINTER(0);
    StrategyNumber strategy = PG_GETARG_UINT16(1);
    int32       nkeys = PG_GETARG_INT32(3);
    bool       *recheck = (bool *) PG_GETARG_POINTER(5);
    int32       need = required_keys(strategy);

    StaticAssertStmt(sizeof(bool) == 1, "check[] is scanned as bytes");
    *recheck = false;
    PG_RETURN_BOOL(count_up_to(check, nkeys, (unsigned char) true, need) >= need);
}

/*
 * triConsistent: TRUE once enough keys are known present, FALSE once even all
 * the MAYBE keys could not reach the threshold, MAYBE otherwise. Returning
 * FALSE whenever (true + maybe) < need is what lets GIN's fast scan treat the
 * need - 1 most frequent keys as optional: it drives the scan from the rarest
 * posting lists and only probes the common ones, so a hash found in most
 * tracks does not make a query read most of the index.
 */
Datum
afp_gin_triconsistent(PG_FUNCTION_ARGS)
{
    GinTernaryValue *check = (GinTernaryValue *) PG_GETARG_POINTER(0);
    StrategyNumber strategy = PG_GETARG_UINT16(1);
    int32       nkeys = PG_GETARG_INT32(3);
    int32       need = required_keys(strategy);
    int32       found;

    StaticAssertStmt(sizeof(GinTernaryValue) == 1, "check[] is scanned as bytes");
    found = count_up_to(check, nkeys, GIN_TRUE, need);
    if (found >= need)
        PG_RETURN_GIN_TERNARY_VALUE(GIN_TRUE);
    if (found + count_up_to(check, nkeys, GIN_MAYBE, need - found) >= need)
        PG_RETURN_GIN_TERNARY_VALUE(GIN_MAYBE);
    PG_RETURN_GIN_TERNARY_VALUE(GIN_FALSE);
}
