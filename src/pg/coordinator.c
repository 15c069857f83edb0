/*
 * coordinator.c — match_clip() and match_afp() over a catalogue sharded across
 * databases (the afp_shards extension): the one search of one node (search.c,
 * the core's Searcher) with the shards as its candidate source, each step sent
 * to every shard in parallel through PL/Proxy. This file is transport: the
 * calls, the checks of what shards answer, and their failures. Each step is:
 *
 *   1. the plan: each shard counts the postings of every probe hash in its
 *      directory (afp_shard_estimates); the counts add up to those of one index
 *      holding every shard's rows, and the Searcher plans with the sums exactly
 *      as one index would;
 *   2. the candidates: each shard votes with the planned hashes only and returns
 *      its best rows with their votes, ties at the limit included
 *      (afp_shard_rank); a row's votes depend on its own postings alone, so the
 *      Searcher's tie rule (votes, then id) takes the rows one index takes;
 *   3. the scores: the shards vote the chosen rows in full and return the raw
 *      evidence (afp_shard_vote); the Searcher scores them against every row
 *      of every shard and every rendition tried, as it does for one node.
 *
 * docs/design.md proves the answer equal to one node's; docs/scale-out.md says
 * how to set the cluster up. A shard that fails is named in the error; with
 * afp.shard_allow_partial the other shards' answer is returned with a warning.
 */
#include "search.h"
#include "shardprotocol.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include <math.h>

PG_FUNCTION_INFO_V1(afp_sharded_match_clip);
PG_FUNCTION_INFO_V1(afp_sharded_match_afp);

/* The PL/Proxy cluster: a foreign server of the plproxy wrapper with options p0 ... pN-1. */
#define SHARD_CLUSTER "afp_shards"

/* The shards of the cluster and which of them still answer. */
typedef struct ShardSet
{
    int         n;
    char      **connstr;        /* p0 ... pN-1, as configured (for messages) */
    bool       *live;
    int         failed;         /* shards dropped under afp.shard_allow_partial */
    StringInfoData failures;    /* what they said */
    Oid         afp_type;
    Oid         afp_array_type;
    const char *schema;         /* of the PL/Proxy functions, quoted */
    MemoryContext cxt;          /* where results are copied */
    List       *secrets;        /* the passwords of connstr, as written there (scrubbed from messages) */
} ShardSet;

/* Rows returned by one call, copied out of SPI. */
typedef struct ShardRows
{
    int         n;
    HeapTuple  *tuples;
    TupleDesc   desc;
} ShardRows;

/*
 * Checks one answer of nparts shards before any of its values is used, and raises
 * ERRCODE_PROTOCOL_VIOLATION when it is malformed: a shard may run an old or broken
 * afp, and nothing it sends may crash the coordinator.
 */
typedef void (*ShardCheck) (const ShardRows *rows, int nparts, const void *arg);

/*
 * The shards (their connection strings, as configured) whose protocol this session has checked:
 * asked on first contact, and again whenever the cluster's partitions change.
 */
static char *protocol_checked_for = NULL;

