/*
 * landmarkbuild.c — CREATE INDEX / REINDEX for afp_landmark: one heap scan
 * collecting postings, a sort by the mixed hash (in memory, or through 256
 * temporary files by its top byte when maintenance_work_mem is exceeded), then
 * one run (landmarkrun.c), the row pages and the meta page are written in order
 * and WAL-logged once. Its phases show in pg_stat_progress_create_index.
 */
#include "landmark.h"

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "optimizer/optimizer.h"
#include "storage/buffile.h"
#include "storage/sharedfileset.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
#include "storage/smgr.h"
#include "utils/memutils.h"

static void landmark_empty_meta(LandmarkMetaData *meta);

/* Temporary files of a spilled build: one per top byte of the mixed hash. */
#define LANDMARK_SPILL_FILES 256

typedef struct LandmarkBuildState
{
    Relation    index;
    MemoryContext build_cxt;    /* lives for the whole build: the spill files are made in it */
    MemoryContext tuple_cxt;    /* reset after each heap row */
    LandmarkPosting *postings;  /* in memory, not yet spilled */
    Size        n;
    Size        capacity;       /* postings that fit maintenance_work_mem (half of it: the sort needs a copy) */
    BufFile    *spill[LANDMARK_SPILL_FILES];
    uint64      spilled;
    LandmarkRow *rows;
    Size        nrows;
    Size        rows_capacity;
    double      heap_tuples;

    /* a participant of a parallel build: its spill files are in the build's shared file set */
    FileSet    *shared_files;
    int         participant;

    /* writing */
    uint32      generation;     /* of the run */
    LandmarkRunWriter *writer;
    LandmarkKey *group;         /* postings of one hash, put in key order before the writer gets them */
    Size        ngroup;
    Size        group_capacity;
    uint64      written;
} LandmarkBuildState;

static void finish_run(LandmarkBuildState *st, LandmarkMetaData *meta);
static bool parallel_build(LandmarkBuildState *st, Relation heap, Relation index, IndexInfo *info, int nworkers);
static int  parallel_workers_asked(Relation heap, Relation index);

/* The mix the buckets use, full width: sorting by it sorts by bucket at any dir_bits. */
static inline uint32
posting_mix(const LandmarkPosting *p)
{
    return landmark_mix(p->hash);
}

/*
 * Writes the in-memory postings to the temporary files by their top byte. The
 * files are created in the build's context: spill() runs from the heap scan's
 * callback, whose per-row context is reset after every row.
 */
static void
spill(LandmarkBuildState *st)
{
    MemoryContext old = MemoryContextSwitchTo(st->build_cxt);

    for (Size i = 0; i < st->n; i++)
    {
        uint32      file = posting_mix(&st->postings[i]) >> 24;

        if (st->spill[file] == NULL)
        {
            if (st->shared_files != NULL)
            {
                char        name[64];

                snprintf(name, sizeof(name), "p%d.f%u", st->participant, file);
                st->spill[file] = BufFileCreateFileSet(st->shared_files, name);
            }
            else
                st->spill[file] = BufFileCreateTemp(false);
        }
        BufFileWrite(st->spill[file], &st->postings[i], sizeof(LandmarkPosting));
    }
    st->spilled += st->n;
    st->n = 0;
    MemoryContextSwitchTo(old);
}

/* Heap scan callback: a row's postings, and its row entry. */
static void
build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool alive, void *arg)
{
    LandmarkBuildState *st = (LandmarkBuildState *) arg;
    MemoryContext old;
    AfpDatum   *fp;
    const int32 *hashes;
    const uint32 *frames;

    if (isnull[0])
        return;
    old = MemoryContextSwitchTo(st->tuple_cxt);
    fp = afp_detoast(values[0]);
    landmark_check_fingerprint(index, fp);
    hashes = afp_body_hashes(&fp->header);
    frames = afp_body_frames(&fp->header);
    for (uint32 i = 0; i < fp->header.count; i++)
    {
        if (st->n == st->capacity)
            spill(st);
        landmark_fill_posting(&st->postings[st->n++], hashes[i], tid, frames[i]);
    }
    MemoryContextSwitchTo(old);

    if (st->nrows == st->rows_capacity)
    {
        st->rows_capacity *= 2;
        st->rows = repalloc_huge(st->rows, st->rows_capacity * sizeof(LandmarkRow));
    }
    memset(&st->rows[st->nrows], 0, sizeof(LandmarkRow));
    st->rows[st->nrows].tid = *tid;
    st->rows[st->nrows].landmarks = fp->header.count;
    st->nrows++;
    st->heap_tuples += 1;
    MemoryContextReset(st->tuple_cxt);
}

