/*
 * match.c — match_afp() and match_clip(): candidates come from the catalogue
 * through the % operator (and so through its GIN index when the planner picks
 * it), then each candidate is scored by offset voting in the core.
 *
 * A catalogue is any table, view or materialized view the caller can read with
 *   - exactly one column of type afp (the fingerprint),
 *   - an integer id: the column named "id", or else a one-column integer primary key,
 *   - optionally a text column named "title", returned with each match.
 */
#include "match.h"
#include "landmark.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/index.h"
#include "commands/defrem.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "access/genam.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include <math.h>

PG_FUNCTION_INFO_V1(afp_match_afp);
PG_FUNCTION_INFO_V1(afp_match_clip);
PG_FUNCTION_INFO_V1(afp_catalog_columns);

/* Candidate rows fetched from the cursor per batch; interrupts are checked between rows. */
#define MATCH_FETCH_BATCH 64

/* Result columns: up to speed (0.1.0 - 0.3.0), then tempo and pitch (0.4.0). */
#define MATCH_COLUMNS 13

/* Spacing of the speeds tried when a clip does not match as recorded (0.5%): warped hashes
 * survive a residual speed error of about half of it. */
#define AFP_SPEED_STEP 0.005

/*
 * Share of the clip's distinct reference hashes a track must hold to be a
 * candidate on the fast path. Clean recordings of a track share 60-90% of them
 * with it; other tracks of the development corpus at most 36% (docs/performance.md).
 */
#define AFP_FAST_PROBE_FRACTION 0.4

/*
 * Keys of the fast-path probe, sampled evenly from the clip's reference hashes. GIN's
 * cost grows with the keys of a query times the postings it walks: all 520 keys of a
 * 10 s clip spent ~12 ms in gingetbitmap at 1,000 h; 128 keep the share test (a chance
 * track rarely holds 40% of them) for ~3 ms. 64 let chance tracks through.
 */
#define AFP_FAST_PROBE_KEYS 128

/*
 * The probes of the speed search: a warped hash survives only when rounding lands
 * on the track's bin, so fewer of them are shared than on the fast path.
 */
#define AFP_SPEED_PROBE_KEYS 256
#define AFP_SPEED_PROBE_FRACTION 0.15




const Rendition as_recorded = {1.0, 1.0, 1.0};


/* The OID of the afp type, found in the schema of the calling function. */
Oid
afp_type_oid(FunctionCallInfo fcinfo, Oid *namespace_out)
{
    Oid         nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
    Oid         typoid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
                                         CStringGetDatum("afp"), ObjectIdGetDatum(nsp));

    if (!OidIsValid(typoid))
        elog(ERROR, "type afp not found in the schema of the afp extension");
    *namespace_out = nsp;
    return typoid;
}

/* Whether a type is one of the integer types an id may have. */
static bool
is_integer_type(Oid typid)
{
    return typid == INT2OID || typid == INT4OID || typid == INT8OID;
}

/*
 * The valid afp_landmark index on the catalogue's afp column (quoted name fp), if
 * any: then candidates come from the index's vote instead of GIN. Views have no
 * index of their own and take the GIN path.
 */
static Oid
relation_am(Oid relid)
{
    HeapTuple   tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    Oid         am = InvalidOid;

    if (HeapTupleIsValid(tup))
    {
        am = ((Form_pg_class) GETSTRUCT(tup))->relam;
        ReleaseSysCache(tup);
    }
    return am;
}

static Oid
landmark_index_of(Relation rel, const char *fp)
{
    Oid         am = get_index_am_oid("afp_landmark", true);
    List       *indexes;
    ListCell   *lc;
    Oid         found = InvalidOid;

    if (!OidIsValid(am) || rel->rd_rel->relkind == RELKIND_VIEW || rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE)
        return InvalidOid;
    indexes = RelationGetIndexList(rel);
    foreach(lc, indexes)
    {
        HeapTuple   tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
        Form_pg_index index;

        if (!HeapTupleIsValid(tup))
            continue;
        index = (Form_pg_index) GETSTRUCT(tup);
        if (index->indisvalid && index->indisready && index->indnatts == 1 && index->indkey.values[0] > 0 &&
            heap_attisnull(tup, Anum_pg_index_indpred, NULL) && relation_am(index->indexrelid) == am &&
            strcmp(quote_identifier(NameStr(TupleDescAttr(RelationGetDescr(rel), index->indkey.values[0] - 1)->attname)), fp) == 0)
            found = index->indexrelid;
        ReleaseSysCache(tup);
        if (OidIsValid(found))
            break;
    }
    list_free(indexes);
    return found;
}