/* Whether c may be part of a connection-string keyword. */
static bool
is_keyword_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * text with its secrets left out, for messages: every keyword=value pair whose
 * keyword ends in "password" (password, sslpassword; the value quoted or not)
 * and the password of a URI's user:password@ part. Connection strings are shown
 * to whoever calls the sharded functions, and go to the server log. A message
 * (not a connection string) also ends an unquoted value at a double quote.
 *
 * Values end where libpq ends them, or later: libpq ends a URI's user:password
 * part only at the first '@' (or '/' before it) and a URI query value only at
 * '&', so a password holding '?', a space or a quote is left out whole (ending
 * them at those characters showed the rest of the password).
 *
 * With secrets, each value left out is appended to it (palloc'd), as written.
 */
static char *
redact_secrets(const char *text, bool message, List **secrets)
{
    StringInfoData out;
    const char *p = text;
    bool        uri = false;

    initStringInfo(&out);
    while (*p)
    {
        /* key [spaces] = [spaces] value, key ending in "password" */
        if (is_keyword_char(*p) && (p == text || !is_keyword_char(p[-1])))
        {
            const char *key_end = p;
            const char *q;

            while (is_keyword_char(*key_end))
                key_end++;
            q = key_end;
            while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
                q++;
            if (*q == '=' && key_end - p >= 8 && pg_strncasecmp(key_end - 8, "password", 8) == 0)
            {
                const char *value;

                q++;
                while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
                    q++;
                value = q;
                if (uri && !message)
                    /* A URI query value ends only at '&' (libpq keeps its quotes and spaces). */
                    while (*q && *q != '&')
                        q++;
                else if (*q == '\'')
                {
                    for (q++; *q && *q != '\''; q++)
                        if (*q == '\\' && q[1])
                            q++;
                    if (*q)
                        q++;
                }
                else
                    /* A value ends at white space; in a URI's query at '&'; in a message at a quote too. */
                    while (*q && *q != ' ' && *q != '\t' && *q != '\n' && *q != '\r' && !(uri && *q == '&') &&
                           !(message && *q == '"'))
                    {
                        if (*q == '\\' && q[1])
                            q++;
                        q++;
                    }
                if (secrets != NULL && q > value)
                {
                    /* A quoted value as libpq reads it: inside its quotes. */
                    bool        quoted = *value == '\'' && !(uri && !message);
                    const char *v_end = quoted && q > value + 1 && q[-1] == '\'' ? q - 1 : q;

                    if (quoted)
                        value++;
                    if (v_end > value)
                        *secrets = lappend(*secrets, pnstrdup(value, v_end - value));
                }
                /* the pair and the separator after it */
                while (*q == ' ' || *q == '&')
                    q++;
                p = q;
                continue;
            }
            appendBinaryStringInfo(&out, p, key_end - p);
            p = key_end;
            continue;
        }
        /* scheme://user:password@host */
        if (p[0] == ':' && p[1] == '/' && p[2] == '/')
        {
            const char *auth = p + 3;
            /* As libpq reads it: up to the first '@', unless a '/' comes before. */
            const char *end = auth + strcspn(auth, "/@");
            const char *colon = memchr(auth, ':', end - auth);

            uri = true;
            appendStringInfoString(&out, "://");
            if (*end == '@' && colon != NULL)
            {
                if (secrets != NULL && end > colon + 1)
                    *secrets = lappend(*secrets, pnstrdup(colon + 1, end - colon - 1));
                appendBinaryStringInfo(&out, auth, colon - auth);
                p = end;
            }
            else
                p = auth;
            continue;
        }
        appendStringInfoChar(&out, *p++);
    }
    return out.data;
}

/*
 * text with every secret (of at least 4 bytes: a shorter one would take common
 * letters out of every message) left out, wherever it appears: libpq quotes a
 * token of the connection string it cannot read (an invalid percent-encoding of a
 * URI is the password itself) in messages that name no keyword.
 */
static char *
scrub_secrets(const char *text, const List *secrets)
{
    ListCell   *lc;
    char       *result = pstrdup(text);

    foreach(lc, secrets)
    {
        const char *secret = lfirst(lc);
        size_t      len = strlen(secret);
        StringInfoData out;
        const char *p = result;
        const char *hit;

        if (len < 4)
            continue;
        initStringInfo(&out);
        while ((hit = strstr(p, secret)) != NULL)
        {
            appendBinaryStringInfo(&out, p, hit - p);
            p = hit + len;
        }
        appendStringInfoString(&out, p);
        result = out.data;
    }
    return result;
}

/* What a shard said, without secrets: as redact_secrets, then every secret of the shards scrubbed. */
static char *
shard_message(const ShardSet *set, const char *text)
{
    return text ? scrub_secrets(redact_secrets(text, true, NULL), set->secrets) : NULL;
}

/* The partitions of the cluster, from the foreign server's options (SPI connected). */
static void
load_shards(ShardSet *set)
{
    int         ret;

    ret = SPI_execute("SELECT o.option_value FROM pg_catalog.pg_foreign_server s "
                      "JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw, "
                      "pg_catalog.pg_options_to_table(s.srvoptions) o "
                      "WHERE s.srvname = '" SHARD_CLUSTER "' AND w.fdwname = 'plproxy' "
                      "AND o.option_name ~ '^p[0-9]+$' "
                      "ORDER BY substr(o.option_name, 2)::int", true, 0);
    if (ret != SPI_OK_SELECT)
        elog(ERROR, "reading the shard cluster failed: %s", SPI_result_code_string(ret));
    if (SPI_processed == 0)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_OBJECT),
                 errmsg("no shards are configured"),
                 errhint("Create the PL/Proxy cluster: CREATE SERVER " SHARD_CLUSTER " FOREIGN DATA WRAPPER plproxy "
                         "OPTIONS (modular_mapping '1', p0 'host=... dbname=...', p1 '...'); "
                         "see docs/scale-out.md.")));
    set->n = (int) SPI_processed;
    set->connstr = MemoryContextAlloc(set->cxt, sizeof(char *) * set->n);
    set->live = MemoryContextAlloc(set->cxt, sizeof(bool) * set->n);
    set->secrets = NIL;
    for (int p = 0; p < set->n; p++)
    {
        char       *value = SPI_getvalue(SPI_tuptable->vals[p], SPI_tuptable->tupdesc, 1);
        MemoryContext old = MemoryContextSwitchTo(set->cxt);

        /* Only ever shown: without its secrets, which are kept to scrub from what the shards say. */
        set->connstr[p] = redact_secrets(value ? value : "", false, &set->secrets);
        MemoryContextSwitchTo(old);
        set->live[p] = true;
    }
    set->failed = 0;
    {
        /* Read after SPI_finish (the partial answer's warning): in the function's context, not SPI's. */
        MemoryContext old = MemoryContextSwitchTo(set->cxt);

        initStringInfo(&set->failures);
        MemoryContextSwitchTo(old);
    }
}

/* The int4[] of the given partitions (RUN ON it: with modular_mapping, hash p is partition p). */
static Datum
partitions_array(const ShardSet *set, int only)
{
    Datum      *elems = palloc(sizeof(Datum) * set->n);
    int         k = 0;

    for (int p = 0; p < set->n; p++)
        if (only >= 0 ? p == only : set->live[p])
            elems[k++] = Int32GetDatum(p);
    return PointerGetDatum(construct_array(elems, k, INT4OID, 4, true, TYPALIGN_INT));
}

/*
 * Runs one call (args[0] is the partitions array, filled here) in a
 * subtransaction; on success copies its rows into set->cxt and returns true, on
 * failure returns false with the error in *error (a cancel is rethrown).
 */