/* Stable LSD radix sort by the mixed hash, a byte at a time; tmp has room for n postings. */
static void
radix_sort(LandmarkPosting *a, LandmarkPosting *tmp, Size n)
{
    for (int shift = 0; shift < 32; shift += 8)
    {
        Size        count[257] = {0};

        for (Size i = 0; i < n; i++)
            count[((posting_mix(&a[i]) >> shift) & 0xFF) + 1]++;
        if (count[((n > 0 ? posting_mix(&a[0]) >> shift : 0) & 0xFF) + 1] == n)
            continue;           /* every posting has this byte in common */
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (Size i = 0; i < n; i++)
            tmp[count[(posting_mix(&a[i]) >> shift) & 0xFF]++] = a[i];
        memcpy(a, tmp, n * sizeof(LandmarkPosting));
        CHECK_FOR_INTERRUPTS();
    }
}

/* Appends a page of the given kind to the index, with items copied in. */
static BlockNumber
write_page(Relation index, uint16 kind, const void *items, Size bytes, BlockNumber next)
{
    Buffer      buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
    Page        page;
    BlockNumber blkno = BufferGetBlockNumber(buf);

    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    page = BufferGetPage(buf);
    landmark_init_page(page, kind, 0);
    memcpy(PageGetContents(page), items, bytes);
    ((PageHeader) page)->pd_lower += (LocationIndex) bytes;
    LandmarkPageGetOpaque(page)->next = next;
    MarkBufferDirty(buf);
    UnlockReleaseBuffer(buf);
    return blkno;
}

static int
compare_keys(const void *a, const void *b)
{
    return landmark_key_cmp((const LandmarkKey *) a, (const LandmarkKey *) b);
}

/* Hands the gathered postings of one hash to the writer, in key order. */
static void
flush_group(LandmarkBuildState *st)
{
    bool        sorted = true;

    for (Size i = 1; i < st->ngroup && sorted; i++)
        sorted = landmark_key_cmp(&st->group[i - 1], &st->group[i]) <= 0;
    /* A synchronised heap scan can start mid-table: rows then come out of order. */
    if (!sorted)
        qsort(st->group, st->ngroup, sizeof(LandmarkKey), compare_keys);
    for (Size i = 0; i < st->ngroup; i++)
        landmark_run_writer_add(st->writer, &st->group[i]);
    st->written += st->ngroup;
    st->ngroup = 0;
    pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) st->written);
}

/* Adds postings sorted by mix to the run. */
static void
emit_sorted(LandmarkBuildState *st, const LandmarkPosting *p, Size n)
{
    for (Size i = 0; i < n; i++)
    {
        LandmarkKey key;

        key.mix = posting_mix(&p[i]);
        key.row = landmark_posting_row(&p[i]);
        key.frame = landmark_posting_frame(&p[i]);
        if (st->ngroup > 0 && st->group[0].mix != key.mix)
            flush_group(st);
        if (st->ngroup == st->group_capacity)
        {
            st->group_capacity = Max(1024, st->group_capacity * 2);
            st->group = st->group == NULL ? palloc_extended(st->group_capacity * sizeof(LandmarkKey), MCXT_ALLOC_HUGE)
                : repalloc_huge(st->group, st->group_capacity * sizeof(LandmarkKey));
        }
        st->group[st->ngroup++] = key;
        if (i % 65536 == 65535)
            CHECK_FOR_INTERRUPTS();
    }
}

/*
 * Appends a spill file's postings to st->postings. A file holds 1/256 of the
 * postings on average; one that holds more than the buffer (skewed hashes) grows
 * the buffer and the sort's copy *tmp, since its buckets must be sorted whole.
 */