/* Finds the id, fingerprint and title columns of a catalogue, or explains why it has none. */
CatalogColumns
find_catalog_columns(Oid relid, Oid afp_type)
{
    CatalogColumns cols = {0};
    Relation    rel;
    TupleDesc   desc;
    const char *relname;
    int         afp_columns = 0;
    AttrNumber  id_attnum = InvalidAttrNumber;
    AclResult   table_acl;

    if (get_rel_name(relid) == NULL)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_TABLE),
                 errmsg("catalogue with OID %u does not exist", relid),
                 errhint("The second argument of match_clip is the catalogue; pass max_results by name: "
                         "match_clip(clip, max_results => 3).")));

    /*
     * Refuse before revealing anything about a table the caller cannot read at
     * all; column privileges on the id and afp columns are checked once they
     * are known (a role may be granted SELECT on just those).
     */
    table_acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
    if (table_acl != ACLCHECK_OK &&
        pg_attribute_aclcheck_all(relid, GetUserId(), ACL_SELECT, ACLMASK_ANY) != ACLCHECK_OK)
        aclcheck_error(table_acl, get_relkind_objtype(get_rel_relkind(relid)), get_rel_name(relid));

    rel = relation_open(relid, AccessShareLock);
    relname = RelationGetRelationName(rel);
    switch (rel->rd_rel->relkind)
    {
        case RELKIND_RELATION:
        case RELKIND_PARTITIONED_TABLE:
        case RELKIND_MATVIEW:
        case RELKIND_VIEW:
        case RELKIND_FOREIGN_TABLE:
            break;
        default:
            ereport(ERROR,
                    (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                     errmsg("\"%s\" is not a table, view or materialized view", relname)));
    }
    desc = RelationGetDescr(rel);
    for (int i = 0; i < desc->natts; i++)
    {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        const char *name = NameStr(att->attname);

        if (att->attisdropped)
            continue;
        /* A domain over afp is an afp column too. */
        if (getBaseType(att->atttypid) == afp_type)
        {
            afp_columns++;
            cols.fp = pstrdup(quote_identifier(name));
            cols.fp_attnum = att->attnum;
        }
        else if (strcmp(name, "id") == 0 && is_integer_type(att->atttypid))
            id_attnum = att->attnum;
        else if (strcmp(name, "title") == 0 && (att->atttypid == TEXTOID || att->atttypid == VARCHAROID) &&
                 (table_acl == ACLCHECK_OK ||
                  pg_attribute_aclcheck(relid, att->attnum, GetUserId(), ACL_SELECT) == ACLCHECK_OK))
        {
            /* The title is optional: a caller without SELECT on it gets NULL titles. */
            cols.title = pstrdup(quote_identifier(name));
            cols.title_attnum = att->attnum;
        }
    }
    if (afp_columns == 0)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_COLUMN),
                 errmsg("catalogue \"%s\" has no column of type afp", relname),
                 errhint("A catalogue needs one afp column, an integer \"id\" column or primary key, "
                         "and optionally a \"title\" column.")));
    if (afp_columns > 1)
        ereport(ERROR,
                (errcode(ERRCODE_AMBIGUOUS_COLUMN),
                 errmsg("catalogue \"%s\" has %d columns of type afp", relname, afp_columns),
                 errhint("Match against a view that selects the id and one afp column.")));

    /* No column called "id": accept a one-column integer primary key instead. */
    if (id_attnum == InvalidAttrNumber && rel->rd_rel->relkind != RELKIND_VIEW)
    {
        Oid         pk = RelationGetPrimaryKeyIndex(rel);

        if (OidIsValid(pk))
        {
            HeapTuple   tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(pk));

            if (HeapTupleIsValid(tup))
            {
                Form_pg_index index = (Form_pg_index) GETSTRUCT(tup);

                if (index->indnkeyatts == 1 && index->indkey.values[0] > 0 &&
                    is_integer_type(TupleDescAttr(desc, index->indkey.values[0] - 1)->atttypid))
                    id_attnum = index->indkey.values[0];
                ReleaseSysCache(tup);
            }
        }
    }
    if (id_attnum == InvalidAttrNumber)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_COLUMN),
                 errmsg("catalogue \"%s\" has no integer id column", relname),
                 errhint("Name the id column \"id\", or make it a one-column integer primary key.")));
    {
        Oid         lm = landmark_index_of(rel, cols.fp);

        cols.landmark_index = OidIsValid(lm);
        /*
         * A plain table or materialized view without row-level security is scanned
         * through the index directly; partitioned tables (one index per partition)
         * and tables with RLS (policies apply) go through SQL.
         */
        if (OidIsValid(lm) && (rel->rd_rel->relkind == RELKIND_RELATION || rel->rd_rel->relkind == RELKIND_MATVIEW) &&
            check_enable_rls(relid, InvalidOid, true) == RLS_NONE)
            cols.direct_index = lm;
    }
    if (table_acl != ACLCHECK_OK)
    {
        AttrNumber  needed[2] = {id_attnum, cols.fp_attnum};

        for (int i = 0; i < 2; i++)
        {
            AclResult   acl = pg_attribute_aclcheck(relid, needed[i], GetUserId(), ACL_SELECT);

            if (acl != ACLCHECK_OK)
                aclcheck_error_col(acl, get_relkind_objtype(rel->rd_rel->relkind), relname,
                                   NameStr(TupleDescAttr(desc, needed[i] - 1)->attname));
        }
    }
    cols.relid = relid;
    cols.id_attnum = id_attnum;
    cols.id = pstrdup(quote_identifier(NameStr(TupleDescAttr(desc, id_attnum - 1)->attname)));
    cols.relation = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)), relname);
    relation_close(rel, AccessShareLock);
    return cols;
}

/* Rejects a max_results no caller could mean. */
void
check_max_results(int32 max_results)
{
    if (max_results < 1)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("max_results must be at least 1"),
                 errdetail("max_results is %d.", max_results)));
}

/* Best first: higher score, then higher confidence, then lower id. */
int
compare_matches(const void *a, const void *b)
{
    const MatchRow *x = (const MatchRow *) a;
    const MatchRow *y = (const MatchRow *) b;

    if (x->vote.score != y->vote.score)
        return x->vote.score > y->vote.score ? -1 : 1;
    if (x->confidence != y->confidence)
        return x->confidence > y->confidence ? -1 : 1;
    if (x->track_id != y->track_id)
        return x->track_id < y->track_id ? -1 : 1;
    return 0;
}

/*
 * The fingerprints one search votes with: the clip as recorded, or renditions of
 * it at other speeds, and the union of their landmarks that probes the index once.
 */
typedef struct QuerySet
{
    AfpDatum   *unwarped;   /* when set, NULL variants are this warped to their rendition, made on first use */
    AfpDatum   *probe;
    AfpDatum  **variants;
    const Rendition *renditions;
    int         n;
} QuerySet;


/* Whether a vote beats the best so far: a higher score, then a lower chance; ties keep the first. */
bool
vote_beats(const AfpVote *vote, const AfpVote *best)
{
    return vote->score > best->score || (vote->score == best->score && vote->log_chance < best->log_chance);
}