static bool
try_call(ShardSet *set, const char *sql, int nargs, Oid *argtypes, Datum *args, ShardCheck check, const void *arg,
         int nparts, ShardRows *rows, ErrorData **error)
{
    MemoryContext caller = CurrentMemoryContext;
    ResourceOwner owner = CurrentResourceOwner;
    volatile bool ok = false;

    BeginInternalSubTransaction(NULL);
    MemoryContextSwitchTo(caller);
    PG_TRY();
    {
        int         ret = SPI_execute_with_args(sql, nargs, argtypes, args, NULL, true, 0);
        MemoryContext old;

        if (ret != SPI_OK_SELECT)
            elog(ERROR, "a shard call failed: %s", SPI_result_code_string(ret));
        old = MemoryContextSwitchTo(set->cxt);
        rows->n = (int) SPI_processed;
        rows->desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
        rows->tuples = palloc(sizeof(HeapTuple) * Max(rows->n, 1));
        for (int i = 0; i < rows->n; i++)
            rows->tuples[i] = heap_copytuple(SPI_tuptable->vals[i]);
        MemoryContextSwitchTo(old);
        SPI_freetuptable(SPI_tuptable);
        /* A malformed answer fails the call as an error of the shards would. */
        check(rows, nparts, arg);
        ReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(caller);
        CurrentResourceOwner = owner;
        ok = true;
    }
    PG_CATCH();
    {
        ErrorData  *edata;

        MemoryContextSwitchTo(set->cxt);
        edata = CopyErrorData();
        FlushErrorState();
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(caller);
        CurrentResourceOwner = owner;
        /* Cancels and statement timeouts end the query as they would anywhere. */
        if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
            ReThrowError(edata);
        /* What the shards said is shown and logged: without secrets. */
        edata->message = shard_message(set, edata->message);
        edata->detail = shard_message(set, edata->detail);
        edata->context = shard_message(set, edata->context);
        edata->hint = shard_message(set, edata->hint);
        *error = edata;
    }
    PG_END_TRY();
    return ok;
}

/* Raises the error of a shard that failed, naming it. */
static void
raise_shard_error(const ShardSet *set, int p, const ErrorData *edata) pg_attribute_noreturn();

static void
raise_shard_error(const ShardSet *set, int p, const ErrorData *edata)
{
    /*
     * PL/Proxy reports unreachable and broken connections without a code of their
     * own; a malformed answer keeps its 08P01.
     */
    /* A shard without afp_shard_protocol() runs an afp older than the protocol check: 08P01 too. */
    int         code = edata->sqlerrcode == ERRCODE_PROTOCOL_VIOLATION || edata->sqlerrcode == ERRCODE_UNDEFINED_FUNCTION
        ? ERRCODE_PROTOCOL_VIOLATION
        : edata->sqlerrcode == ERRCODE_INTERNAL_ERROR || ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION
        ? ERRCODE_CONNECTION_FAILURE : edata->sqlerrcode;

    ereport(ERROR,
            (errcode(code),
             errmsg("shard p%d of cluster \"%s\" failed", p, SHARD_CLUSTER),
             errdetail("p%d is \"%s\"; it said: %s", p, set->connstr[p], edata->message),
             code == ERRCODE_PROTOCOL_VIOLATION
             ? errhint("Every shard and the coordinator must run the same version of afp, in the same schema. "
                       "SET afp.shard_allow_partial = on answers from the other shards, with a warning.")
             : errhint("Check that shard's server. SET afp.shard_allow_partial = on answers from the other shards, with a warning.")));
}

/*
 * Runs sql (its first argument the partitions) on every live shard at once. When
 * that fails, each shard is called alone to find which failed: its error is
 * raised, or, under afp.shard_allow_partial, it is dropped and the others' rows
 * are returned.
 */
static ShardRows
call_shards(ShardSet *set, const char *sql, int nargs, Oid *argtypes, Datum *args, ShardCheck check, const void *arg)
{
    ShardRows   rows = {0};
    ErrorData  *error = NULL;
    ShardRows   merged = {0};
    int         first_failed = -1;
    ErrorData  *first_error = NULL;

    args[0] = partitions_array(set, -1);
    if (try_call(set, sql, nargs, argtypes, args, check, arg, set->n - set->failed, &rows, &error))
        return rows;

    for (int p = 0; p < set->n; p++)
    {
        ShardRows   one = {0};
        ErrorData  *one_error = NULL;

        if (!set->live[p])
            continue;
        args[0] = partitions_array(set, p);
        if (try_call(set, sql, nargs, argtypes, args, check, arg, 1, &one, &one_error))
        {
            MemoryContext old = MemoryContextSwitchTo(set->cxt);

            merged.desc = one.desc;
            merged.tuples = merged.tuples == NULL ? palloc(sizeof(HeapTuple) * Max(one.n, 1))
                : repalloc(merged.tuples, sizeof(HeapTuple) * Max(merged.n + one.n, 1));
            memcpy(merged.tuples + merged.n, one.tuples, sizeof(HeapTuple) * one.n);
            merged.n += one.n;
            MemoryContextSwitchTo(old);
            continue;
        }
        if (first_failed < 0)
        {
            first_failed = p;
            first_error = one_error;
        }
        if (!afp_shard_allow_partial)
            raise_shard_error(set, p, one_error);
        set->live[p] = false;
        set->failed++;
        appendStringInfo(&set->failures, "%sp%d (%s): %s", set->failures.len > 0 ? "; " : "", p,
                         set->connstr[p], one_error->message);
    }
    if (first_failed < 0)
        /* Together they failed, alone each answered: a problem of the call itself. */
        ReThrowError(error);
    if (set->failed == set->n)
        raise_shard_error(set, first_failed, first_error);
    return merged;
}