static void
read_spill_file(LandmarkBuildState *st, BufFile *file, LandmarkPosting **tmp)
{
    for (;;)
    {
        Size        got;

        if (st->n == st->capacity)
        {
            st->capacity *= 2;
            st->postings = repalloc_huge(st->postings, st->capacity * sizeof(LandmarkPosting));
            *tmp = repalloc_huge(*tmp, st->capacity * sizeof(LandmarkPosting));
        }
        got = BufFileRead(file, &st->postings[st->n], (st->capacity - st->n) * sizeof(LandmarkPosting));
        if (got == 0)
            break;
        st->n += got / sizeof(LandmarkPosting);
    }
}

/* Writes the run and the row pages after the scan; fills *meta. */
static void
write_index(LandmarkBuildState *st, LandmarkMetaData *meta)
{
    uint64      total = st->spilled + st->n;
    LandmarkPosting *tmp;
    LandmarkOptions *opts = (LandmarkOptions *) st->index->rd_options;

    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, LANDMARK_PHASE_SORT);
    tmp = palloc_extended(Max(st->capacity, 1) * sizeof(LandmarkPosting), MCXT_ALLOC_HUGE);
    if (total > 0)
        st->writer = landmark_run_writer_begin(st->index, total, st->generation, true,
                                               opts != NULL ? opts->directory_bits : 0, 0, PG_UINT32_MAX);
    if (st->spilled == 0)
    {
        radix_sort(st->postings, tmp, st->n);
        pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, LANDMARK_PHASE_WRITE);
        pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) total);
        emit_sorted(st, st->postings, st->n);
    }
    else
    {
        spill(st);
        for (int f = 0; f < LANDMARK_SPILL_FILES; f++)
        {
            if (st->spill[f] == NULL)
                continue;
            if (BufFileSeek(st->spill[f], 0, 0, SEEK_SET) != 0)
                elog(ERROR, "could not rewind a temporary file of the afp_landmark build");
            st->n = 0;
            read_spill_file(st, st->spill[f], &tmp);
            BufFileClose(st->spill[f]);
            st->spill[f] = NULL;
            radix_sort(st->postings, tmp, st->n);
            if (f == 0 || st->written == 0)
            {
                pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, LANDMARK_PHASE_WRITE);
                pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) total);
            }
            emit_sorted(st, st->postings, st->n);
        }
    }
    pfree(tmp);
    finish_run(st, meta);
}

/* The last hash's postings, the run's directory, then the row pages; fills *meta. */
static void
finish_run(LandmarkBuildState *st, LandmarkMetaData *meta)
{
    if (st->writer != NULL)
    {
        if (st->ngroup > 0)
            flush_group(st);
        landmark_run_writer_finish(st->writer, &meta->runs[0]);
        meta->nruns = 1;
        meta->next_generation++;
    }

    /* Row pages, chained in block order. */
    meta->rows_head = meta->rows_tail = InvalidBlockNumber;
    for (Size first = 0; first < st->nrows; first += LANDMARK_ROWS_PER_PAGE)
    {
        Size        k = Min(st->nrows - first, LANDMARK_ROWS_PER_PAGE);
        BlockNumber here = RelationGetNumberOfBlocks(st->index);
        BlockNumber next = first + k < st->nrows ? here + 1 : InvalidBlockNumber;

        write_page(st->index, LANDMARK_PAGE_ROWS, &st->rows[first], k * sizeof(LandmarkRow), next);
        if (!BlockNumberIsValid(meta->rows_head))
            meta->rows_head = here;
        meta->rows_tail = here;
    }
    meta->rows = st->nrows;
}


/* ---------- parallel build ---------- */

/*
 * A parallel build (as nbtree's and pgvector's): the leader and the workers scan
 * parts of the table with a parallel heap scan; each participant spills its
 * postings by the top byte of the mix, and its rows, to files of a shared file
 * set; the leader then sorts each byte's files together and writes the run, as
 * the serial build does with its own spill files. Asked for per table (see
 * parallel_workers_asked).
 */