/* Keeps a candidate's best vote over the query's variants; returns its rendition through *rendition. */
static AfpVote
best_vote(const QuerySet *qs, const AfpDatum *track, Rendition *rendition)
{
    AfpVote     best = {0};
    AfpStatus   status;

    *rendition = as_recorded;
    for (int v = 0; v < qs->n; v++)
    {
        AfpVote     vote;

        if (!afp_core_vote(&qs->variants[v]->header, &track->header, &vote, &status))
            afp_raise(&status);
        if (vote_beats(&vote, &best))
        {
            best = vote;
            *rendition = qs->renditions[v];
        }
    }
    return best;
}

/*
 * Candidate queries prepared once per session and found again by their text and
 * parameter types: the speed search runs the same query for 20 renditions, and
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

/* The fingerprint read in the coordinates of a track the rendition changed (see warp.hpp). */
AfpDatum *
match_warped(const AfpDatum *fp, const Rendition *r)
{
    AfpBuffer   buffer;
    AfpStatus   status;

    if (!afp_core_warp(&fp->header, r->speed, r->tempo, r->pitch, &buffer, &status))
        afp_raise(&status);
    return afp_datum_from_buffer(&buffer);
}

/* At most max_keys distinct hashes of fp, evenly spread over its sorted hashes (afp_core_sample_keys). */
AfpDatum *
match_sampled(const AfpDatum *fp, uint32 max_keys)
{
    AfpBuffer   buffer;
    AfpStatus   status;

    if (!afp_core_sample_keys(&fp->header, max_keys, &buffer, &status))
        afp_raise(&status);
    return afp_datum_from_buffer(&buffer);
}

/* Warps the variants a stage left for later, once a candidate needs them (in the caller's context). */
static void
materialize_variants(const QuerySet *qs)
{
    for (int v = 0; v < qs->n; v++)
        if (qs->variants[v] == NULL)
            qs->variants[v] = match_warped(qs->unwarped, &qs->renditions[v]);
}

/* Appends a scored row (in the current memory context). */
void
match_list_add(MatchList *list, int64 id, char *title, const AfpVote *vote, const Rendition *rendition)
{
    MatchRow   *row;

    if (list->nrows == list->capacity)
    {
        list->capacity = list->capacity == 0 ? 16 : list->capacity * 2;
        list->rows = list->rows == NULL ? palloc(sizeof(MatchRow) * list->capacity)
            : repalloc(list->rows, sizeof(MatchRow) * list->capacity);
    }
    row = &list->rows[list->nrows++];
    row->track_id = id;
    row->title = title;
    row->vote = *vote;
    row->rendition = *rendition;
    row->confidence = 0;
}

/*
 * Votes one candidate with the query's variants (in row_cxt, reset after) and
 * keeps it (in result_cxt) when it scores at least min_score. title is 0 for none.
 */
static void
add_candidate(const QuerySet *qs, MatchList *list, int64 id, Datum fp_datum, Datum title,
              int min_score, MemoryContext row_cxt, MemoryContext result_cxt)
{
    AfpVote     vote;
    Rendition   rendition;
    MemoryContext old;

    list->candidates++;
    old = MemoryContextSwitchTo(result_cxt);
    materialize_variants(qs);
    MemoryContextSwitchTo(row_cxt);
    vote = best_vote(qs, afp_detoast(fp_datum), &rendition);
    MemoryContextSwitchTo(old);
    MemoryContextReset(row_cxt);
    if (vote.score < min_score)
        return;

    old = MemoryContextSwitchTo(result_cxt);
    match_list_add(list, id, title == (Datum) 0 ? NULL : TextDatumGetCString(title), &vote, &rendition);
    MemoryContextSwitchTo(old);
}

void
scan_candidate_rows(const char *sql, int nargs, Oid *argtypes, Datum *args, CandidateRowFn fn, void *arg)
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
            HeapTuple   tuple = SPI_tuptable->vals[i];
            TupleDesc   desc = SPI_tuptable->tupdesc;
            bool        id_null;
            bool        fp_null;
            bool        title_null;
            Datum       id_datum = SPI_getbinval(tuple, desc, 1, &id_null);
            Datum       fp_datum = SPI_getbinval(tuple, desc, 2, &fp_null);
            Datum       title_datum = SPI_getbinval(tuple, desc, 3, &title_null);

            CHECK_FOR_INTERRUPTS();
            if (id_null || fp_null)
                continue;
            fn(DatumGetInt64(id_datum), fp_datum, title_null ? (Datum) 0 : title_datum, arg);
        }
        SPI_freetuptable(SPI_tuptable);
    }
    SPI_cursor_close(portal);
    SPI_finish();
}

/* What vote_candidates hands each row to add_candidate with. */
typedef struct VoteRowsState
{
    const QuerySet *qs;
    MatchList  *list;
    int         min_score;
    MemoryContext row_cxt;
    MemoryContext result_cxt;
} VoteRowsState;

static void
vote_row(int64 id, Datum fp, Datum title, void *arg)
{
    VoteRowsState *st = (VoteRowsState *) arg;

    add_candidate(st->qs, st->list, id, fp, title, st->min_score, st->row_cxt, st->result_cxt);
}

/*
 * Runs a candidate query (columns: id int8, fp afp, title text) and votes each
 * candidate with the query's variants; rows scoring at least min_score are added
 * to the list.
 */
static void
vote_candidates(const char *sql, int nargs, Oid *argtypes, Datum *args, const QuerySet *qs, MatchList *list,
                int min_score)
{
    VoteRowsState st = {qs, list, min_score, NULL, CurrentMemoryContext};

    st.row_cxt = AllocSetContextCreate(CurrentMemoryContext, "afp match row", ALLOCSET_DEFAULT_SIZES);
    scan_candidate_rows(sql, nargs, argtypes, args, vote_row, &st);
    MemoryContextDelete(st.row_cxt);
}

