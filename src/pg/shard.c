/*
 * shard.c — what a shard of a sharded catalogue answers its coordinator
 * (coordinator.c). A shard holds some of the catalogue's tracks in its own
 * afp_tracks; the coordinator runs the search stages of one node and asks every
 * shard, for each round of them:
 *
 *   afp_shard_estimates  the postings its index holds per probe hash (the plan's
 *                        input), its directory size and its catalogue rows;
 *   afp_shard_rank       the index vote of each stage with the hashes the
 *                        coordinator planned: its best rows and their votes;
 *   afp_shard_protocol   the version of this conversation (shardprotocol.h), asked first;
 *   afp_shard_vote       the full vote of the rows the coordinator chose, in the
 *                        renditions it names, as raw evidence (no confidence: that
 *                        needs the whole catalogue, which only the coordinator sees).
 *
 * Every function reads the extension's afp_tracks with the caller's privileges.
 */
#include "search.h"
#include "shardprotocol.h"
#include "landmark.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include <math.h>

PG_FUNCTION_INFO_V1(afp_shard_estimates);
PG_FUNCTION_INFO_V1(afp_shard_rank);
PG_FUNCTION_INFO_V1(afp_shard_vote);
PG_FUNCTION_INFO_V1(afp_shard_protocol);

/* afp_shard_protocol() -> int: the version of the shard protocol this afp speaks (shardprotocol.h). */
Datum
afp_shard_protocol(PG_FUNCTION_ARGS)
{
    PG_RETURN_INT32(AFP_SHARD_PROTOCOL);
}

/* The shard's catalogue: afp_tracks of the extension's schema, which must have its afp_landmark index. */
static CatalogColumns
shard_catalog(FunctionCallInfo fcinfo, Oid *afp_type)
{
    Oid         nsp;
    Oid         relid;
    CatalogColumns cols;

    *afp_type = afp_type_oid(fcinfo, &nsp);
    relid = get_relname_relid("afp_tracks", nsp);
    if (!OidIsValid(relid))
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_TABLE),
                 errmsg("table \"afp_tracks\" of the afp extension does not exist on this shard")));
    cols = afp_catalog_columns_of(relid, *afp_type);
    if (!OidIsValid(cols.direct_index))
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("afp_tracks on this shard has no valid afp_landmark index on its fingerprints, or has row-level security"),
                 errhint("A shard answers from its afp_landmark index: CREATE INDEX ON afp_tracks USING afp_landmark (fp).")));
    return cols;
}

/* The elements of a one-dimensional array argument without NULLs. */
static Datum *
array_elements(ArrayType *array, Oid elemtype, int *n, const char *what)
{
    int16       typlen;
    bool        typbyval;
    char        typalign;
    Datum      *elems;
    bool       *nulls;

    if (ARR_NDIM(array) > 1)
        ereport(ERROR,
                (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                 errmsg("%s must be a one-dimensional array", what)));
    get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
    deconstruct_array(array, elemtype, typlen, typbyval, typalign, &elems, &nulls, n);
    for (int i = 0; i < *n; i++)
        if (nulls[i])
            ereport(ERROR,
                    (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                     errmsg("%s must not contain NULL", what)));
    return elems;
}

/* Checks that the per-stage arrays have one element per probe. */
static void
check_same_length(int n, int m, const char *what)
{
    if (n != m)
        ereport(ERROR,
                (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                 errmsg("%s has %d elements, the probes %d", what, m, n)));
}

/*
 * afp_shard_estimates(probes afp[], bits int)
 *   -> (probe int, directory_bits int, catalog_rows float8, estimates int8[])
 * For each probe, the postings of each of its distinct hashes (ascending), counted
 * in directory buckets of min(bits, the index's own) bits.
 */