#define LANDMARK_SHARED_KEY     UINT64CONST(0xA0F0000000000001)
#define LANDMARK_SCAN_KEY       UINT64CONST(0xA0F0000000000002)
#define LANDMARK_QUERY_KEY      UINT64CONST(0xA0F0000000000003)
/* The segment size of a BufFile (buffile.c's MAX_PHYSICAL_FILESIZE): BufFileSeek takes a segment and an offset. */
#define LANDMARK_BUFFILE_SEGMENT ((uint64) 0x40000000)

typedef struct LandmarkBuildShared
{
    Oid         heaprelid;
    Oid         indexrelid;
    bool        isconcurrent;
    Size        capacity;           /* postings a participant holds before writing a chunk */
    slock_t     mutex;
    double      heap_tuples;        /* summed by the participants */
    uint64      spilled;            /* postings, summed */
    int         participants_done;
    SharedFileSet fileset;
} LandmarkBuildShared;

/*
 * One participant's share: its part of the table scanned, its postings spilled by
 * the top byte of the mix to files of the shared set (p<participant>.f<byte>), as
 * a serial build spills them, and its rows to p<participant>.rows.
 */
static void
participate(LandmarkBuildShared *shared, ParallelTableScanDesc pscan, Relation heap, Relation index,
            int participant, bool progress)
{
    LandmarkBuildState *st = palloc0(sizeof(LandmarkBuildState));
    IndexInfo  *info = BuildIndexInfo(index);
    TableScanDesc scan;
    char        name[64];
    BufFile    *rows;

    info->ii_Concurrent = shared->isconcurrent;
    st->index = index;
    st->build_cxt = CurrentMemoryContext;
    st->tuple_cxt = AllocSetContextCreate(CurrentMemoryContext, "afp_landmark build row", ALLOCSET_DEFAULT_SIZES);
    st->capacity = shared->capacity;
    st->postings = palloc_extended(st->capacity * sizeof(LandmarkPosting), MCXT_ALLOC_HUGE);
    st->rows_capacity = 1024;
    st->rows = palloc(st->rows_capacity * sizeof(LandmarkRow));
    st->shared_files = &shared->fileset.fs;
    st->participant = participant;

    scan = table_beginscan_parallel(heap, pscan);
    table_index_build_scan(heap, index, info, true, progress, build_callback, st, scan);
    spill(st);
    for (int f = 0; f < LANDMARK_SPILL_FILES; f++)
        if (st->spill[f] != NULL)
            BufFileClose(st->spill[f]);

    snprintf(name, sizeof(name), "p%d.rows", participant);
    rows = BufFileCreateFileSet(&shared->fileset.fs, name);
    if (st->nrows > 0)
        BufFileWrite(rows, st->rows, st->nrows * sizeof(LandmarkRow));
    BufFileClose(rows);

    SpinLockAcquire(&shared->mutex);
    shared->heap_tuples += st->heap_tuples;
    shared->spilled += st->spilled;
    shared->participants_done++;
    SpinLockRelease(&shared->mutex);
    MemoryContextDelete(st->tuple_cxt);
}

/* The entry point of a worker (CreateParallelContext names it). */
PGDLLEXPORT void landmark_parallel_build_main(dsm_segment *seg, shm_toc *toc);

void
landmark_parallel_build_main(dsm_segment *seg, shm_toc *toc)
{
    LandmarkBuildShared *shared = shm_toc_lookup(toc, LANDMARK_SHARED_KEY, false);
    ParallelTableScanDesc pscan = shm_toc_lookup(toc, LANDMARK_SCAN_KEY, false);
    LOCKMODE    heap_lock = shared->isconcurrent ? ShareUpdateExclusiveLock : ShareLock;
    LOCKMODE    index_lock = shared->isconcurrent ? RowExclusiveLock : AccessExclusiveLock;
    Relation    heap;
    Relation    index;

    /* The statement, so that pg_stat_activity shows what the worker works for (as nbtree's do). */
    debug_query_string = shm_toc_lookup(toc, LANDMARK_QUERY_KEY, true);
    pgstat_report_activity(STATE_RUNNING, debug_query_string);
    SharedFileSetAttach(&shared->fileset, seg);
    heap = table_open(shared->heaprelid, heap_lock);
    index = index_open(shared->indexrelid, index_lock);
    participate(shared, pscan, heap, index, ParallelWorkerNumber + 1, false);
    index_close(index, index_lock);
    table_close(heap, heap_lock);
}