static Datum
column(const ShardRows *rows, int i, int attnum, bool *isnull)
{
    return heap_getattr(rows->tuples[i], attnum, rows->desc, isnull);
}

/* A malformed answer of the shard function fn: 08P01, which raise_shard_error keeps. */
#define MALFORMED(fn, ...) \
    ereport(ERROR, \
            (errcode(ERRCODE_PROTOCOL_VIOLATION), \
             errmsg("malformed answer of %s: %s", fn, psprintf(__VA_ARGS__))))

/* The columns of an answer have the types the protocol says. */
static void
check_columns(const ShardRows *rows, const char *fn, const Oid *types, int n)
{
    if (rows->desc->natts != n)
        MALFORMED(fn, "%d columns instead of %d", rows->desc->natts, n);
    for (int a = 0; a < n; a++)
        if (TupleDescAttr(rows->desc, a)->atttypid != types[a])
            MALFORMED(fn, "column %d is of type %s instead of %s", a + 1,
                      format_type_be(TupleDescAttr(rows->desc, a)->atttypid), format_type_be(types[a]));
}

/* Column attnum of row i, which must not be NULL. */
static Datum
required(const ShardRows *rows, int i, int attnum, const char *fn)
{
    bool        isnull;
    Datum       value = column(rows, i, attnum, &isnull);

    if (isnull)
        MALFORMED(fn, "%s is NULL", NameStr(TupleDescAttr(rows->desc, attnum - 1)->attname));
    return value;
}

/* What afp_shard_estimates must answer: one row per probe and shard, one count per distinct hash. */
typedef struct EstimatesShape
{
    int         nprobes;
    const uint32 *nhashes;
} EstimatesShape;

static void
check_estimates(const ShardRows *rows, int nparts, const void *arg)
{
    const EstimatesShape *shape = (const EstimatesShape *) arg;
    const char *fn = "afp_shard_estimates";
    static const Oid types[SHARD_ESTIMATES_NATTS] = SHARD_ESTIMATES_TYPES;
    int        *answers = palloc0(sizeof(int) * Max(shape->nprobes, 1));

    check_columns(rows, fn, types, SHARD_ESTIMATES_NATTS);
    for (int i = 0; i < rows->n; i++)
    {
        int32       probe = DatumGetInt32(required(rows, i, SHARD_ESTIMATES_PROBE, fn));
        int32       bits = DatumGetInt32(required(rows, i, SHARD_ESTIMATES_BITS, fn));
        double      catalog_rows = DatumGetFloat8(required(rows, i, SHARD_ESTIMATES_ROWS, fn));
        ArrayType  *counts = DatumGetArrayTypeP(required(rows, i, SHARD_ESTIMATES_COUNTS, fn));
        int         n;
        const int64 *c;

        if (probe < 1 || probe > shape->nprobes)
            MALFORMED(fn, "probe %d, of %d asked for", probe, shape->nprobes);
        if (bits != SHARD_COUNTS_PER_HASH)
            MALFORMED(fn, "directory_bits %d: protocol %d counts per hash (%d)", bits, AFP_SHARD_PROTOCOL,
                      SHARD_COUNTS_PER_HASH);
        if (isnan(catalog_rows) || isinf(catalog_rows) || catalog_rows < 0)
            MALFORMED(fn, "catalog_rows %g", catalog_rows);
        if (ARR_NDIM(counts) > 1 || ARR_HASNULL(counts) || ARR_ELEMTYPE(counts) != INT8OID)
            MALFORMED(fn, "the estimates of probe %d are not a one-dimensional bigint array without NULLs", probe);
        n = ArrayGetNItems(ARR_NDIM(counts), ARR_DIMS(counts));
        if ((uint32) n != shape->nhashes[probe - 1])
            MALFORMED(fn, "%d estimates for probe %d, which has %u distinct hashes", n, probe, shape->nhashes[probe - 1]);
        c = (const int64 *) ARR_DATA_PTR(counts);
        for (int k = 0; k < n; k++)
            if (c[k] < 0)
                MALFORMED(fn, "estimate %lld for a hash of probe %d", (long long) c[k], probe);
        answers[probe - 1]++;
    }
    /* A probe left out or answered twice would count its postings wrong. */
    for (int s = 0; s < shape->nprobes; s++)
        if (answers[s] != nparts)
            MALFORMED(fn, "probe %d answered %d times by %d shard(s)", s + 1, answers[s], nparts);
}

/* What afp_shard_rank must answer: rows of the stages asked for, with their votes (an id may be NULL). */
static void
check_rank(const ShardRows *rows, int nparts, const void *arg)
{
    int         nstages = *(const int *) arg;
    const char *fn = "afp_shard_rank";
    static const Oid types[SHARD_RANK_NATTS] = SHARD_RANK_TYPES;

    check_columns(rows, fn, types, SHARD_RANK_NATTS);
    for (int i = 0; i < rows->n; i++)
    {
        int32       probe = DatumGetInt32(required(rows, i, SHARD_RANK_PROBE, fn));
        int32       votes = DatumGetInt32(required(rows, i, SHARD_RANK_VOTES, fn));

        if (probe < 1 || probe > nstages)
            MALFORMED(fn, "probe %d, of %d asked for", probe, nstages);
        if (votes < 0)
            MALFORMED(fn, "votes %d", votes);
    }
}

