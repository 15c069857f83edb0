/*
 * landmarkworker.c — an afp_landmark index merges itself in the background.
 *
 * Inserts keep the pending postings bounded by folding them into small runs
 * (landmarkmerge.c), but only a full merge gives the index back the shape a
 * build gives it: one lookup per query hash, in one run per slice of the mix
 * space. A full merge of a large index takes seconds (17 s at 1,000 h): too long
 * for an insert to wait. VACUUM does one, but autovacuum comes when the table's
 * statistics say so: at the end of a load, 20% more rows than the last time, so
 * the runs a load left could stay for days, each read by every search (3-5x the
 * latency of a built index at 1,000 h).
 *
 * So an insert that merged its pending postings and finds too much of the index
 * outside the merged layer (more than 1/32 of the postings, or 4 layers a query
 * hash is looked up in) starts a dynamic background worker of this library, as
 * parallel query starts its workers. The worker takes the table's
 * ShareUpdateExclusiveLock (VACUUM's: inserts, searches and other statements go
 * on; a VACUUM or another merge already on it makes the worker leave) and runs
 * full merges while the load goes on (more than 1/64 outside, or 3 layers), then,
 * once no insert has come for QUIET_MS, one last merge (with the copy of the run
 * at the end that lets the file shrink, left out of the merges before), and exits (or after a
 * minute of a trickle of inserts that never stops). Searches see
 * the same rows in every state of the index, so nothing waits for the worker.
 *
 * afp.index_background_merge = off (per session) starts none; VACUUM and
 * afp_index_merge() still merge. Without a free worker slot (max_worker_processes)
 * nothing is started and autovacuum merges as before.
 */
#include "landmark.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "commands/defrem.h"
#include "commands/vacuum.h"
#include "postmaster/autovacuum.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

PGDLLEXPORT void afp_landmark_merge_worker(Datum main_arg);

bool        afp_index_background_merge = true;

/* An insert starts a worker when more than 1/START_SHARE of the postings lie outside the merged layer ... */
#define START_SHARE     32
/* ... or a query hash is looked up in this many layers (runs of the whole mix space, the slices, the chains). */
#define START_LAYERS    4
/* The worker merges again at once while more than 1/GO_ON_SHARE lies outside, or in GO_ON_LAYERS layers. */
#define GO_ON_SHARE     64
#define GO_ON_LAYERS    3
/* Otherwise it waits for the inserts to stop this long, then merges the rest. */
#define QUIET_MS        2000
#define QUIET_POLL_MS   250
/* ... for at most this long (a trickle of inserts never stops). */
#define MAX_WAIT_MS     60000
/* A backend starts at most one worker per index this often. */
#define START_EVERY_MS  5000

/*
 * Postings outside the merged layer (the slices of a full merge, or else the
 * largest run) and the layers a query hash is looked up in.
 */
static void
merge_debt(const LandmarkMetaData *meta, uint64 *outside, uint64 *total, uint32 *layers)
{
    uint64      sliced = 0;
    uint64      largest = 0;
    uint64      whole = 0;
    uint32      whole_runs = 0;
    uint64      chains = meta->pending.postings + meta->sealed.postings + meta->flushing.postings;

    for (uint32 i = 0; i < meta->nruns; i++)
    {
        const LandmarkRun *run = &meta->runs[i];

        if (run->mix_lo == 0 && run->mix_hi == PG_UINT32_MAX)
        {
            whole += run->postings;
            whole_runs++;
            largest = Max(largest, run->postings);
        }
        else
            sliced += run->postings;
    }
    *total = sliced + whole + chains;
    *outside = chains + (sliced > 0 ? whole : whole - largest);
    *layers = whole_runs + (sliced > 0 ? 1 : 0) + (chains > 0 ? 1 : 0);
}

/* Whether the index needs a worker (starting) or another merge at once (a worker going on). */
static bool
merge_due(const LandmarkMetaData *meta, bool starting)
{
    uint64      outside;
    uint64      total;
    uint32      layers;

    merge_debt(meta, &outside, &total, &layers);
    if (starting)
        return outside * START_SHARE > total || layers >= START_LAYERS;
    return outside * GO_ON_SHARE > total || layers >= GO_ON_LAYERS;
}

/*
 * Called by an insert that has just merged or flushed its pending postings:
 * starts a worker when the index is due one. Never waits, never fails the
 * insert: without a slot nothing starts.
 */
void
landmark_request_background_merge(Relation index)
{
    static Oid  last_index = InvalidOid;
    static TimestampTz last_start = 0;
    BackgroundWorker worker;
    LandmarkMetaData meta;
    TimestampTz now;

    /* An index created in this transaction: the worker could not see it yet. */
    if (!afp_index_background_merge || RecoveryInProgress() || IsBinaryUpgrade ||
        index->rd_createSubid != InvalidSubTransactionId)
        return;
    now = GetCurrentTimestamp();
    if (last_index == RelationGetRelid(index) && !TimestampDifferenceExceeds(last_start, now, START_EVERY_MS))
        return;
    landmark_read_meta(index, &meta);
    if (!merge_due(&meta, true))
        return;
    last_index = RelationGetRelid(index);
    last_start = now;

    memset(&worker, 0, sizeof(worker));
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    snprintf(worker.bgw_library_name, sizeof(worker.bgw_library_name), "afp");
    snprintf(worker.bgw_function_name, sizeof(worker.bgw_function_name), "afp_landmark_merge_worker");
    snprintf(worker.bgw_name, sizeof(worker.bgw_name), "afp_landmark merge of index %s",
             RelationGetRelationName(index));
    snprintf(worker.bgw_type, sizeof(worker.bgw_type), "afp_landmark merge");
    worker.bgw_main_arg = ObjectIdGetDatum(RelationGetRelid(index));
    memcpy(worker.bgw_extra, &MyDatabaseId, sizeof(Oid));
    worker.bgw_notify_pid = 0;
    if (!RegisterDynamicBackgroundWorker(&worker, NULL))
        elog(DEBUG1, "afp_landmark index \"%s\": no background worker slot for its merge",
             RelationGetRelationName(index));
}