/* The select list every candidate query returns. */
static char *
candidate_columns(const CatalogColumns *cols)
{
    return psprintf("c.%s::pg_catalog.int8, c.%s, %s", cols->id, cols->fp,
                    cols->title ? psprintf("c.%s::pg_catalog.text", cols->title) : "NULL::pg_catalog.text");
}

/*
 * GIN path: scores every catalogue row sharing at least probe_threshold distinct
 * hashes with the probe.
 */
static void
collect_matches(const QuerySet *qs, const CatalogColumns *cols, Oid ext_nsp, Oid afp_type,
                int probe_threshold, MatchList *list)
{
    int         min_score = afp_min_shared_hashes;
    char       *sql;
    Oid         argtypes[1] = {afp_type};
    Datum       args[1] = {PointerGetDatum(qs->probe)};

    sql = psprintf("SELECT %s FROM %s c WHERE c.%s OPERATOR(%s.%%) $1", candidate_columns(cols),
                   cols->relation, cols->fp, quote_identifier(get_namespace_name(ext_nsp)));
    /*
     * The % operator reads its threshold from afp.min_shared_hashes, in the index
     * and in a sequential scan alike; a probe with another threshold sets it for
     * the duration of the scan.
     */
    PG_TRY();
    {
        afp_min_shared_hashes = probe_threshold;
        vote_candidates(sql, 1, argtypes, args, qs, list, min_score);
    }
    PG_FINALLY();
    {
        afp_min_shared_hashes = min_score;
    }
    PG_END_TRY();
}

/* An integer id column's value as int64. */
static int64
id_value(Datum d, Oid typid)
{
    if (typid == INT2OID)
        return DatumGetInt16(d);
    if (typid == INT4OID)
        return DatumGetInt32(d);
    return DatumGetInt64(d);
}

/* A row of the index's ranking, kept until the rows tied at the limit are known. */
typedef struct RankedCandidate
{
    RankKey     key;
    HeapTuple   tuple;      /* a copy: fp stays toasted until the row is voted */
} RankedCandidate;

int
compare_rank_keys(const RankKey *x, const RankKey *y)
{
    if (x->votes != y->votes)
        return x->votes > y->votes ? -1 : 1;
    if (x->id_null != y->id_null)
        return x->id_null ? 1 : -1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return 0;
}

static int
compare_ranked_candidates(const void *a, const void *b)
{
    return compare_rank_keys(&((const RankedCandidate *) a)->key, &((const RankedCandidate *) b)->key);
}

/*
 * The index scan of collect_ranked without SQL: `ORDER BY fp <~> probe LIMIT n`
 * through SQL makes the executor compute <~> (a full vote) for every row it
 * returns, as the sort key in the target list, which match_* then votes again;
 * driving the index directly reads each candidate once. The executor's checks
 * are kept: the active snapshot decides visibility (index_getnext_slot), the
 * caller's SELECT privilege was checked, and catalogues with row-level security
 * never come here.
 *
 * The index ranks rows with equal votes by their heap position; the candidates
 * are the first `limit` rows by votes and then by id instead, so that the
 * answer depends on the rows, not on where they are stored (the same after a
 * dump and restore, and on the shards of a sharded catalogue, which merge their
 * rankings the same way: coordinator.c). The rows tied with the last are read
 * from the heap for their ids only; fingerprints are detoasted for the chosen.
 */
static void
scan_ranked(const QuerySet *qs, const CatalogColumns *cols, int limit, MatchList *list)
{
    MemoryContext result_cxt = CurrentMemoryContext;
    MemoryContext row_cxt = AllocSetContextCreate(CurrentMemoryContext, "afp match row", ALLOCSET_DEFAULT_SIZES);
    Relation    heap = table_open(cols->relid, AccessShareLock);
    Relation    index = index_open(cols->direct_index, AccessShareLock);
    TupleDesc   desc = RelationGetDescr(heap);
    Oid         id_type = TupleDescAttr(desc, cols->id_attnum - 1)->atttypid;
    TupleTableSlot *slot = table_slot_create(heap, NULL);
    IndexScanDesc scan = index_beginscan(heap, index, GetActiveSnapshot(), 0, 1);
    ScanKeyData orderby;
    RankedCandidate *ranked = palloc(sizeof(RankedCandidate) * Max(limit, 1));
    int         nranked = 0;
    int         capacity = Max(limit, 1);

    ScanKeyEntryInitialize(&orderby, SK_ORDER_BY, 1, 1, InvalidOid, InvalidOid, InvalidOid,
                           PointerGetDatum(qs->probe));
    index_rescan(scan, NULL, 0, &orderby, 1);
    while (index_getnext_slot(scan, ForwardScanDirection, slot))
    {
        int32       votes = (int32) -DatumGetFloat8(scan->xs_orderbyvals[0]);
        bool        id_null;
        Datum       id;

        CHECK_FOR_INTERRUPTS();
        if (nranked >= limit && votes != ranked[nranked - 1].key.votes)
            break;
        if (nranked == capacity)
        {
            capacity *= 2;
            ranked = repalloc(ranked, sizeof(RankedCandidate) * capacity);
        }
        id = slot_getattr(slot, cols->id_attnum, &id_null);
        ranked[nranked].key.id = id_null ? 0 : id_value(id, id_type);
        ranked[nranked].key.id_null = id_null;
        ranked[nranked].key.votes = votes;
        ranked[nranked].tuple = ExecCopySlotHeapTuple(slot);
        nranked++;
    }
    index_endscan(scan);
    ExecDropSingleTupleTableSlot(slot);
    qsort(ranked, nranked, sizeof(RankedCandidate), compare_ranked_candidates);
    for (int i = 0; i < Min(nranked, limit); i++)
    {
        bool        fp_null;
        bool        title_null = true;
        Datum       fp = heap_getattr(ranked[i].tuple, cols->fp_attnum, desc, &fp_null);
        Datum       title = cols->title_attnum != InvalidAttrNumber
            ? heap_getattr(ranked[i].tuple, cols->title_attnum, desc, &title_null) : (Datum) 0;

        CHECK_FOR_INTERRUPTS();
        if (ranked[i].key.id_null || fp_null)
            continue;
        add_candidate(qs, list, ranked[i].key.id, fp, title_null ? (Datum) 0 : title,
                      afp_min_shared_hashes, row_cxt, result_cxt);
    }
    for (int i = 0; i < nranked; i++)
        heap_freetuple(ranked[i].tuple);
    pfree(ranked);
    index_close(index, AccessShareLock);
    table_close(heap, AccessShareLock);
    MemoryContextDelete(row_cxt);
}