Datum
afp_shard_estimates(PG_FUNCTION_ARGS)
{
    ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
    Oid         afp_type;
    CatalogColumns cols;
    Datum      *probes;
    int         nprobes;
    int32       bits = PG_GETARG_INT32(1);
    Relation    index;
    double      rows;

    cols = shard_catalog(fcinfo, &afp_type);
    probes = array_elements(PG_GETARG_ARRAYTYPE_P(0), afp_type, &nprobes, "probes");
    if (bits < 0)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("directory bits must not be negative")));
    InitMaterializedSRF(fcinfo, 0);
    index = index_open(cols.direct_index, AccessShareLock);
    /* As one node counts them for its confidence (match.c, index_catalog_rows). */
    rows = (double) landmark_index_rows(index);
    for (int p = 0; p < nprobes; p++)
    {
        AfpDatum   *probe = afp_detoast(probes[p]);
        AfpSearch  *search;
        AfpStatus   status;
        const int32 *hashes;
        uint32      nhashes;
        uint64     *counts;
        Datum      *elems;
        uint32      used;
        Datum       values[SHARD_ESTIMATES_NATTS];
        bool        nulls[SHARD_ESTIMATES_NATTS] = {0};

        CHECK_FOR_INTERRUPTS();
        afp_check_query_landmarks(probe);
        search = afp_core_search_new(&probe->header, 1, 1, &status);
        if (search == NULL)
            afp_raise(&status);
        nhashes = afp_core_search_hashes(search, &hashes);
        counts = palloc(sizeof(uint64) * Max(nhashes, 1));
        /* Exact counts per hash since 0.6.0: the protocol's bits column says so. */
        landmark_estimates(index, hashes, nhashes, counts);
        used = SHARD_COUNTS_PER_HASH;
        afp_core_search_free(search);
        elems = palloc(sizeof(Datum) * Max(nhashes, 1));
        for (uint32 i = 0; i < nhashes; i++)
            elems[i] = Int64GetDatum((int64) counts[i]);
        values[SHARD_ESTIMATES_PROBE - 1] = Int32GetDatum(p + 1);
        values[SHARD_ESTIMATES_BITS - 1] = Int32GetDatum((int32) used);
        values[SHARD_ESTIMATES_ROWS - 1] = Float8GetDatum(rows);
        values[SHARD_ESTIMATES_COUNTS - 1] = PointerGetDatum(construct_array(elems, (int) nhashes, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        pfree(counts);
        pfree(elems);
    }
    index_close(index, AccessShareLock);
    return (Datum) 0;
}

/*
 * afp_shard_rank(probes afp[], max_postings int8[], min_votes int[], limits int[])
 *   -> (probe int, id int8, votes int)
 * For each probe, the index vote (ORDER BY fp <~> probe) with its budget and
 * minimum: the first `limit` visible rows and every later row with as many votes
 * as the last of them, so that the coordinator's merge holds every row one index
 * would rank within the limit wherever ties fall.
 */
/* What afp_shard_rank hands each ranked row to rank_row with. */
typedef struct RankRows
{
    ReturnSetInfo *rsinfo;
    AttrNumber  id_attnum;
    Oid         id_type;
    int32       probe;
} RankRows;

static void
rank_row(TupleTableSlot *slot, uint32 votes, void *arg)
{
    RankRows   *r = (RankRows *) arg;
    bool        id_null;
    Datum       id = slot_getattr(slot, r->id_attnum, &id_null);
    Datum       values[SHARD_RANK_NATTS];
    bool        nulls[SHARD_RANK_NATTS] = {0};

    values[SHARD_RANK_PROBE - 1] = Int32GetDatum(r->probe);
    if (id_null)
        nulls[SHARD_RANK_ID - 1] = true;
    else
        values[SHARD_RANK_ID - 1] = Int64GetDatum(afp_id_value(id, r->id_type));
    values[SHARD_RANK_VOTES - 1] = Int32GetDatum((int32) votes);
    tuplestore_putvalues(r->rsinfo->setResult, r->rsinfo->setDesc, values, nulls);
}

Datum
afp_shard_rank(PG_FUNCTION_ARGS)
{
    ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
    Oid         afp_type;
    CatalogColumns cols;
    Datum      *probes;
    Datum      *budgets;
    Datum      *minimums;
    Datum      *limits;
    int         nprobes;
    int         n;
    Relation    heap;
    Relation    index;
    RankRows    r;

    cols = shard_catalog(fcinfo, &afp_type);
    probes = array_elements(PG_GETARG_ARRAYTYPE_P(0), afp_type, &nprobes, "probes");
    budgets = array_elements(PG_GETARG_ARRAYTYPE_P(1), INT8OID, &n, "max_postings");
    check_same_length(nprobes, n, "max_postings");
    minimums = array_elements(PG_GETARG_ARRAYTYPE_P(2), INT4OID, &n, "min_votes");
    check_same_length(nprobes, n, "min_votes");
    limits = array_elements(PG_GETARG_ARRAYTYPE_P(3), INT4OID, &n, "limits");
    check_same_length(nprobes, n, "limits");

    InitMaterializedSRF(fcinfo, 0);
    heap = table_open(cols.relid, AccessShareLock);
    index = index_open(cols.direct_index, AccessShareLock);
    r.rsinfo = rsinfo;
    r.id_attnum = cols.id_attnum;
    r.id_type = TupleDescAttr(RelationGetDescr(heap), cols.id_attnum - 1)->atttypid;
    for (int p = 0; p < nprobes; p++)
    {
        afp_check_query_landmarks(afp_detoast(probes[p]));
        r.probe = p + 1;
        /* The limits go with the scan: nothing else of this session sees them. */
        afp_rank_by_index(heap, index, probes[p], (uint64) Max(DatumGetInt64(budgets[p]), 1),
                          (uint32) Max(DatumGetInt32(minimums[p]), 1), (uint32) Max(DatumGetInt32(limits[p]), 0),
                          rank_row, &r);
    }
    index_close(index, AccessShareLock);
    table_close(heap, AccessShareLock);
    return (Datum) 0;
}

/* The query read in a rendition's coordinates (the query itself as recorded). */
static AfpDatum *
warped(AfpDatum *query, const AfpRendition *r)
{
    AfpBuffer   buffer;
    AfpStatus   status;

    if (r->speed == 1.0 && r->tempo == 1.0 && r->pitch == 1.0)
        return query;
    if (!afp_core_warp(&query->header, r->speed, r->tempo, r->pitch, &buffer, &status))
        afp_raise(&status);
    return afp_datum_from_buffer(&buffer);
}

/* What afp_shard_vote hands each fetched row to vote_items with. */
typedef struct VoteItems
{
    ReturnSetInfo *rsinfo;
    AfpDatum   *query;
    Datum      *ids;
    AfpRendition *renditions;
    AfpDatum  **variants;       /* the query in each item's rendition, warped on first use */
    int         nitems;
    MemoryContext result_cxt;
    MemoryContext row_cxt;
} VoteItems;

/* Votes a fetched row in every rendition its items name, one result row per item. */
static void
vote_items(HeapTuple tuple, TupleDesc desc, void *arg)
{
    VoteItems  *v = (VoteItems *) arg;
    bool        id_null;
    bool        fp_null;
    bool        title_null;
    int64       id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &id_null));
    Datum       fp = SPI_getbinval(tuple, desc, 2, &fp_null);
    Datum       title = SPI_getbinval(tuple, desc, 3, &title_null);
    MemoryContext old;
    AfpDatum   *track;

    if (id_null || fp_null)
        return;
    old = MemoryContextSwitchTo(v->row_cxt);
    track = afp_detoast(fp);

    for (int k = 0; k < v->nitems; k++)
    {
        AfpVote     vote;
        AfpStatus   status;
        Datum       values[SHARD_VOTE_NATTS];
        bool        nulls[SHARD_VOTE_NATTS] = {0};

        if (DatumGetInt64(v->ids[k]) != id)
            continue;
        if (v->variants[k] == NULL)
        {
            /* Items of one rendition share its warp, made once in the result's context. */
            MemoryContextSwitchTo(v->result_cxt);
            for (int j = 0; j < k && v->variants[k] == NULL; j++)
                if (v->variants[j] != NULL && memcmp(&v->renditions[j], &v->renditions[k], sizeof(AfpRendition)) == 0)
                    v->variants[k] = v->variants[j];
            if (v->variants[k] == NULL)
                v->variants[k] = warped(v->query, &v->renditions[k]);
            MemoryContextSwitchTo(v->row_cxt);
        }
        if (!afp_core_vote(&v->variants[k]->header, &track->header, &vote, &status))
            afp_raise(&status);
        values[SHARD_VOTE_ITEM - 1] = Int32GetDatum(k + 1);
        values[SHARD_VOTE_ID - 1] = Int64GetDatum(id);
        if (title_null)
            nulls[SHARD_VOTE_TITLE - 1] = true;
        else
            values[SHARD_VOTE_TITLE - 1] = title;
        values[SHARD_VOTE_SCORE - 1] = Int32GetDatum(vote.score);
        values[SHARD_VOTE_ANCHORS - 1] = Int32GetDatum(vote.anchors);
        values[SHARD_VOTE_ALIGNED_PAIRS - 1] = Int32GetDatum(vote.aligned_pairs);
        values[SHARD_VOTE_TOTAL_PAIRS - 1] = Int32GetDatum(vote.total_pairs);
        values[SHARD_VOTE_OFFSET_FRAMES - 1] = Float8GetDatum(vote.offset_frames);
        values[SHARD_VOTE_CLIP_FIRST_FRAME - 1] = Int64GetDatum((int64) vote.clip_first_frame);
        values[SHARD_VOTE_CLIP_LAST_FRAME - 1] = Int64GetDatum((int64) vote.clip_last_frame);
        values[SHARD_VOTE_LOG_CHANCE - 1] = Float8GetDatum(vote.log_chance);
        values[SHARD_VOTE_DRIFT_PAIRS - 1] = Int32GetDatum(vote.drift_pairs);
        tuplestore_putvalues(v->rsinfo->setResult, v->rsinfo->setDesc, values, nulls);
    }
    MemoryContextSwitchTo(old);
    MemoryContextReset(v->row_cxt);
}