typedef enum
{
    PASS_MERGED,                /* merged; look again at once */
    PASS_SMALL,                 /* little left outside: wait for the inserts to stop */
    PASS_DONE                   /* nothing to do, or the table is busy or gone */
} MergePass;

/*
 * One look at the index and, if due (or final and anything is outside), one
 * full merge, in a transaction of its own.
 */
static MergePass
merge_pass(Oid indexoid, bool final, uint64 *pending_seen, uint32 *runs_seen, bool *compaction_owed)
{
    Oid         heapoid;
    Relation    heap;
    Relation    index;
    LandmarkMetaData meta;
    MergePass   result = PASS_DONE;

    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    heapoid = IndexGetRelation(indexoid, true);
    /* VACUUM or another merge on the table (or DDL): they do what this worker would. */
    if (!OidIsValid(heapoid) || !ConditionalLockRelationOid(heapoid, ShareUpdateExclusiveLock))
    {
        PopActiveSnapshot();
        CommitTransactionCommand();
        return PASS_DONE;
    }
    /* Dropped before the lock was granted? */
    if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(indexoid)) ||
        IndexGetRelation(indexoid, true) != heapoid)
    {
        UnlockRelationOid(heapoid, ShareUpdateExclusiveLock);
        PopActiveSnapshot();
        CommitTransactionCommand();
        return PASS_DONE;
    }
    heap = table_open(heapoid, NoLock);
    index = index_open(indexoid, RowExclusiveLock);
    if (index->rd_rel->relam == get_index_am_oid("afp_landmark", true))
    {
        landmark_read_meta(index, &meta);
        if (merge_due(&meta, false) || (final && !landmark_merged(&meta)))
        {
            pgstat_report_activity(STATE_RUNNING, "merging every run of the index");
            landmark_merge_background(index, final);
            pgstat_report_activity(STATE_IDLE, NULL);
            *compaction_owed = !final;
            result = final ? PASS_DONE : PASS_MERGED;
        }
        else if (final && *compaction_owed)
        {
            pgstat_report_activity(STATE_RUNNING, "compacting the index");
            landmark_compact(index);
            pgstat_report_activity(STATE_IDLE, NULL);
            *compaction_owed = false;
        }
        else if (!landmark_merged(&meta) || *compaction_owed)
            result = PASS_SMALL;
        landmark_read_meta(index, &meta);
        *pending_seen = meta.pending.postings;
        *runs_seen = meta.nruns;
    }
    index_close(index, RowExclusiveLock);
    table_close(heap, ShareUpdateExclusiveLock);
    PopActiveSnapshot();
    CommitTransactionCommand();
    return result;
}

/* Whether the index's pending postings and runs are still what they were (no insert came). */
static bool
index_unchanged(Oid indexoid, uint64 pending_seen, uint32 runs_seen)
{
    bool        same = false;
    Relation    index;

    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    index = try_index_open(indexoid, AccessShareLock);
    if (index != NULL)
    {
        LandmarkMetaData meta;

        if (index->rd_rel->relam == get_index_am_oid("afp_landmark", true))
        {
            landmark_read_meta(index, &meta);
            same = meta.pending.postings == pending_seen && meta.nruns == runs_seen;
        }
        index_close(index, AccessShareLock);
    }
    CommitTransactionCommand();
    return same;
}

void
afp_landmark_merge_worker(Datum main_arg)
{
    Oid         indexoid = DatumGetObjectId(main_arg);
    Oid         dboid;
    uint64      pending_seen = 0;
    uint32      runs_seen = 0;
    bool        compaction_owed = false;

    memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
    /*
     * Throttled as a manual VACUUM is (vacuum_cost_delay, 0 by default: the merge goes at full
     * speed), from the settings of the database and the server: the merge's vacuum_delay_point()
     * calls sleep only when this is set.
     */
#if PG_VERSION_NUM >= 160000
    VacuumUpdateCosts();
#else
    VacuumCostActive = VacuumCostDelay > 0;
#endif
    VacuumCostBalance = 0;

    for (int waited_ms = 0;;)
    {
        MergePass   pass = merge_pass(indexoid, false, &pending_seen, &runs_seen, &compaction_owed);
        int         quiet_ms = 0;

        if (pass == PASS_DONE)
            break;
        if (pass == PASS_MERGED)
        {
            waited_ms = 0;
            continue;
        }
        /* A little left outside: once the inserts have stopped for QUIET_MS, the last merge. */
        while (quiet_ms < QUIET_MS)
        {
            (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, QUIET_POLL_MS,
                             PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
            CHECK_FOR_INTERRUPTS();
            waited_ms += QUIET_POLL_MS;
            if (!index_unchanged(indexoid, pending_seen, runs_seen))
                break;
            quiet_ms += QUIET_POLL_MS;
        }
        if (quiet_ms >= QUIET_MS)
        {
            (void) merge_pass(indexoid, true, &pending_seen, &runs_seen, &compaction_owed);
            break;
        }
        /* A trickle of inserts: the next insert that finds the index due starts a worker again. */
        if (waited_ms >= MAX_WAIT_MS)
            break;
    }
    proc_exit(0);
}