/*
 * Index path: the rows an afp_landmark index ranks first for the probe (at most
 * `limit`, each with at least `min_votes` index votes), each voted in full. The
 * index reads at most `max_postings` postings; both are set for the scan only.
 */
static void
collect_ranked(const QuerySet *qs, const CatalogColumns *cols, Oid ext_nsp, Oid afp_type,
               int limit, int max_postings, int min_votes, MatchList *list)
{
    int         saved = afp_index_max_postings;
    int         saved_votes = afp_index_min_votes;
    char       *sql;
    Oid         argtypes[2] = {afp_type, INT8OID};
    Datum       args[2] = {PointerGetDatum(qs->probe), Int64GetDatum(limit)};

    PG_TRY();
    {
        afp_index_max_postings = max_postings;
        afp_index_min_votes = min_votes;
        if (OidIsValid(cols->direct_index))
            scan_ranked(qs, cols, limit, list);
        else
        {
            sql = psprintf("SELECT %s FROM %s c ORDER BY c.%s OPERATOR(%s.<~>) $1 LIMIT $2", candidate_columns(cols),
                           cols->relation, cols->fp, quote_identifier(get_namespace_name(ext_nsp)));
            vote_candidates(sql, 2, argtypes, args, qs, list, afp_min_shared_hashes);
        }
    }
    PG_FINALLY();
    {
        afp_index_max_postings = saved;
        afp_index_min_votes = saved_votes;
    }
    PG_END_TRY();
}

/*
 * Confidence depends on how many tracks competed and how many renditions of the
 * clip were tried (each is another chance to align by luck): both known only now.
 * compared_tracks raises the count of tracks when the probe itself was a test
 * (the fast path rules out most of the catalogue by a strict threshold).
 * Returns the number of rows reaching afp.min_confidence.
 */
int
score_matches(MatchList *list, uint32 renditions, double compared_tracks)
{
    int         accepted = 0;
    uint32      trials = afp_core_comparisons(compared_tracks, list->candidates, renditions);

    for (int i = 0; i < list->nrows; i++)
    {
        list->rows[i].confidence = afp_core_confidence(&list->rows[i].vote, trials);
        if (list->rows[i].confidence >= afp_min_confidence)
            accepted++;
    }
    return accepted;
}

/*
 * The fast-path probe of a reference-density fingerprint: AFP_FAST_PROBE_KEYS of
 * its distinct hashes and the strict threshold for them, or NULL when the
 * fingerprint has too few hashes for a strict threshold to mean anything.
 */
static AfpDatum *
strict_probe(const AfpDatum *reference, uint32 max_keys, double fraction, int *threshold)
{
    AfpBuffer   buffer;
    AfpStatus   status;
    AfpDatum   *sample;

    if (reference->header.count == 0)
        return NULL;
    if (!afp_core_sample_keys(&reference->header, max_keys, &buffer, &status))
        afp_raise(&status);
    sample = afp_datum_from_buffer(&buffer);
    /* One landmark per sampled key. */
    *threshold = (int) ceil(fraction * sample->header.count);
    return *threshold > afp_min_shared_hashes ? sample : NULL;
}


/* Orders rows by track, best vote first, so that duplicates from several renditions can be dropped. */
static int
compare_track_then_vote(const void *a, const void *b)
{
    const MatchRow *x = (const MatchRow *) a;
    const MatchRow *y = (const MatchRow *) b;

    if (x->track_id != y->track_id)
        return x->track_id < y->track_id ? -1 : 1;
    if (x->vote.score != y->vote.score)
        return x->vote.score > y->vote.score ? -1 : 1;
    if (x->vote.log_chance != y->vote.log_chance)
        return x->vote.log_chance < y->vote.log_chance ? -1 : 1;
    return 0;
}

static void refine_drift(AfpDatum *query, const CatalogColumns *cols, const AfpSearchStage *stages, uint32 nstages,
                         MatchList *list);