/* What afp_shard_vote must answer: votes of the items asked for, each for the item's own id. */
typedef struct VotesShape
{
    int         nitems;
    const int64 *ids;
} VotesShape;

static void
check_votes(const ShardRows *rows, int nparts, const void *arg)
{
    const VotesShape *shape = (const VotesShape *) arg;
    const char *fn = "afp_shard_vote";
    static const Oid types[SHARD_VOTE_NATTS] = SHARD_VOTE_TYPES;

    check_columns(rows, fn, types, SHARD_VOTE_NATTS);
    for (int i = 0; i < rows->n; i++)
    {
        int32       item = DatumGetInt32(required(rows, i, SHARD_VOTE_ITEM, fn));
        int64       id = DatumGetInt64(required(rows, i, SHARD_VOTE_ID, fn));
        double      offset_frames = DatumGetFloat8(required(rows, i, SHARD_VOTE_OFFSET_FRAMES, fn));
        int64       first = DatumGetInt64(required(rows, i, SHARD_VOTE_CLIP_FIRST_FRAME, fn));
        int64       last = DatumGetInt64(required(rows, i, SHARD_VOTE_CLIP_LAST_FRAME, fn));
        double      log_chance = DatumGetFloat8(required(rows, i, SHARD_VOTE_LOG_CHANCE, fn));
        int32       drift_pairs = DatumGetInt32(required(rows, i, SHARD_VOTE_DRIFT_PAIRS, fn));

        if (item < 1 || item > shape->nitems)
            MALFORMED(fn, "item %d, of %d asked for", item, shape->nitems);
        if (id != shape->ids[item - 1])
            MALFORMED(fn, "id %lld for item %d, which asked for id %lld", (long long) id, item,
                      (long long) shape->ids[item - 1]);
        for (int a = SHARD_VOTE_SCORE; a <= SHARD_VOTE_TOTAL_PAIRS; a++)
            if (DatumGetInt32(required(rows, i, a, fn)) < 0)
                MALFORMED(fn, "%s %d", NameStr(TupleDescAttr(rows->desc, a - 1)->attname),
                          DatumGetInt32(required(rows, i, a, fn)));
        if (isnan(offset_frames) || isinf(offset_frames))
            MALFORMED(fn, "offset_frames %g", offset_frames);
        if (first < 0 || last > (int64) PG_UINT32_MAX || first > last)
            MALFORMED(fn, "clip frames %lld to %lld", (long long) first, (long long) last);
        /* NaN would make the ranking's comparisons inconsistent. */
        if (isnan(log_chance))
            MALFORMED(fn, "log_chance NaN");
        if (drift_pairs < 0)
            MALFORMED(fn, "drift_pairs %d", drift_pairs);
    }
}

/* Builds an array of afp values. */
static Datum
afp_array(const ShardSet *set, AfpDatum **values, int n)
{
    Datum      *elems = palloc(sizeof(Datum) * Max(n, 1));

    for (int i = 0; i < n; i++)
        elems[i] = PointerGetDatum(values[i]);
    return PointerGetDatum(construct_array(elems, n, set->afp_type, -1, false, TYPALIGN_INT));
}