/*
 * Workers for the build: only when the table's parallel_workers storage parameter
 * asks for them (then as many as the planner grants under
 * max_parallel_maintenance_workers and maintenance_work_mem). On the 2-core
 * machine of docs/performance.md a parallel build of 1,000 h took 28.5 s against
 * 16.8 s for the serial one, so it is not the default; the access method does not
 * claim amcanbuildparallel (PostgreSQL 17) for the same reason.
 */
static int
parallel_workers_asked(Relation heap, Relation index)
{
    if (!IsNormalProcessingMode() || heap->rd_rel->relpersistence == RELPERSISTENCE_TEMP ||
        RelationGetParallelWorkers(heap, -1) <= 0)
        return 0;
    return plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));
}

/*
 * The parallel build: launches the workers, takes part, then merges every
 * chunk into st's run and collects the rows. Returns false (nothing done) when
 * no worker could be launched, for the serial build to run instead.
 */
static bool
parallel_build(LandmarkBuildState *st, Relation heap, Relation index, IndexInfo *info, int nworkers)
{
    ParallelContext *pcxt;
    LandmarkBuildShared *shared;
    ParallelTableScanDesc pscan;
    Size        scan_size;
    Snapshot    snapshot;
    int         participants;
    LandmarkPosting *tmp;
    uint64      total = 0;
    LandmarkOptions *opts = (LandmarkOptions *) index->rd_options;

    EnterParallelMode();
    pcxt = CreateParallelContext("afp", "landmark_parallel_build_main", nworkers);
    snapshot = info->ii_Concurrent ? RegisterSnapshot(GetTransactionSnapshot()) : SnapshotAny;
    scan_size = table_parallelscan_estimate(heap, snapshot);
    shm_toc_estimate_chunk(&pcxt->estimator, sizeof(LandmarkBuildShared));
    shm_toc_estimate_chunk(&pcxt->estimator, scan_size);
    if (debug_query_string)
        shm_toc_estimate_chunk(&pcxt->estimator, strlen(debug_query_string) + 1);
    shm_toc_estimate_keys(&pcxt->estimator, 3);
    InitializeParallelDSM(pcxt);
    if (pcxt->seg == NULL)
    {
        if (IsMVCCSnapshot(snapshot))
            UnregisterSnapshot(snapshot);
        DestroyParallelContext(pcxt);
        ExitParallelMode();
        return false;
    }
    shared = shm_toc_allocate(pcxt->toc, sizeof(LandmarkBuildShared));
    memset(shared, 0, sizeof(*shared));
    shared->heaprelid = RelationGetRelid(heap);
    shared->indexrelid = RelationGetRelid(index);
    shared->isconcurrent = info->ii_Concurrent;
    /* Each participant gets its share of maintenance_work_mem (half: the sort needs a copy). */
    shared->capacity = Max((Size) maintenance_work_mem * 1024 / 2 / (nworkers + 1) / sizeof(LandmarkPosting), 1024);
    SpinLockInit(&shared->mutex);
    SharedFileSetInit(&shared->fileset, pcxt->seg);
    pscan = shm_toc_allocate(pcxt->toc, scan_size);
    table_parallelscan_initialize(heap, pscan, snapshot);
    shm_toc_insert(pcxt->toc, LANDMARK_SHARED_KEY, shared);
    shm_toc_insert(pcxt->toc, LANDMARK_SCAN_KEY, pscan);
    if (debug_query_string)
    {
        char       *query = shm_toc_allocate(pcxt->toc, strlen(debug_query_string) + 1);

        strcpy(query, debug_query_string);
        shm_toc_insert(pcxt->toc, LANDMARK_QUERY_KEY, query);
    }
    LaunchParallelWorkers(pcxt);
    if (pcxt->nworkers_launched == 0)
    {
        WaitForParallelWorkersToFinish(pcxt);
        if (IsMVCCSnapshot(snapshot))
            UnregisterSnapshot(snapshot);
        DestroyParallelContext(pcxt);
        ExitParallelMode();
        return false;
    }
    participants = pcxt->nworkers_launched + 1;
    elog(DEBUG1, "afp_landmark build of \"%s\": %d parallel workers", RelationGetRelationName(index),
         pcxt->nworkers_launched);

    /* The leader takes part (participant 0), with the progress report. */
    participate(shared, pscan, heap, index, 0, true);
    WaitForParallelWorkersToFinish(pcxt);
    if (shared->participants_done != participants)
        elog(ERROR, "afp_landmark parallel build: %d of %d participants finished", shared->participants_done,
             participants);
    st->heap_tuples = shared->heap_tuples;

    /* The rows of every participant. */
    for (int p = 0; p < participants; p++)
    {
        char        name[64];
        BufFile    *f;
        LandmarkRow row;

        snprintf(name, sizeof(name), "p%d.rows", p);
        f = BufFileOpenFileSet(&shared->fileset.fs, name, O_RDONLY, false);
        while (BufFileRead(f, &row, sizeof(row)) == sizeof(row))
        {
            if (st->nrows == st->rows_capacity)
            {
                st->rows_capacity *= 2;
                st->rows = repalloc_huge(st->rows, st->rows_capacity * sizeof(LandmarkRow));
            }
            st->rows[st->nrows++] = row;
        }
        BufFileClose(f);
    }

    /*
     * Every participant spilled by the top byte of the mix: the leader sorts each byte's files
     * together, in byte order, as the serial build sorts its own spill files.
     */
    total = shared->spilled;
    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, LANDMARK_PHASE_WRITE);
    pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) total);
    if (total > 0)
        st->writer = landmark_run_writer_begin(index, total, st->generation, true,
                                               opts != NULL ? opts->directory_bits : 0, 0, PG_UINT32_MAX);
    tmp = palloc_extended(Max(st->capacity, 1) * sizeof(LandmarkPosting), MCXT_ALLOC_HUGE);
    for (int f = 0; f < LANDMARK_SPILL_FILES; f++)
    {
        st->n = 0;
        for (int p = 0; p < participants; p++)
        {
            char        name[64];
            BufFile    *file;

            snprintf(name, sizeof(name), "p%d.f%d", p, f);
            file = BufFileOpenFileSet(&shared->fileset.fs, name, O_RDONLY, true);
            if (file == NULL)
                continue;
            read_spill_file(st, file, &tmp);
            BufFileClose(file);
        }
        CHECK_FOR_INTERRUPTS();
        radix_sort(st->postings, tmp, st->n);
        emit_sorted(st, st->postings, st->n);
    }
    pfree(tmp);
    st->spilled = total;
    st->n = 0;

    if (IsMVCCSnapshot(snapshot))
        UnregisterSnapshot(snapshot);
    DestroyParallelContext(pcxt);
    ExitParallelMode();
    return true;
}

