/*
 * localsource.c — the candidate source of a catalogue in this database (search.h). A probe is
 * answered by the catalogue's afp_landmark index, scanned directly (a plain table or materialized
 * view without row-level security), or through SQL (`ORDER BY fp <~> probe LIMIT n`: views,
 * partitioned tables, row-level security); a share probe by the % operator (its GIN index, when the
 * catalogue has no afp_landmark index). Every row a probe ranks is kept, and the full votes read
 * the kept rows: no row is fetched twice.
 *
 * The limits of each probe (budget, minimum votes, shared hashes) go to a direct scan with the scan
 * (landmark_scan_set_limits), and to SQL as settings of a nested GUC level that ends with the query,
 * so nested SQL and later queries see the session's own.
 */
#include "search.h"
#include "landmark.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

/* Candidate rows fetched from the cursor per batch; interrupts are checked between rows. */
#define MATCH_FETCH_BATCH 64

/*
 * Candidate queries prepared once per session and found again by their text and
 * parameter types: the renditions round runs the same query for 60 renditions, and
 * parsing and planning it each time cost more than the index vote itself. The
 * plan cache revalidates them after DDL or a search_path change.
 */
#define CANDIDATE_PLAN_CACHE 16

typedef struct CandidatePlan
{
    char       *sql;
    Oid         argtypes[2];
    int         nargs;
    SPIPlanPtr  plan;
} CandidatePlan;

static CandidatePlan candidate_plans[CANDIDATE_PLAN_CACHE];
static int  candidate_plans_next;

/* A row a probe ranked: a copy of its heap tuple (direct scan) or of its SQL row (id, fp, title). */
typedef struct KeptRow
{
    HeapTuple   tuple;
    bool        sql;
} KeptRow;

typedef struct LocalSource
{
    CandidateSource base;
    CatalogColumns cols;
    char       *share_sql;          /* the candidate queries of share probes and of index probes through SQL */
    char       *rank_sql;
    Oid         afp_type;
    Oid         id_type;
    TupleDesc   heap_desc;          /* of the catalogue, for kept heap tuples */
    TupleDesc   sql_desc;           /* of the candidate queries, once one has run */
    KeptRow    *rows;
    uint32      nrows;
    uint32      capacity;
    MemoryContext cxt;              /* where kept rows live: the search's */
    /* the probe being ranked */
    AfpSearcher *searcher;
    uint32      probe;
    uint32      position;
} LocalSource;

/* The kept plan of a candidate query (call inside SPI_connect). */
static SPIPlanPtr
candidate_plan(const char *sql, int nargs, Oid *argtypes)
{
    CandidatePlan *slot;
    SPIPlanPtr  plan;

    for (int i = 0; i < CANDIDATE_PLAN_CACHE; i++)
    {
        CandidatePlan *c = &candidate_plans[i];

        if (c->sql != NULL && c->nargs == nargs && strcmp(c->sql, sql) == 0 &&
            memcmp(c->argtypes, argtypes, nargs * sizeof(Oid)) == 0)
            return c->plan;
    }
    /*
     * A generic plan: planned with the clip's hashes in view, GIN's cost estimate
     * for hundreds of keys made a sequential scan that detoasts every row look
     * cheaper (5 ms instead of 0.3 ms of candidates on an 11 h catalogue); without
     * them the planner takes the index whenever there is one.
     */
    plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
    if (plan == NULL)
        elog(ERROR, "SPI_prepare_cursor failed: %s", SPI_result_code_string(SPI_result));
    if (SPI_keepplan(plan) != 0)
        elog(ERROR, "SPI_keepplan failed");
    slot = &candidate_plans[candidate_plans_next];
    candidate_plans_next = (candidate_plans_next + 1) % CANDIDATE_PLAN_CACHE;
    if (slot->sql != NULL)
    {
        SPI_freeplan(slot->plan);
        pfree(slot->sql);
    }
    slot->sql = MemoryContextStrdup(TopMemoryContext, sql);
    slot->nargs = nargs;
    memcpy(slot->argtypes, argtypes, nargs * sizeof(Oid));
    slot->plan = plan;
    return plan;
}