/* Keeps each track's best row: the speed search may find a track at neighbouring speeds. */
void
keep_best_per_track(MatchList *list)
{
    int         kept = 0;

    if (list->nrows < 2)
        return;
    qsort(list->rows, list->nrows, sizeof(MatchRow), compare_track_then_vote);
    for (int i = 0; i < list->nrows; i++)
        if (kept == 0 || list->rows[kept - 1].track_id != list->rows[i].track_id)
            list->rows[kept++] = list->rows[i];
    list->nrows = kept;
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

/*
 * The catalogue's rows for the confidence of an index search: the rows its
 * afp_landmark index lists when match_* scan it directly (exact, and the same
 * before and after ANALYZE or autovacuum), else what the planner believes.
 */
static double
index_catalog_rows(const CatalogColumns *cols, Oid catalog)
{
    if (OidIsValid(cols->direct_index))
    {
        Relation    index = index_open(cols->direct_index, AccessShareLock);
        double      rows = (double) landmark_index_rows(index);

        index_close(index, AccessShareLock);
        return rows;
    }
    return catalog_rows(catalog);
}

/*
 * The stages of an index search under the current settings (policy.hpp): the
 * same list for one node's match_with_index and for the coordinator of a
 * sharded catalogue. palloc'd; *nstages gets their number.
 */
AfpSearchStage *
match_index_stages(bool has_reference, uint32 *nstages)
{
    AfpBuffer   buffer;
    AfpStatus   status;
    AfpSearchStage *stages;

    if (!afp_core_index_stages(afp_max_speed_change, afp_max_tempo_change, afp_max_pitch_change,
                               (uint64) afp_index_max_postings,
                               (uint32) afp_index_candidates, (uint32) afp_index_min_votes,
                               has_reference, &buffer, &status))
        afp_raise(&status);
    *nstages = (uint32) (buffer.size / sizeof(AfpSearchStage));
    stages = palloc(Max(buffer.size, 1));
    memcpy(stages, buffer.data, buffer.size);
    afp_core_free(&buffer);
    return stages;
}

/*
 * The index path, stage by stage as the core's policy lists them (policy.hpp):
 * each stage is an index vote (ORDER BY fp <~> probe LIMIT candidates, with its
 * own budget) whose rows get the full vote; a round is scored once its stages
 * have run, and the next round (the speed renditions) runs only when nothing was
 * accepted. Confidence counts every row of the catalogue as compared.
 */
static void
match_with_index(AfpDatum *query, AfpDatum *reference, const CatalogColumns *cols, Oid ext_nsp, Oid afp_type,
                 double catalogue_rows, MatchList *list)
{
    AfpSearchStage *stages;
    uint32      nstages;
    int         accepted = 0;

    stages = match_index_stages(reference != NULL && reference != query, &nstages);

    for (uint32 i = 0; i < nstages; i++)
    {
        const AfpSearchStage *st = &stages[i];
        Rendition   r = {st->speed, st->tempo, st->pitch};
        bool        recorded = is_as_recorded(&r);
        AfpDatum   *rendition = recorded ? query : NULL;    /* warped when a candidate needs it */
        QuerySet    one;

        if (st->new_round)
        {
            if (accepted > 0)
                break;
            list->nrows = 0;
            list->candidates = 0;
        }
        one.unwarped = query;
        one.probe = st->probe_reference && reference != NULL
            ? (recorded ? reference : match_warped(reference, &r))
            : (rendition != NULL ? rendition : match_warped(query, &r));
        if (st->probe_keys > 0)
            one.probe = match_sampled(one.probe, st->probe_keys);
        one.variants = &rendition;
        one.renditions = &r;
        one.n = 1;
        collect_ranked(&one, cols, ext_nsp, afp_type, (int) st->candidates,
                       (int) Min(st->max_postings, (uint64) PG_INT32_MAX), (int) st->min_votes, list);
        /* A round ends at the last stage or before the next round: score it. */
        if (i + 1 == nstages || stages[i + 1].new_round)
        {
            uint32      renditions = afp_core_renditions_tried(stages, nstages, i);

            keep_best_per_track(list);
            accepted = score_matches(list, renditions, catalogue_rows);
            elog(DEBUG1, "afp match: index vote, %u rendition(s): %u candidates, %d accepted",
                 renditions, list->candidates, accepted);
        }
    }
    if (accepted > 0)
        refine_drift(query, cols, stages, nstages, list);
}

/*
 * A clip time-stretched by a few percent can be accepted as recorded: its
 * offsets drift by (tempo - 1) x its length, the vote's two neighbouring bins
 * hold the part of it where they stay put, and offset_s lands up to half the
 * drift off (150-200 ms for a 10 s clip at 2%; the accuracy benchmark counted
 * 31 of 240 such 10 s clips). Such a match aligns over a short part of the clip:
 * accepted rows that align over less than AFP_DRIFT_SPAN of it are voted again
 * in every tempo rendition of the stages and keep the best. A clip that aligns
 * over most of its length (every recording at its tempo) costs nothing more.
 */
#define AFP_DRIFT_SPAN 0.6

/* The tempo renditions among the stages (tempo changed, speed and pitch kept), in stage order. */
int
drift_renditions(const AfpSearchStage *stages, uint32 nstages, Rendition *out)
{
    int         n = 0;

    for (uint32 s = 0; s < nstages; s++)
        if (stages[s].tempo != 1.0 && stages[s].speed == 1.0 && stages[s].pitch == 1.0)
            out[n++] = (Rendition) {stages[s].speed, stages[s].tempo, stages[s].pitch};
    return n;
}

/* An accepted row found as recorded that aligns over less than AFP_DRIFT_SPAN of the clip. */
bool
needs_drift_refinement(const MatchRow *row, const AfpDatum *query)
{
    double      clip_frames = (double) query->header.n_samples / query->header.hop;

    return row->confidence >= afp_min_confidence && is_as_recorded(&row->rendition) &&
        row->vote.clip_last_frame - row->vote.clip_first_frame < AFP_DRIFT_SPAN * clip_frames;
}

static void
refine_drift(AfpDatum *query, const CatalogColumns *cols, const AfpSearchStage *stages, uint32 nstages,
             MatchList *list)
{
    Rendition  *tempos = palloc(sizeof(Rendition) * Max(nstages, 1));
    QuerySet    qs = {query, query, palloc0(sizeof(AfpDatum *) * Max(nstages, 1)), tempos, 0};
    char       *sql = NULL;

    qs.n = drift_renditions(stages, nstages, tempos);
    if (qs.n == 0)
        return;
    for (int i = 0; i < list->nrows; i++)
    {
        MatchRow   *row = &list->rows[i];
        Datum       arg = Int64GetDatum(row->track_id);
        Oid         argtype = INT8OID;
        MatchList   better = {0};

        if (!needs_drift_refinement(row, query))
            continue;
        if (sql == NULL)
            sql = psprintf("SELECT %s FROM %s c WHERE c.%s = $1", candidate_columns(cols), cols->relation, cols->id);
        /* The row's track, voted in every tempo rendition (warped once, on first use); kept when one beats it. */
        vote_candidates(sql, 1, &argtype, &arg, &qs, &better, row->vote.score + 1);
        if (better.nrows > 0)
        {
            row->vote = better.rows[0].vote;
            row->rendition = better.rows[0].rendition;
        }
    }
}

/* The bounds of what a match_* query may cost, checked before any search. */
void
check_clip_query(const AfpDatum *query)
{
    /*
     * Matching cost grows with the clip's hashes; afp.max_clip_seconds bounds it,
     * counted to the start of the clip's last analysis frame: the landmarks of a
     * clip of exactly the limit, or of afp_slice(fp, s, s + limit), start within it
     * (the audio lasts one analysis window, 0.128 s, longer).
     */
    double      seconds = (double) query->header.n_samples / query->header.sample_rate;
    double      anchored = afp_core_anchored_seconds(&query->header);

    if (anchored > afp_max_clip_seconds)
        afp_raise_clip_too_long(seconds, anchored);
    /*
     * The duration does not bound the landmarks of a value made elsewhere (a
     * crafted 60 s afp with 4 M landmarks cost 8.8 s and 809 MB).
     */
    afp_check_query_landmarks(query);
}

/*
 * Writes the accepted rows of a scored list, best first, at most max_results, to
 * the SRF result (InitMaterializedSRF done).
 */
void
emit_matches(FunctionCallInfo fcinfo, MatchList *list, const AfpDatum *query, int32 max_results)
{
    ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
    double      seconds_per_frame = (double) query->header.hop / query->header.sample_rate;
    int         emitted = 0;

    if (list->nrows > 1)
        qsort(list->rows, list->nrows, sizeof(MatchRow), compare_matches);

    for (int i = 0; i < list->nrows && emitted < max_results; i++)
    {
        MatchRow   *r = &list->rows[i];
        Datum       values[MATCH_COLUMNS];
        bool        nulls[MATCH_COLUMNS] = {0};
        /*
         * Vote frames of a rendition are in the track's time; the clip's own time
         * runs speed x tempo times faster.
         */
        double      time_scale = r->rendition.speed * r->rendition.tempo;
        double      offset_s = r->vote.offset_frames * seconds_per_frame;
        double      first_s = r->vote.clip_first_frame * seconds_per_frame;
        double      last_s = r->vote.clip_last_frame * seconds_per_frame;

        if (r->confidence < afp_min_confidence)
            continue;
        values[0] = Int64GetDatum(r->track_id);
        if (r->title)
            values[1] = CStringGetTextDatum(r->title);
        else
            nulls[1] = true;
        values[2] = Int32GetDatum(r->vote.score);
        values[3] = Float8GetDatum(offset_s);
        values[4] = Float4GetDatum((float4) r->confidence);
        values[5] = Float8GetDatum((last_s - first_s) / time_scale);
        values[6] = Float8GetDatum(first_s / time_scale);
        values[7] = Float8GetDatum(last_s / time_scale);
        values[8] = Float8GetDatum(first_s + offset_s);
        values[9] = Float8GetDatum(last_s + offset_s);
        values[10] = Float8GetDatum(r->rendition.speed);
        values[11] = Float8GetDatum(r->rendition.tempo);
        values[12] = Float8GetDatum(r->rendition.pitch);
        /* A result type of 0.1.0 - 0.3.0 ends at speed: the tuple takes its first natts values. */
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        emitted++;
    }
}

/*
 * Finds the catalogue rows that contain the query and writes the accepted ones,
 * best first, to the SRF result. Three stages, each run only when the previous
 * one accepted nothing:
 *   1. fast path (when a reference-density fingerprint of the clip is given): the
 *      index is probed with AFP_FAST_PROBE_KEYS of its distinct hashes at a strict
 *      threshold, AFP_FAST_PROBE_FRACTION of them, which a recording of the track
 *      clears and few other tracks do, so only a handful of candidates are voted on;
 *   2. the query's own hashes at afp.min_shared_hashes, for noisy clips;
 *   3. renditions of the query at other speeds.
 */
static void
match_into_result(FunctionCallInfo fcinfo, AfpDatum *query, AfpDatum *reference, Oid catalog, int32 max_results)
{
    Oid         ext_nsp;
    Oid         afp_type;
    CatalogColumns cols;
    QuerySet    direct;
    MatchList   list = {0};
    uint32      renditions = 1;
    int         accepted = 0;

    check_max_results(max_results);
    check_clip_query(query);

    InitMaterializedSRF(fcinfo, 0);
    afp_type = afp_type_oid(fcinfo, &ext_nsp);
    cols = find_catalog_columns(catalog, afp_type);

    /* An empty fingerprint (a silent or very short clip) matches nothing. */
    if (query->header.count == 0)
        return;

    direct.probe = query;
    direct.unwarped = NULL;
    direct.variants = &query;
    direct.renditions = &as_recorded;
    direct.n = 1;

    if (cols.landmark_index && afp_use_landmark_index)
        match_with_index(query, reference, &cols, ext_nsp, afp_type, index_catalog_rows(&cols, catalog), &list);
    else
    {
        if (reference != NULL)
        {
            int         strict;
            AfpDatum   *sample = strict_probe(reference, AFP_FAST_PROBE_KEYS, AFP_FAST_PROBE_FRACTION, &strict);

            if (sample != NULL)
            {
                QuerySet    fast = direct;

                fast.probe = sample;
                collect_matches(&fast, &cols, ext_nsp, afp_type, strict, &list);
                accepted = score_matches(&list, renditions, catalog_rows(catalog));
                elog(DEBUG1, "afp match: fast path, %u keys at threshold %d: %u candidates, %d accepted",
                     sample->header.count, strict, list.candidates, accepted);
            }
        }
        if (accepted == 0)
        {
            list.nrows = 0;
            list.candidates = 0;
            collect_matches(&direct, &cols, ext_nsp, afp_type, afp_min_shared_hashes, &list);
            accepted = score_matches(&list, renditions, 0);
            elog(DEBUG1, "afp match: query hashes at threshold %d: %u candidates, %d accepted",
                 afp_min_shared_hashes, list.candidates, accepted);
        }
        if (accepted == 0 && reference != NULL && afp_max_speed_change >= AFP_SPEED_STEP)
        {
            int         steps = (int) floor(afp_max_speed_change / AFP_SPEED_STEP + 1e-9);

            /*
             * Each speed gets its own strict probe, built from the reference landmarks
             * warped to that speed, and votes with the query warped the same way. A
             * single probe with every rendition's hashes at afp.min_shared_hashes
             * (~40,000 keys) cost 1.4 s per clip on a 5.7 h catalogue, and probing with
             * the unwarped hashes lost a third of the 5 s clips at 2% off speed.
             */
            list.nrows = 0;
            list.candidates = 0;
            renditions += 2 * steps;
            for (int k = 1; k <= steps; k++)
            {
                for (int sign = -1; sign <= 1; sign += 2)
                {
                    Rendition   r = {1.0 + sign * k * AFP_SPEED_STEP, 1.0, 1.0};
                    int         strict;
                    AfpDatum   *sample = strict_probe(match_warped(reference, &r), AFP_SPEED_PROBE_KEYS,
                                                      AFP_SPEED_PROBE_FRACTION, &strict);
                    AfpDatum   *rendition;
                    QuerySet    one;

                    if (sample == NULL)
                        continue;
                    rendition = match_warped(query, &r);
                    one.probe = sample;
                    one.unwarped = NULL;
                    one.variants = &rendition;
                    one.renditions = &r;
                    one.n = 1;
                    collect_matches(&one, &cols, ext_nsp, afp_type, strict, &list);
                }
            }
            keep_best_per_track(&list);
            accepted = score_matches(&list, renditions, catalog_rows(catalog));
            elog(DEBUG1, "afp match: %d speed renditions: %u candidates, %d accepted", 2 * steps, list.candidates, accepted);
        }
    }
    emit_matches(fcinfo, &list, query, max_results);
}

/* match_afp(query afp, catalog regclass, max_results int). */
Datum
afp_match_afp(PG_FUNCTION_ARGS)
{
    AfpDatum   *query = PG_GETARG_AFP_P(0);

    /* A fingerprint made by fingerprint() has reference density: it is its own fast-path probe. */
    match_into_result(fcinfo, query, query, PG_GETARG_OID(1), PG_GETARG_INT32(2));
    return (Datum) 0;
}

/* The afp_tracks table of the extension's schema. */
static Oid
default_catalog(FunctionCallInfo fcinfo)
{
    Oid         nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
    Oid         relid = get_relname_relid("afp_tracks", nsp);

    if (!OidIsValid(relid))
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_TABLE),
                 errmsg("table \"afp_tracks\" of the afp extension does not exist"),
                 errhint("Pass a catalogue: match_clip(clip, 'my_table'::regclass).")));
    return relid;
}