/* Fills the meta page (block 0, allocated first) and WAL-logs every page of the index. */
static void
finish_meta(Relation index, const LandmarkMetaData *meta)
{
    Buffer      buf = ReadBuffer(index, LANDMARK_META_BLKNO);
    Page        page;

    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    page = BufferGetPage(buf);
    landmark_init_page(page, LANDMARK_PAGE_META, 0);
    memcpy(LandmarkPageGetMeta(page), meta, sizeof(LandmarkMetaData));
    ((PageHeader) page)->pd_lower = (LocationIndex) (PageGetContents(page) + sizeof(LandmarkMetaData) - (char *) page);
    MarkBufferDirty(buf);
    UnlockReleaseBuffer(buf);
    if (RelationNeedsWAL(index))
        log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);
}

IndexBuildResult *
landmark_build(Relation heap, Relation index, IndexInfo *info)
{
    LandmarkBuildState *st;
    LandmarkMetaData meta;
    IndexBuildResult *result;
    Buffer      metabuf;
    int         nworkers;

    if (RelationGetNumberOfBlocks(index) != 0)
        elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

    /* The meta page is block 0; it is written last. */
    metabuf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
    Assert(BufferGetBlockNumber(metabuf) == LANDMARK_META_BLKNO);
    ReleaseBuffer(metabuf);

    st = palloc0(sizeof(LandmarkBuildState));
    st->index = index;
    st->build_cxt = CurrentMemoryContext;
    st->tuple_cxt = AllocSetContextCreate(CurrentMemoryContext, "afp_landmark build row", ALLOCSET_DEFAULT_SIZES);
    st->capacity = Max((Size) maintenance_work_mem * 1024 / 2 / sizeof(LandmarkPosting), 1024);
    st->postings = palloc_extended(st->capacity * sizeof(LandmarkPosting), MCXT_ALLOC_HUGE);
    st->rows_capacity = 1024;
    st->rows = palloc(st->rows_capacity * sizeof(LandmarkRow));

    landmark_empty_meta(&meta);
    st->generation = meta.next_generation;

    /*
     * The heap's size goes with the phase, in one update: the scan publishes it only once it has
     * begun, and a reader in between would see "collecting postings" of 0 blocks.
     */
    {
        const int   progress_index[] = {PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_SCAN_BLOCKS_TOTAL};
        const int64 progress_vals[] = {LANDMARK_PHASE_SCAN, RelationGetNumberOfBlocks(heap)};

        pgstat_progress_update_multi_param(2, progress_index, progress_vals);
    }
    nworkers = parallel_workers_asked(heap, index);
    if (nworkers > 0 && parallel_build(st, heap, index, info, nworkers))
        finish_run(st, &meta);
    else
    {
        table_index_build_scan(heap, index, info, true, true, build_callback, st, NULL);
        write_index(st, &meta);
    }
    finish_meta(index, &meta);

    result = palloc(sizeof(IndexBuildResult));
    result->heap_tuples = st->heap_tuples;
    result->index_tuples = (double) st->nrows;
    MemoryContextDelete(st->tuple_cxt);
    return result;
}

