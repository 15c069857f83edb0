/*
 * landmark.c — the afp_landmark index access method: its handler, options,
 * cost estimate, insert, and the settings of its search.
 *
 *   CREATE INDEX ON tracks USING afp_landmark (fp);
 *   SELECT id FROM tracks ORDER BY fp <~> :query LIMIT 5;
 *
 * The index answers only ordering scans by the <~> operator: rows in order of
 * the votes the index gives them (landmarkscan.c), like pgvector's approximate
 * indexes: a sequential scan orders by the exact vote instead.
 */
#include "landmark.h"

#include "access/reloptions.h"
#include "utils/guc.h"
#include "catalog/pg_type.h"
#include "commands/vacuum.h"
#include "optimizer/paths.h"
#include "nodes/execnodes.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/selfuncs.h"

PG_FUNCTION_INFO_V1(afp_landmark_handler);
PG_FUNCTION_INFO_V1(afp_vote_distance);

/*
 * track <~> query: minus the score of the full vote of query against track (the
 * distinct query hashes aligned at the best offset), so that ORDER BY ascending
 * puts the best match first. This is what a sequential scan orders by; the index
 * orders by its own vote (landmarkscan.c), which agrees on the rows that matter.
 */
Datum
afp_vote_distance(PG_FUNCTION_ARGS)
{
    AfpDatum   *track = PG_GETARG_AFP_P(0);
    AfpDatum   *query = PG_GETARG_AFP_P(1);
    AfpVote     vote;
    AfpStatus   status;

    if (!afp_core_vote(&query->header, &track->header, &vote, &status))
        afp_raise(&status);
    PG_FREE_IF_COPY(track, 0);
    PG_FREE_IF_COPY(query, 1);
    PG_RETURN_FLOAT8(-(double) vote.score);
}

/*
 * Options:
 *   directory_bits  the directory size of every run (2^bits buckets), 0 to size each from its
 *                   postings. Counts are exact per hash whatever the size (landmarkrun.c), so this
 *                   only trades directory bytes against header bytes read per lookup.
 *   pending_limit   kB of pending postings after which an insert merges them into a run
 *                   (landmarkmerge.c); -1 (the default) follows afp.index_pending_limit.
 */
static relopt_kind landmark_relopt_kind;

void
landmark_init_reloptions(void)
{
    landmark_relopt_kind = add_reloption_kind();
    add_int_reloption(landmark_relopt_kind, "directory_bits",
                      "Directory buckets of each run of an afp_landmark index, as a power of two (0: sized from its postings)",
                      0, 0, LANDMARK_MAX_DIR_BITS, AccessExclusiveLock);
    add_int_reloption(landmark_relopt_kind, "pending_limit",
                      "Pending postings (kB) after which an insert merges them into a run (-1: afp.index_pending_limit)",
                      -1, -1, MAX_KILOBYTES, ShareUpdateExclusiveLock);
}

static bytea *
landmark_options(Datum reloptions, bool validate)
{
    static const relopt_parse_elt table[] = {
        {"directory_bits", RELOPT_TYPE_INT, offsetof(LandmarkOptions, directory_bits)},
        {"pending_limit", RELOPT_TYPE_INT, offsetof(LandmarkOptions, pending_limit)},
    };
    LandmarkOptions *opts = (LandmarkOptions *) build_reloptions(reloptions, validate, landmark_relopt_kind,
                                                                 sizeof(LandmarkOptions), table, lengthof(table));

    if (validate && opts != NULL && opts->directory_bits != 0 && opts->directory_bits < LANDMARK_MIN_DIR_BITS)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("directory_bits must be 0 or between %d and %d", LANDMARK_MIN_DIR_BITS, LANDMARK_MAX_DIR_BITS),
                 errdetail("directory_bits is %d.", opts->directory_bits)));
    return (bytea *) opts;
}