void
afp_scan_candidate_rows(const char *sql, int nargs, Oid *argtypes, Datum *args, CandidateRowFn fn, void *arg)
{
    Portal      portal;
    SPIPlanPtr  plan;

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    plan = candidate_plan(sql, nargs, argtypes);
    portal = SPI_cursor_open(NULL, plan, args, NULL, true);
    for (;;)
    {
        SPI_cursor_fetch(portal, true, MATCH_FETCH_BATCH);
        if (SPI_processed == 0)
            break;
        for (uint64 i = 0; i < SPI_processed; i++)
        {
            CHECK_FOR_INTERRUPTS();
            fn(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, arg);
        }
        SPI_freetuptable(SPI_tuptable);
    }
    SPI_cursor_close(portal);
    SPI_finish();
}

int64
afp_id_value(Datum d, Oid typid)
{
    if (typid == INT2OID)
        return DatumGetInt16(d);
    if (typid == INT4OID)
        return DatumGetInt32(d);
    return DatumGetInt64(d);
}

void
afp_rank_by_index(Relation heap, Relation index, Datum probe, uint64 max_postings, uint32 min_votes, uint32 limit,
                  RankedRowFn fn, void *arg)
{
    TupleTableSlot *slot = table_slot_create(heap, NULL);
    IndexScanDesc scan = index_beginscan(heap, index, GetActiveSnapshot(), 0, 1);
    ScanKeyData orderby;
    uint32      taken = 0;
    uint32      last = 0;

    landmark_scan_set_limits(scan, max_postings, min_votes);
    ScanKeyEntryInitialize(&orderby, SK_ORDER_BY, 1, 1, InvalidOid, InvalidOid, InvalidOid, probe);
    index_rescan(scan, NULL, 0, &orderby, 1);
    while (index_getnext_slot(scan, ForwardScanDirection, slot))
    {
        uint32      votes = (uint32) -DatumGetFloat8(scan->xs_orderbyvals[0]);

        CHECK_FOR_INTERRUPTS();
        if (taken >= limit && votes != last)
            break;
        fn(slot, votes, arg);
        taken++;
        last = votes;
    }
    index_endscan(scan);
    ExecDropSingleTupleTableSlot(slot);
}

/* Keeps a row (a copy in the search's context: the slot's, or SPI's row); returns its handle. */
static uint64
keep_row(LocalSource *src, TupleTableSlot *slot, HeapTuple tuple)
{
    MemoryContext old = MemoryContextSwitchTo(src->cxt);

    if (src->nrows == src->capacity)
    {
        src->capacity = src->capacity == 0 ? 64 : src->capacity * 2;
        src->rows = src->rows == NULL ? palloc(sizeof(KeptRow) * src->capacity)
            : repalloc(src->rows, sizeof(KeptRow) * src->capacity);
    }
    src->rows[src->nrows].tuple = slot != NULL ? ExecCopySlotHeapTuple(slot) : heap_copytuple(tuple);
    src->rows[src->nrows].sql = slot == NULL;
    MemoryContextSwitchTo(old);
    return src->nrows++;
}

static void
rank_direct_row(TupleTableSlot *slot, uint32 votes, void *arg)
{
    LocalSource *src = (LocalSource *) arg;
    bool        id_null;
    Datum       id = slot_getattr(slot, src->cols.id_attnum, &id_null);
    uint64      handle = keep_row(src, slot, NULL);
    AfpStatus   status;

    if (!afp_core_searcher_add_ranked(src->searcher, src->probe, handle, id_null,
                                      id_null ? 0 : afp_id_value(id, src->id_type), votes, &status))
        afp_raise(&status);
}

/* A row of a candidate query: ranked in the order the query returns it (SQL gives no votes). */
static void
rank_sql_row(HeapTuple tuple, TupleDesc desc, void *arg)
{
    LocalSource *src = (LocalSource *) arg;
    bool        id_null;
    Datum       id = SPI_getbinval(tuple, desc, 1, &id_null);
    uint64      handle;
    AfpStatus   status;
    /* An index probe's rows arrive best first: votes that fall with each keep that order. */
    uint32      votes = (uint32) (PG_INT32_MAX - src->position++);

    if (src->sql_desc == NULL)
    {
        MemoryContext old = MemoryContextSwitchTo(src->cxt);

        src->sql_desc = CreateTupleDescCopy(desc);
        MemoryContextSwitchTo(old);
    }
    handle = keep_row(src, NULL, tuple);
    if (!afp_core_searcher_add_ranked(src->searcher, src->probe, handle, id_null, id_null ? 0 : DatumGetInt64(id),
                                      votes, &status))
        afp_raise(&status);
}