static Datum
int8_array(const int64 *values, int n)
{
    Datum      *elems = palloc(sizeof(Datum) * Max(n, 1));

    for (int i = 0; i < n; i++)
        elems[i] = Int64GetDatum(values[i]);
    return PointerGetDatum(construct_array(elems, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static Datum
int4_array(const int32 *values, int n)
{
    Datum      *elems = palloc(sizeof(Datum) * Max(n, 1));

    for (int i = 0; i < n; i++)
        elems[i] = Int32GetDatum(values[i]);
    return PointerGetDatum(construct_array(elems, n, INT4OID, 4, true, TYPALIGN_INT));
}

static Datum
float8_array(const double *values, int n)
{
    Datum      *elems = palloc(sizeof(Datum) * Max(n, 1));

    for (int i = 0; i < n; i++)
        elems[i] = Float8GetDatum(values[i]);
    return PointerGetDatum(construct_array(elems, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* Votes items (row id, rendition) on the shards that hold the rows: afp_shard_vote's rows. */
static ShardRows
vote_on_shards(ShardSet *set, AfpDatum *query, const int64 *ids, const double *speeds, const double *tempos,
               const double *pitches, int n)
{
    Oid         argtypes[6] = {INT4ARRAYOID, set->afp_type, INT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID};
    Datum       args[6] = {0, PointerGetDatum(query), int8_array(ids, n), float8_array(speeds, n),
                           float8_array(tempos, n), float8_array(pitches, n)};

    VotesShape  shape = {n, ids};

    return call_shards(set, psprintf("SELECT " SHARD_VOTE_COLUMNS " FROM %s.shard_vote($1, $2, $3, $4, $5, $6)",
                                     set->schema),
                       6, argtypes, args, check_votes, &shape);
}

/* Row i of vote_on_shards: its item (0-based) and the vote, exactly as the shard's core computed it. */
static int
vote_of(const ShardRows *rows, int i, AfpVote *vote)
{
    bool        isnull;

    vote->score = DatumGetInt32(column(rows, i, SHARD_VOTE_SCORE, &isnull));
    vote->anchors = DatumGetInt32(column(rows, i, SHARD_VOTE_ANCHORS, &isnull));
    vote->aligned_pairs = DatumGetInt32(column(rows, i, SHARD_VOTE_ALIGNED_PAIRS, &isnull));
    vote->total_pairs = DatumGetInt32(column(rows, i, SHARD_VOTE_TOTAL_PAIRS, &isnull));
    vote->offset_frames = DatumGetFloat8(column(rows, i, SHARD_VOTE_OFFSET_FRAMES, &isnull));
    vote->clip_first_frame = (uint32) DatumGetInt64(column(rows, i, SHARD_VOTE_CLIP_FIRST_FRAME, &isnull));
    vote->clip_last_frame = (uint32) DatumGetInt64(column(rows, i, SHARD_VOTE_CLIP_LAST_FRAME, &isnull));
    vote->log_chance = DatumGetFloat8(column(rows, i, SHARD_VOTE_LOG_CHANCE, &isnull));
    vote->drift_pairs = DatumGetInt32(column(rows, i, SHARD_VOTE_DRIFT_PAIRS, &isnull));
    return DatumGetInt32(column(rows, i, SHARD_VOTE_ITEM, &isnull)) - 1;
}

/*
 * Postings per probe hash summed over the shards (each counts per hash: protocol 1 answers
 * directory_bits 32); returns the catalogue's rows (the sum of the shards'). estimates[s] gets one
 * count per distinct hash of probes[s].
 */
static double
global_estimates(ShardSet *set, AfpDatum **probes, const uint32 *nhashes, int nprobes, uint64 **estimates)
{
    Oid         argtypes[3] = {INT4ARRAYOID, set->afp_array_type, INT4OID};
    Datum       args[3] = {0, afp_array(set, probes, nprobes), Int32GetDatum(SHARD_COUNTS_PER_HASH)};
    EstimatesShape shape = {nprobes, nhashes};
    ShardRows   rows = call_shards(set, psprintf("SELECT " SHARD_ESTIMATES_COLUMNS " FROM %s.shard_estimates($1, $2, $3)",
                                                 set->schema),
                                   3, argtypes, args, check_estimates, &shape);
    double      catalogue_rows = 0;

    for (int s = 0; s < nprobes; s++)
        estimates[s] = palloc0(sizeof(uint64) * Max(nhashes[s], 1));
    for (int i = 0; i < rows.n; i++)
    {
        bool        isnull;
        int32       probe = DatumGetInt32(column(&rows, i, SHARD_ESTIMATES_PROBE, &isnull)) - 1;
        ArrayType  *counts = DatumGetArrayTypeP(column(&rows, i, SHARD_ESTIMATES_COUNTS, &isnull));
        int         n = ArrayGetNItems(ARR_NDIM(counts), ARR_DIMS(counts));
        const int64 *c = (const int64 *) ARR_DATA_PTR(counts);

        /* check_estimates has seen every value. */
        if (probe == 0)
            catalogue_rows += DatumGetFloat8(column(&rows, i, SHARD_ESTIMATES_ROWS, &isnull));
        for (int k = 0; k < n; k++)
            estimates[probe][k] += (uint64) c[k];
    }
    return catalogue_rows;
}

/* The shards as a candidate source of the one search (search.h). */
typedef struct ShardSource
{
    CandidateSource base;
    ShardSet   *set;
    AfpDatum   *query;
    List       *titles;         /* ShardTitle of every voted row */
} ShardSource;

typedef struct ShardTitle
{
    int64       id;
    char       *title;          /* NULL: none */
} ShardTitle;

/* The probes of the searcher's round as afp values; their distinct hashes' numbers in *nhashes. */
static AfpDatum **
round_probes(AfpSearcher *searcher, uint32 nprobes, uint32 **nhashes)
{
    AfpDatum  **probes = palloc(sizeof(AfpDatum *) * Max(nprobes, 1));

    if (nhashes)
        *nhashes = palloc(sizeof(uint32) * Max(nprobes, 1));
    for (uint32 p = 0; p < nprobes; p++)
    {
        AfpSearchProbe probe;

        afp_core_searcher_probe(searcher, p, &probe);
        probes[p] = afp_datum_from_body(probe.body, probe.size);
        afp_check_query_landmarks(probes[p]);
        if (nhashes)
            (*nhashes)[p] = probe.nhashes;
    }
    return probes;
}

/* Each probe's postings per distinct hash, summed over the shards, and the catalogue's rows. */
static void
shard_estimate(CandidateSource *source, AfpSearcher *searcher)
{
    ShardSource *src = (ShardSource *) source;
    uint32      nprobes = afp_core_searcher_nprobes(searcher);
    uint32     *nhashes;
    AfpDatum  **probes;
    uint64    **estimates;

    if (nprobes == 0)
        return;
    probes = round_probes(searcher, nprobes, &nhashes);
    estimates = palloc(sizeof(uint64 *) * nprobes);
    source->catalogue_rows = global_estimates(src->set, probes, nhashes, (int) nprobes, estimates);
    for (uint32 p = 0; p < nprobes; p++)
    {
        AfpStatus   status;

        if (!afp_core_searcher_add_estimates(searcher, p, estimates[p], nhashes[p], &status))
            afp_raise(&status);
    }
}

/* Each shard's best rows for each planned probe, with every row tied at the limit. */
static void
shard_rank(CandidateSource *source, AfpSearcher *searcher)
{
    ShardSource *src = (ShardSource *) source;
    ShardSet   *set = src->set;
    int         nprobes = (int) afp_core_searcher_nprobes(searcher);
    AfpDatum  **probes;
    int64      *budgets;
    int32      *min_votes;
    int32      *limits;
    ShardRows   ranked;

    if (nprobes == 0)
        return;
    probes = round_probes(searcher, (uint32) nprobes, NULL);
    budgets = palloc(sizeof(int64) * nprobes);
    min_votes = palloc(sizeof(int32) * nprobes);
    limits = palloc(sizeof(int32) * nprobes);
    for (int p = 0; p < nprobes; p++)
    {
        AfpSearchProbe probe;

        afp_core_searcher_probe(searcher, (uint32) p, &probe);
        budgets[p] = (int64) Min(probe.max_postings, (uint64) PG_INT32_MAX);
        min_votes[p] = (int32) probe.min_votes;
        limits[p] = (int32) probe.limit;
    }
    {
        Oid         argtypes[5] = {INT4ARRAYOID, set->afp_array_type, INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID};
        Datum       args[5] = {0, afp_array(set, probes, nprobes), int8_array(budgets, nprobes),
                               int4_array(min_votes, nprobes), int4_array(limits, nprobes)};

        ranked = call_shards(set, psprintf("SELECT " SHARD_RANK_COLUMNS " FROM %s.shard_rank($1, $2, $3, $4, $5)", set->schema),
                             5, argtypes, args, check_rank, &nprobes);
    }
    for (int i = 0; i < ranked.n; i++)
    {
        bool        isnull;
        bool        id_null;
        int32       probe = DatumGetInt32(column(&ranked, i, SHARD_RANK_PROBE, &isnull)) - 1;
        int64       id = DatumGetInt64(column(&ranked, i, SHARD_RANK_ID, &id_null));
        int32       votes = DatumGetInt32(column(&ranked, i, SHARD_RANK_VOTES, &isnull));
        AfpStatus   status;

        /* check_rank has seen every value. */
        if (!afp_core_searcher_add_ranked(searcher, (uint32) probe, 0, id_null, id_null ? 0 : id, (uint32) votes, &status))
            afp_raise(&status);
    }
}

/* The full votes of the items, on the shards that hold the rows. */
static void
shard_vote(CandidateSource *source, AfpSearcher *searcher)
{
    ShardSource *src = (ShardSource *) source;
    const AfpVoteItem *items;
    uint32      nitems = afp_core_searcher_items(searcher, &items);
    int64      *ids;
    double     *speeds;
    double     *tempos;
    double     *pitches;
    ShardRows   voted;

    if (nitems == 0)
        return;
    ids = palloc(sizeof(int64) * nitems);
    speeds = palloc(sizeof(double) * nitems);
    tempos = palloc(sizeof(double) * nitems);
    pitches = palloc(sizeof(double) * nitems);
    for (uint32 k = 0; k < nitems; k++)
    {
        AfpRendition r = afp_core_searcher_rendition(searcher, items[k].rendition);

        ids[k] = items[k].id;
        speeds[k] = r.speed;
        tempos[k] = r.tempo;
        pitches[k] = r.pitch;
    }
    voted = vote_on_shards(src->set, src->query, ids, speeds, tempos, pitches, (int) nitems);
    for (int i = 0; i < voted.n; i++)
    {
        bool        title_null;
        Datum       title = column(&voted, i, SHARD_VOTE_TITLE, &title_null);
        AfpVote     vote;
        int         item = vote_of(&voted, i, &vote);
        AfpStatus   status;
        ShardTitle *t = palloc(sizeof(ShardTitle));

        if (!afp_core_searcher_add_vote(searcher, (uint32) item, &vote, &status))
            afp_raise(&status);
        t->id = ids[item];
        t->title = title_null ? NULL : TextDatumGetCString(title);
        src->titles = lappend(src->titles, t);
    }
}

static char *
shard_title(CandidateSource *source, const AfpMatch *match)
{
    ShardSource *src = (ShardSource *) source;
    ListCell   *lc;

    foreach(lc, src->titles)
    {
        ShardTitle *t = lfirst(lc);

        if (t->id == match->id)
            return t->title;
    }
    return NULL;
}

/* What afp_shard_protocol must answer: one row per shard, this coordinator's version. */
static void
check_protocol(const ShardRows *rows, int nparts, const void *arg)
{
    static const Oid types[1] = {INT4OID};

    check_columns(rows, "afp_shard_protocol", types, 1);
    for (int i = 0; i < rows->n; i++)
    {
        int32       version = DatumGetInt32(required(rows, i, 1, "afp_shard_protocol"));

        if (version != AFP_SHARD_PROTOCOL)
            ereport(ERROR,
                    (errcode(ERRCODE_PROTOCOL_VIOLATION),
                     errmsg("afp on this shard speaks shard protocol %d, the coordinator %d", version, AFP_SHARD_PROTOCOL)));
    }
    if (rows->n != nparts)
        MALFORMED("afp_shard_protocol", "%d answers from %d shard(s)", rows->n, nparts);
}

/*
 * Checks, on a session's first contact with these shards, that each speaks this coordinator's
 * protocol (shardprotocol.h): a shard of another afp is a named error, not a guess.
 */
static void
check_shard_protocol(ShardSet *set)
{
    StringInfoData key;
    Oid         argtypes[1] = {INT4ARRAYOID};
    Datum       args[1];

    initStringInfo(&key);
    for (int p = 0; p < set->n; p++)
        appendStringInfo(&key, "%s\n", set->connstr[p]);
    if (protocol_checked_for != NULL && strcmp(protocol_checked_for, key.data) == 0)
        return;
    (void) call_shards(set, psprintf("SELECT version FROM %s.shard_protocol($1)", set->schema), 1, argtypes, args,
                       check_protocol, NULL);
    /* Only when every shard answered: under afp.shard_allow_partial one that failed is asked again. */
    if (set->failed == 0)
    {
        if (protocol_checked_for != NULL)
            pfree(protocol_checked_for);
        protocol_checked_for = MemoryContextStrdup(TopMemoryContext, key.data);
    }
}

/* The afp type and the afp_tracks table of the afp extension (SPI connected). */
static Oid
afp_extension_type(Oid *tracks)
{
    bool        isnull;
    Oid         type = InvalidOid;

    *tracks = InvalidOid;
    if (SPI_execute("SELECT t.oid, c.oid FROM pg_catalog.pg_type t JOIN pg_catalog.pg_extension e "
                    "ON e.extnamespace = t.typnamespace LEFT JOIN pg_catalog.pg_class c "
                    "ON c.relnamespace = e.extnamespace AND c.relname = 'afp_tracks' "
                    "WHERE e.extname = 'afp' AND t.typname = 'afp'",
                    true, 1) == SPI_OK_SELECT && SPI_processed == 1)
    {
        type = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        *tracks = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
        if (isnull)
            *tracks = InvalidOid;
    }
    if (!OidIsValid(type) || !OidIsValid(get_array_type(type)))
        elog(ERROR, "type afp of the afp extension not found");
    return type;
}

/* The one search (search.c) with the shards as its candidate source. */
static void
sharded_match(FunctionCallInfo fcinfo, AfpDatum *query, AfpDatum *reference, Oid catalog, int32 max_results)
{
    Oid         tracks;
    ShardSet    set = {0};
    ShardSource src = {{0}};
    AfpMatch   *matches;
    uint32      nmatches;
    MemoryContext fn_cxt = CurrentMemoryContext;

    afp_check_max_results(max_results);
    afp_check_clip_query(query);
    InitMaterializedSRF(fcinfo, 0);
    if (query->header.count == 0)
        return;

    set.schema = quote_identifier(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid)));
    set.cxt = fn_cxt;

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    set.afp_type = afp_extension_type(&tracks);
    /* InvalidOid: the catalogue was left out (NULL), which is the sharded one. */
    if (OidIsValid(catalog) && catalog != tracks)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("a sharded match searches afp_tracks on the shards, not \"%s\"", get_rel_name(catalog) ? get_rel_name(catalog) : "?"),
                 errhint("Leave the catalogue out: afp_shards.match_clip(clip, max_results => 5). "
                         "To search a table of this server, call afp's own match_clip.")));
    set.afp_array_type = get_array_type(set.afp_type);
    load_shards(&set);
    check_shard_protocol(&set);
    /*
     * Every SPI call returns in SPI's procedure context, which SPI_finish frees: the search
     * allocates its matches and their titles, read after SPI_finish, in the function's own.
     * (They used to be allocated in SPI's: titles came back overwritten, or the backend crashed.)
     */
    MemoryContextSwitchTo(fn_cxt);
    src.base.estimate = shard_estimate;
    src.base.rank = shard_rank;
    src.base.vote = shard_vote;
    src.base.title = shard_title;
    src.base.landmark_index = true;
    src.base.plans_reads = true;
    src.base.what = "shards";
    src.set = &set;
    src.query = query;
    matches = afp_search_run(&src.base, query, reference, &nmatches);
    SPI_finish();
    MemoryContextSwitchTo(fn_cxt);
    if (set.failed > 0)
        ereport(WARNING,
                (errcode(ERRCODE_WARNING),
                 errmsg("the answer is partial: %d of %d shards did not answer", set.failed, set.n),
                 errdetail("%s", set.failures.data),
                 errhint("Their tracks were not searched, and confidence counts only the tracks of the shards that answered.")));
    afp_search_emit(fcinfo, &src.base, matches, nmatches, query, max_results);
}

/* afp_shards.match_clip(clip bytea, catalog regclass, max_results int): fingerprinted once here, searched on every shard. */
Datum
afp_sharded_match_clip(PG_FUNCTION_ARGS)
{
    bytea      *clip;
    int32       max_results;
    AfpDatum   *reference;
    AfpDatum   *query;

    /* Not strict, so that the catalogue may be NULL (left out); NULL elsewhere answers nothing. */
    if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
    {
        InitMaterializedSRF(fcinfo, 0);
        return (Datum) 0;
    }
    clip = PG_GETARG_BYTEA_PP(0);
    max_results = PG_GETARG_INT32(2);
    afp_check_max_results(max_results);
    query = afp_fingerprint_clip(VARDATA_ANY(clip), VARSIZE_ANY_EXHDR(clip), &reference);
    sharded_match(fcinfo, query, reference, PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1), max_results);
    return (Datum) 0;
}

/* afp_shards.match_afp(query afp, catalog regclass, max_results int). */
Datum
afp_sharded_match_afp(PG_FUNCTION_ARGS)
{
    AfpDatum   *query;

    if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
    {
        InitMaterializedSRF(fcinfo, 0);
        return (Datum) 0;
    }
    query = PG_GETARG_AFP_P(0);
    sharded_match(fcinfo, query, query, PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1), PG_GETARG_INT32(2));
    return (Datum) 0;
}