/*
 * afp_shard_vote(query afp, ids int8[], speeds float8[], tempos float8[], pitches float8[])
 *   -> (item int, id int8, title text, score int, anchors int, aligned_pairs int,
 *       total_pairs int, offset_frames float8, clip_first_frame int8,
 *       clip_last_frame int8, log_chance float8, drift_pairs int)
 * Item k votes the row with id ids[k] (if this shard holds it) with the query in
 * rendition (speeds[k], tempos[k], pitches[k]).
 */
Datum
afp_shard_vote(PG_FUNCTION_ARGS)
{
    Oid         afp_type;
    CatalogColumns cols;
    ArrayType  *ids_array = PG_GETARG_ARRAYTYPE_P(1);
    VoteItems   v;
    Datum      *speeds;
    Datum      *tempos;
    Datum      *pitches;
    int         n;
    char       *sql;
    Oid         argtypes[1] = {INT8ARRAYOID};
    Datum       args[1] = {PointerGetDatum(ids_array)};

    cols = shard_catalog(fcinfo, &afp_type);
    v.query = PG_GETARG_AFP_P(0);
    afp_check_clip_query(v.query);
    v.ids = array_elements(ids_array, INT8OID, &v.nitems, "ids");
    speeds = array_elements(PG_GETARG_ARRAYTYPE_P(2), FLOAT8OID, &n, "speeds");
    check_same_length(v.nitems, n, "speeds");
    tempos = array_elements(PG_GETARG_ARRAYTYPE_P(3), FLOAT8OID, &n, "tempos");
    check_same_length(v.nitems, n, "tempos");
    pitches = array_elements(PG_GETARG_ARRAYTYPE_P(4), FLOAT8OID, &n, "pitches");
    check_same_length(v.nitems, n, "pitches");

    v.renditions = palloc(sizeof(AfpRendition) * Max(v.nitems, 1));
    v.variants = palloc0(sizeof(AfpDatum *) * Max(v.nitems, 1));
    for (int k = 0; k < v.nitems; k++)
    {
        AfpRendition r = {DatumGetFloat8(speeds[k]), DatumGetFloat8(tempos[k]), DatumGetFloat8(pitches[k])};

        if (!(r.speed > 0 && r.tempo > 0 && r.pitch > 0) || isinf(r.speed) || isinf(r.tempo) || isinf(r.pitch))
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     errmsg("speeds, tempos and pitches must be positive and finite")));
        v.renditions[k] = r;
    }

    InitMaterializedSRF(fcinfo, 0);
    v.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
    v.result_cxt = CurrentMemoryContext;
    v.row_cxt = AllocSetContextCreate(CurrentMemoryContext, "afp shard vote row", ALLOCSET_DEFAULT_SIZES);
    /* Every name qualified: the caller's search_path on this shard may hold objects of its own. */
    sql = psprintf("SELECT c.%s::pg_catalog.int8, c.%s, %s FROM %s c WHERE c.%s OPERATOR(pg_catalog.=) ANY ($1)", cols.id, cols.fp,
                   cols.title ? psprintf("c.%s::pg_catalog.text", cols.title) : "NULL::pg_catalog.text",
                   cols.relation, cols.id);
    afp_scan_candidate_rows(sql, 1, argtypes, args, vote_items, &v);
    MemoryContextDelete(v.row_cxt);
    return (Datum) 0;
}