/* Sets settings for the queries of one probe, at a GUC level of their own; returns it for AtEOXact_GUC. */
static int
push_settings(const char *const *names, const int64 *values, int n)
{
    int         nest = NewGUCNestLevel();

    for (int i = 0; i < n; i++)
    {
        char        value[32];

        snprintf(value, sizeof(value), INT64_FORMAT, values[i]);
        (void) set_config_option(names[i], value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    }
    return nest;
}

/* The select list every candidate query returns: id int8, fp afp, title text. */
static char *
candidate_columns(const CatalogColumns *cols)
{
    return psprintf("c.%s::pg_catalog.int8, c.%s, %s", cols->id, cols->fp,
                    cols->title ? psprintf("c.%s::pg_catalog.text", cols->title) : "NULL::pg_catalog.text");
}

static void
local_rank(CandidateSource *source, AfpSearcher *searcher)
{
    LocalSource *src = (LocalSource *) source;
    uint32      nprobes = afp_core_searcher_nprobes(searcher);
    Relation    heap = NULL;
    Relation    index = NULL;

    src->searcher = searcher;
    if (OidIsValid(src->cols.direct_index) && src->base.landmark_index)
    {
        heap = table_open(src->cols.relid, AccessShareLock);
        index = index_open(src->cols.direct_index, AccessShareLock);
    }
    for (uint32 p = 0; p < nprobes; p++)
    {
        AfpSearchProbe probe;
        Datum       probe_datum;

        afp_core_searcher_probe(searcher, p, &probe);
        probe_datum = PointerGetDatum(afp_datum_from_body(probe.body, probe.size));
        src->probe = p;
        src->position = 0;
        if (probe.min_shared > 0)
        {
            /* Every row sharing min_shared distinct hashes: the % operator reads afp.min_shared_hashes. */
            static const char *const names[1] = {"afp.min_shared_hashes"};
            int64       values[1] = {probe.min_shared};
            Oid         argtypes[1] = {src->afp_type};
            int         nest = push_settings(names, values, 1);

            afp_scan_candidate_rows(src->share_sql, 1, argtypes, &probe_datum, rank_sql_row, src);
            AtEOXact_GUC(true, nest);
        }
        else if (index != NULL)
            afp_rank_by_index(heap, index, probe_datum, probe.max_postings, probe.min_votes, probe.limit,
                              rank_direct_row, src);
        else
        {
            /*
             * Through SQL the executor checks what a direct scan cannot (row-level security,
             * a view's own conditions, every partition's index); the index reads the limits
             * from the settings.
             */
            static const char *const names[2] = {"afp.index_max_postings", "afp.index_min_votes"};
            int64       values[2] = {(int64) Min(probe.max_postings, (uint64) PG_INT32_MAX), probe.min_votes};
            Oid         argtypes[2] = {src->afp_type, INT8OID};
            Datum       args[2] = {probe_datum, Int64GetDatum(probe.limit)};
            int         nest = push_settings(names, values, 2);

            afp_scan_candidate_rows(src->rank_sql, 2, argtypes, args, rank_sql_row, src);
            AtEOXact_GUC(true, nest);
        }
        pfree(DatumGetPointer(probe_datum));
    }
    if (index != NULL)
    {
        /*
         * The locks stay to the end of the transaction, as the executor keeps them: the kept rows'
         * fingerprints are detoasted by later steps, which a TRUNCATE or VACUUM FULL must not
         * overtake.
         */
        index_close(index, NoLock);
        table_close(heap, NoLock);
    }
}

/* The fingerprint (and title) column of a kept row. */
static Datum
kept_column(const LocalSource *src, const KeptRow *row, bool fp, bool *isnull)
{
    AttrNumber  attnum;

    if (row->sql)
        return heap_getattr(row->tuple, fp ? 2 : 3, src->sql_desc, isnull);
    attnum = fp ? src->cols.fp_attnum : src->cols.title_attnum;
    if (attnum == InvalidAttrNumber)
    {
        *isnull = true;
        return (Datum) 0;
    }
    return heap_getattr(row->tuple, attnum, src->heap_desc, isnull);
}

static void
local_vote(CandidateSource *source, AfpSearcher *searcher)
{
    LocalSource *src = (LocalSource *) source;
    const AfpVoteItem *items;
    uint32      nitems = afp_core_searcher_items(searcher, &items);
    MemoryContext row_cxt = AllocSetContextCreate(CurrentMemoryContext, "afp match row", ALLOCSET_DEFAULT_SIZES);
    AfpDatum   *track = NULL;
    uint64      track_handle = 0;

    for (uint32 k = 0; k < nitems; k++)
    {
        AfpStatus   status;
        bool        ok;

        CHECK_FOR_INTERRUPTS();
        /*
         * A row is detoasted once for the items that follow one another on it: the refinement
         * votes one row in every other rendition.
         */
        if (track == NULL || items[k].handle != track_handle)
        {
            bool        isnull;
            Datum       fp = kept_column(src, &src->rows[items[k].handle], true, &isnull);
            MemoryContext old;

            MemoryContextReset(row_cxt);
            track = NULL;
            if (isnull)
                continue;
            old = MemoryContextSwitchTo(row_cxt);
            track = afp_detoast(fp);
            MemoryContextSwitchTo(old);
            track_handle = items[k].handle;
        }
        ok = afp_core_searcher_vote_track(searcher, k, &track->header, &status);
        if (!ok)
            afp_raise(&status);
    }
    MemoryContextDelete(row_cxt);
}

static char *
local_title(CandidateSource *source, const AfpMatch *match)
{
    LocalSource *src = (LocalSource *) source;
    bool        isnull;
    Datum       title = kept_column(src, &src->rows[match->handle], false, &isnull);

    return isnull ? NULL : TextDatumGetCString(title);
}

/* Rows the planner believes the catalogue has (0 for views and never-analysed tables). */
static double
catalog_rows(Oid catalog)
{
    HeapTuple   tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(catalog));
    double      rows = 0;

    if (HeapTupleIsValid(tuple))
    {
        rows = Max(((Form_pg_class) GETSTRUCT(tuple))->reltuples, 0);
        ReleaseSysCache(tuple);
    }
    return rows;
}