/*
 * A scan reads at most afp.index_max_postings postings, or the whole index if it
 * is smaller, before it returns its first row, whatever the size of the catalogue;
 * the pages are mostly cached (seq_page_cost), each posting is a hash-table update
 * (cpu_operator_cost). Without an ORDER BY the index is of no use.
 */
static void
landmark_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
                      Cost *startup, Cost *total, Selectivity *selectivity,
                      double *correlation, double *pages)
{
    double      index_pages = Max(path->indexinfo->pages, 1);
    double      postings;

    if (path->indexorderbys == NIL)
    {
        *startup = get_float8_infinity();
        *total = get_float8_infinity();
        *selectivity = 0;
        *correlation = 0;
        *pages = 0;
        return;
    }
    /* ~5 bytes a posting in runs */
    postings = Min((double) afp_index_max_postings, index_pages * (BLCKSZ / 5));
    *pages = Min(index_pages, postings / (BLCKSZ / 5) + 1);
    *startup = *pages * seq_page_cost + postings * cpu_operator_cost;
    *total = *startup + path->indexinfo->tuples * cpu_index_tuple_cost;
    *selectivity = 1.0;
    *correlation = 0;
}

/* pg_index_column_has_property(): the column is distance-orderable (by <~>), nothing else is special. */
static bool
landmark_property(Oid index_oid, int attno, IndexAMProperty prop, const char *propname, bool *res, bool *isnull)
{
    if (attno == 1 && prop == AMPROP_DISTANCE_ORDERABLE)
    {
        *res = true;
        *isnull = false;
        return true;
    }
    return false;
}

/* Only ordering by <~> is supported; the opclass has no support functions to check. */
static bool
landmark_validate(Oid opclassoid)
{
    return true;
}

/* aminsert: the row's postings go to the pending chain (an insert past the pending limit merges it). */
bool
landmark_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
                IndexUniqueCheck check_unique, bool index_unchanged, IndexInfo *info)
{
    AfpDatum   *fp;

    if (isnull[0])
        return false;
    fp = afp_detoast(values[0]);
    landmark_append_postings(index, fp, heap_tid);
    if ((Pointer) fp != DatumGetPointer(values[0]))
        pfree(fp);
    return false;
}

Datum
afp_landmark_handler(PG_FUNCTION_ARGS)
{
    IndexAmRoutine *am = makeNode(IndexAmRoutine);

    am->amstrategies = 1;
    am->amsupport = 0;
    am->amoptsprocnum = 0;
    am->amcanorder = false;
    am->amcanorderbyop = true;
    am->amcanbackward = false;
    am->amcanunique = false;
    am->amcanmulticol = false;
    am->amoptionalkey = true;
    am->amsearcharray = false;
    am->amsearchnulls = false;
    am->amstorage = false;
    am->amclusterable = false;
    am->ampredlocks = false;
    am->amcanparallel = false;
    am->amcaninclude = false;
    am->amusemaintenanceworkmem = true;
    am->amparallelvacuumoptions = VACUUM_OPTION_NO_PARALLEL;
    am->amkeytype = InvalidOid;

    am->ambuild = landmark_build;
    am->ambuildempty = landmark_buildempty;
    am->aminsert = landmark_insert;
    am->ambulkdelete = landmark_bulkdelete;
    am->amvacuumcleanup = landmark_vacuumcleanup;
    am->amcanreturn = NULL;
    am->amcostestimate = landmark_costestimate;
    am->amoptions = landmark_options;
    am->amproperty = landmark_property;
    am->ambuildphasename = landmark_buildphasename;
    am->amvalidate = landmark_validate;
    am->amadjustmembers = NULL;
    am->ambeginscan = landmark_beginscan;
    am->amrescan = landmark_rescan;
    am->amgettuple = landmark_gettuple;
    am->amgetbitmap = NULL;
    am->amendscan = landmark_endscan;
    am->ammarkpos = NULL;
    am->amrestrpos = NULL;
    am->amestimateparallelscan = NULL;
    am->aminitparallelscan = NULL;
    am->amparallelrescan = NULL;

    PG_RETURN_POINTER(am);
}