/* The meta page of an index with no run and no chain. */
static void
landmark_empty_meta(LandmarkMetaData *meta)
{
    memset(meta, 0, sizeof(*meta));
    meta->magic = LANDMARK_MAGIC;
    meta->version = LANDMARK_VERSION;
    meta->next_generation = 1;
    meta->rows_head = meta->rows_tail = InvalidBlockNumber;
    meta->pending.head = meta->pending.tail = InvalidBlockNumber;
    meta->sealed.head = meta->sealed.tail = InvalidBlockNumber;
    meta->flushing.head = meta->flushing.tail = InvalidBlockNumber;
}

/* The init fork of an unlogged index: an empty index, its meta page alone. */
void
landmark_buildempty(Relation index)
{
    PGAlignedBlock meta_page;

    landmark_init_page(meta_page.data, LANDMARK_PAGE_META, 0);
    landmark_empty_meta(LandmarkPageGetMeta(meta_page.data));
    ((PageHeader) meta_page.data)->pd_lower =
        (LocationIndex) (PageGetContents(meta_page.data) + sizeof(LandmarkMetaData) - meta_page.data);
    PageSetChecksumInplace(meta_page.data, 0);
    smgrextend(RelationGetSmgr(index), INIT_FORKNUM, 0, meta_page.data, true);
    log_newpage(AFP_SMGR_FILE(RelationGetSmgr(index)), INIT_FORKNUM, 0, meta_page.data, true);
    smgrimmedsync(RelationGetSmgr(index), INIT_FORKNUM);
}

/* The build's own phases, after the server's (PROGRESS_CREATEIDX_SUBPHASE). */
char *
landmark_buildphasename(int64 phase)
{
    switch (phase)
    {
        case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
            return "initializing";
        case LANDMARK_PHASE_SCAN:
            return "collecting postings";
        case LANDMARK_PHASE_SORT:
            return "sorting postings";
        case LANDMARK_PHASE_WRITE:
            return "writing run";
        default:
            return NULL;
    }
}