/* match_clip(clip bytea[, catalog regclass], max_results int): fingerprints, then matches. */
Datum
afp_match_clip(PG_FUNCTION_ARGS)
{
    bytea      *clip = PG_GETARG_BYTEA_PP(0);
    Oid         catalog;
    int32       max_results;
    AfpDatum   *query;
    AfpDatum   *reference;

    /*
     * match_clip(clip, max_results): the overload of SQL version 0.1.0 (0.2.0
     * dropped it), served while an installation still runs 0.1.0's script. Goes
     * with default_catalog() when 0.1.0 stops being installable.
     */
    if (PG_NARGS() == 2)
    {
        catalog = default_catalog(fcinfo);
        max_results = PG_GETARG_INT32(1);
    }
    else
    {
        catalog = PG_GETARG_OID(1);
        max_results = PG_GETARG_INT32(2);
    }
    check_max_results(max_results);
    /* A clip gets the query analysis; silence is not an error here, it matches nothing. */
    query = afp_fingerprint_clip(VARDATA_ANY(clip), VARSIZE_ANY_EXHDR(clip), &reference);
    match_into_result(fcinfo, query, reference, catalog, max_results);
    return (Datum) 0;
}

/*
 * afp_catalog_columns(catalog regclass) -> (id name, fp name, title name):
 * the columns match_* read, by the one rule they use (find_catalog_columns), for
 * SQL (afp_catalog_column, afp_catalog_stats) and tools (afp-plot). title is NULL
 * when the catalogue has none the caller may read.
 */
Datum
afp_catalog_columns(PG_FUNCTION_ARGS)
{
    Oid         ext_nsp;
    Oid         afp_type = afp_type_oid(fcinfo, &ext_nsp);
    Oid         relid = PG_GETARG_OID(0);
    CatalogColumns cols = find_catalog_columns(relid, afp_type);
    TupleDesc   desc;
    Datum       values[3];
    bool        nulls[3] = {0};

    if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "afp_catalog_columns must return a record");
    desc = BlessTupleDesc(desc);
    values[0] = CStringGetDatum(get_attname(relid, cols.id_attnum, false));
    values[1] = CStringGetDatum(get_attname(relid, cols.fp_attnum, false));
    if (cols.title_attnum != InvalidAttrNumber)
        values[2] = CStringGetDatum(get_attname(relid, cols.title_attnum, false));
    else
        nulls[2] = true;
    for (int i = 0; i < 3; i++)
        if (!nulls[i])
            values[i] = DirectFunctionCall1(namein, values[i]);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