CandidateSource *
afp_local_source(const CatalogColumns *cols, Oid ext_nsp, Oid afp_type)
{
    LocalSource *src = palloc0(sizeof(LocalSource));
    Relation    heap;

    src->base.rank = local_rank;
    src->base.vote = local_vote;
    src->base.title = local_title;
    src->base.estimate = NULL;  /* one index plans its own reads */
    src->base.plans_reads = false;
    src->base.landmark_index = cols->landmark_index && afp_use_landmark_index;
    src->base.what = !src->base.landmark_index ? "shared hashes" : OidIsValid(cols->direct_index) ? "index" : "index through SQL";
    src->cols = *cols;
    {
        const char *operators = quote_identifier(get_namespace_name(ext_nsp));
        char       *columns = candidate_columns(cols);

        src->share_sql = psprintf("SELECT %s FROM %s c WHERE c.%s OPERATOR(%s.%%) $1", columns, cols->relation,
                                  cols->fp, operators);
        src->rank_sql = psprintf("SELECT %s FROM %s c ORDER BY c.%s OPERATOR(%s.<~>) $1 LIMIT $2", columns,
                                 cols->relation, cols->fp, operators);
    }
    src->afp_type = afp_type;
    src->cxt = CurrentMemoryContext;
    heap = table_open(cols->relid, AccessShareLock);
    /* With the columns' missing values: a row older than ADD COLUMN ... DEFAULT reads the default. */
    src->heap_desc = CreateTupleDescCopyConstr(RelationGetDescr(heap));
    src->id_type = TupleDescAttr(src->heap_desc, cols->id_attnum - 1)->atttypid;
    table_close(heap, NoLock);
    /*
     * The catalogue's rows for the confidence: the rows an afp_landmark index lists when it is
     * scanned directly (exact, and the same before and after ANALYZE or autovacuum), else what
     * the planner believes.
     */
    if (src->base.landmark_index && OidIsValid(cols->direct_index))
    {
        Relation    index = index_open(cols->direct_index, AccessShareLock);

        src->base.catalogue_rows = (double) landmark_index_rows(index);
        index_close(index, NoLock);
    }
    else
        src->base.catalogue_rows = catalog_rows(cols->relid);
    return &src->base;
}
