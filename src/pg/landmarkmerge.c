/*
 * landmarkmerge.c — merging in an afp_landmark index: the pending postings and
 * some or all runs become new runs, online.
 *
 * Who merges:
 *   an insert that leaves more than the pending limit (afp.index_pending_limit,
 *     or the index's pending_limit option) in the pending chain: the chain and
 *     the newest runs of comparable size (size-tiered, as an LSM tree), if no
 *     other merge is running (it does not wait; it flushes the chain into a run
 *     of its own instead: landmark_flush);
 *   VACUUM: everything (slice by slice), leaving out the postings of dead rows
 *     (ambulkdelete) or just folding (amvacuumcleanup): autovacuum keeps an
 *     ingested index in the shape a fresh build has;
 *   afp_index_merge(index): everything, now.
 *
 * How (one merge at a time, under a heavyweight lock on the meta page, as GIN's
 * pending-list cleanup):
 *   1. meta page, one WAL record: the pending chain is sealed (inserts start a
 *      new one), the output gets a generation, recorded as `merging`;
 *   2. the sealed chain is sorted in memory and merged with the input runs,
 *      read in key order, into a run written on free pages through generic WAL;
 *      no buffer lock is held across pages, readers and writers go on;
 *   3. meta page, one WAL record: the run replaces its inputs, the sealed chain
 *      is dropped, `merging` cleared;
 *   4. the inputs' pages go to the free space map.
 * A full merge does 2-4 once per slice of the mix space (up to 8): each slice's
 * run is installed while the inputs' lower bounds rise past it, and the inputs'
 * pages below are freed before the next slice is written, so it needs free space
 * for a slice, not for a copy of the index.
 * A crash or error before 3 leaves the index as it was (or as the last slice
 * installed it), plus pages of a run no one lists; the next merge sees `merging`
 * set and frees them. A scan that read
 * the meta page before 3 may meet a page reused after 4: every page carries its
 * run's generation, and the scan starts again (landmarkscan.c).
 */
#include "landmark.h"

#include "access/table.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "catalog/storage.h"
#include "storage/freespace.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(afp_index_merge);

/* A full merge goes through up to this many slices of the mix space, of about this many postings each. */
#define LANDMARK_MAX_SLICES     8
#define LANDMARK_SLICE_POSTINGS ((uint64) 16 * 1000)
/* The lock tag of flushes (a block number no page has: page locks are only names). */
#define LANDMARK_FLUSH_LOCK     ((BlockNumber) 0xFFFFFFFD)
/* Places in the run list kept for flushes during a merge (landmark_flush). */
#define LANDMARK_FLUSH_ROOM     4
/* An insert's merge takes the newest runs while each is at most this many times what it has gathered. */
#define LANDMARK_MERGE_FACTOR   4
/* ... and gathers at most this many postings (~150 h of audio): larger merges are VACUUM's. */
#define LANDMARK_INSERT_MERGE_MAX ((uint64) 32 * 1000 * 1000)

int         afp_index_pending_limit = AFP_DEFAULT_INDEX_PENDING_LIMIT;  /* kB */

/* Set while the background worker merges during a load: the copy at the end waits for its last merge. */
static bool skip_compaction = false;

/* The pending limit of an index, in bytes: its pending_limit option, else the setting. */
Size
landmark_pending_limit(Relation index)
{
    LandmarkOptions *opts = (LandmarkOptions *) index->rd_options;
    int         kb = opts != NULL && opts->pending_limit >= 0 ? opts->pending_limit : afp_index_pending_limit;

    return (Size) kb * 1024;
}

/*
 * Takes (or releases) the merge and flush locks in share mode: no merge or flush
 * frees pages while a reader that must see every run and chain whole (check,
 * stats) holds them. A standby
 * cannot take it; there, replay is the only writer and the readers' page checks
 * report a page reused under them.
 */
/*
 * The merge and flush locks in share mode, only if no merge or flush holds them:
 * a reader that can do without (stats) never waits for a merge, because waiting
 * for a lock autovacuum holds cancels autovacuum, and its merge with it.
 */
bool
landmark_merge_lock_try(Relation index)
{
    if (RecoveryInProgress())
        return true;
    if (!ConditionalLockPage(index, LANDMARK_META_BLKNO, ShareLock))
        return false;
    if (!ConditionalLockPage(index, LANDMARK_FLUSH_LOCK, ShareLock))
    {
        UnlockPage(index, LANDMARK_META_BLKNO, ShareLock);
        return false;
    }
    return true;
}

void
landmark_merge_lock(Relation index, bool take)
{
    if (RecoveryInProgress())
        return;
    if (take)
    {
        LockPage(index, LANDMARK_META_BLKNO, ShareLock);
        LockPage(index, LANDMARK_FLUSH_LOCK, ShareLock);
    }
    else
    {
        UnlockPage(index, LANDMARK_FLUSH_LOCK, ShareLock);
        UnlockPage(index, LANDMARK_META_BLKNO, ShareLock);
    }
}

void
landmark_merge_if_due(Relation index, uint64 pending_bytes)
{
    if (pending_bytes < landmark_pending_limit(index) || RecoveryInProgress())
        return;
    /* Another merge is running (VACUUM's may take a while): the pending postings become a run of their own. */
    if (!landmark_merge(index, false, false, NULL, NULL))
        landmark_flush(index);
    /* The full merge that gives the index a build's shape is a background worker's (landmarkworker.c). */
    landmark_request_background_merge(index);
}

/*
 * Reads a chain's live postings (appended to *out), checking each page is the
 * chain's; *stale when one is not (the chain was merged and its pages reused).
 * With pages, records the blocks read.
 */
void
landmark_read_chain(Relation index, const LandmarkChain *chain, LandmarkPosting **out, Size *n, Size *capacity,
                    bool *stale, BlockNumber **pages, Size *npages)
{
    BlockNumber blkno = chain->head;
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);
    BlockNumber seen = 0;

    *stale = false;
    while (BlockNumberIsValid(blkno))
    {
        Buffer      buf;
        Page        page;
        uint32      k;
        BlockNumber next;

        CHECK_FOR_INTERRUPTS();
        if (blkno == LANDMARK_META_BLKNO || blkno >= nblocks || ++seen > nblocks)
        {
            *stale = true;
            return;
        }
        buf = ReadBuffer(index, blkno);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        page = BufferGetPage(buf);
        if (!landmark_page_is_valid(page, LANDMARK_PAGE_PENDING) ||
            LandmarkPageGetOpaque(page)->generation != chain->generation)
        {
            UnlockReleaseBuffer(buf);
            *stale = true;
            return;
        }
        k = landmark_page_items(page, sizeof(LandmarkPosting));
        if (*n + k > *capacity)
        {
            *capacity = Max(*n + k, Max(*capacity * 2, 1024));
            *out = *out == NULL ? palloc_extended(*capacity * sizeof(LandmarkPosting), MCXT_ALLOC_HUGE)
                : repalloc_huge(*out, *capacity * sizeof(LandmarkPosting));
        }
        memcpy(*out + *n, PageGetContents(page), (Size) k * sizeof(LandmarkPosting));
        *n += k;
        next = LandmarkPageGetOpaque(page)->next;
        UnlockReleaseBuffer(buf);
        if (pages != NULL)
        {
            if (*npages % 1024 == 0)
                *pages = *pages == NULL ? palloc(1024 * sizeof(BlockNumber))
                    : repalloc(*pages, (*npages + 1024) * sizeof(BlockNumber));
            (*pages)[(*npages)++] = blkno;
        }
        if (blkno == chain->tail)
            break;
        blkno = next;
    }
}

static int
compare_keys(const void *a, const void *b)
{
    return landmark_key_cmp((const LandmarkKey *) a, (const LandmarkKey *) b);
}

/*
 * A sealed chain's live postings as keys, sorted: those at or above its mix_lo,
 * not of rows in `dead`. *pages gets the chain's blocks, to free once merged.
 */
static LandmarkKey *
chain_keys(Relation index, const LandmarkChain *chain, const LandmarkRowIds *dead, Size *nkeys,
           BlockNumber **pages, Size *npages, const char *what)
{
    LandmarkPosting *postings = NULL;
    Size        n = 0;
    Size        capacity = 0;
    bool        stale;
    LandmarkKey *keys;

    landmark_read_chain(index, chain, &postings, &n, &capacity, &stale, pages, npages);
    if (stale)
        landmark_page_corrupted(index, chain->head, what);
    keys = palloc_extended(Max(n, 1) * sizeof(LandmarkKey), MCXT_ALLOC_HUGE);
    *nkeys = 0;
    for (Size i = 0; i < n; i++)
    {
        uint64      row;
        uint32      mix;

        if (!BlockNumberIsValid(postings[i].block))
            continue;
        mix = landmark_mix(postings[i].hash);
        if (mix < chain->mix_lo)
            continue;
        row = landmark_posting_row(&postings[i]);
        if (dead != NULL && landmark_row_ids_contain(dead, row))
            continue;
        keys[*nkeys].mix = mix;
        keys[*nkeys].row = row;
        keys[*nkeys].frame = landmark_posting_frame(&postings[i]);
        (*nkeys)++;
    }
    if (postings)
        pfree(postings);
    qsort(keys, *nkeys, sizeof(LandmarkKey), compare_keys);
    return keys;
}

/*
 * Gives the free space map the pages of runs and chains no one lists: those of
 * a merge that died before installing its run. Runs under the merge lock, so no
 * merge is writing. New (all-zero) pages are left alone: an insert may have just
 * added one and not yet formatted it.
 */
static void
free_orphans(Relation index, const LandmarkMetaData *meta)
{
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);

    for (BlockNumber blkno = LANDMARK_META_BLKNO + 1; blkno < nblocks; blkno++)
    {
        Buffer      buf = ReadBuffer(index, blkno);
        Page        page;
        bool        orphan = false;

        if (blkno % 256 == 0)
            CHECK_FOR_INTERRUPTS();
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        page = BufferGetPage(buf);
        if (!PageIsNew(page))
        {
            if (!landmark_page_is_valid(page, 0))
                orphan = true;
            else
            {
                uint16      kind = LandmarkPageGetOpaque(page)->kind;

                orphan = kind == LANDMARK_PAGE_FREE ||
                    ((kind == LANDMARK_PAGE_DATA || kind == LANDMARK_PAGE_DIRECTORY ||
                      kind == LANDMARK_PAGE_DIRMAP || kind == LANDMARK_PAGE_PENDING) &&
                     !landmark_generation_live(meta, LandmarkPageGetOpaque(page)->generation, false));
            }
        }
        UnlockReleaseBuffer(buf);
        if (orphan)
            RecordFreeIndexPage(index, blkno);
    }
    IndexFreeSpaceMapVacuum(index);
}

/*
 * Gives the free pages at the end of the index back to the file system, as
 * VACUUM does with a heap's: only while no one else has the index open (the lock
 * is only tried, never queued for), so no scan can be reading them. After a full
 * merge they are usually the old runs'. Patient (VACUUM, afp_index_merge), it
 * tries again every 50 ms for up to 5 s, as VACUUM's heap truncation does: on a
 * catalogue that answers clips all the time, scans leave only short gaps between
 * them, and a single try would keep the whole old index's size.
 */
#define TRUNCATE_TRY_MS         50
#define TRUNCATE_PATIENCE_MS    5000

static BlockNumber *free_pages_ascending(Relation index, Size *n);

/* Whether a page belongs to the row chain or to the pending chain (pages relocate_chains may move). */
static bool
chain_page(Page page, const LandmarkMetaData *meta)
{
    uint16      kind;

    if (!landmark_page_is_valid(page, 0))
        return false;
    kind = LandmarkPageGetOpaque(page)->kind;
    return (kind == LANDMARK_PAGE_ROWS && LandmarkPageGetOpaque(page)->generation == 0) ||
        (kind == LANDMARK_PAGE_PENDING && BlockNumberIsValid(meta->pending.head) &&
         LandmarkPageGetOpaque(page)->generation == meta->pending.generation);
}

/*
 * One past the index's last page that is not free (by the map and by its
 * contents). With chains_movable, the row and pending chains' pages after the
 * runs' last page count as free too: relocate_chains can move them, so this is
 * the end a compaction or a truncation can reach.
 */
static BlockNumber
tail_end(Relation index, const LandmarkMetaData *meta, bool chains_movable)
{
    BlockNumber n = RelationGetNumberOfBlocks(index);

    while (n > LANDMARK_META_BLKNO + 1)
    {
        bool        recorded_free = GetRecordedFreeSpace(index, n - 1) > 0;
        Buffer      buf;
        Page        page;
        bool        movable;

        if (!recorded_free && !chains_movable)
            break;
        buf = ReadBuffer(index, n - 1);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        page = BufferGetPage(buf);
        movable = (recorded_free && landmark_page_is_reusable(page, meta)) ||
            (chains_movable && chain_page(page, meta));
        UnlockReleaseBuffer(buf);
        if (!movable)
            break;
        n--;
    }
    return n;
}

/*
 * Moves the pages of one chain (rows, or pending) at or after `end` to the free
 * pages below it, lowest first (*next_free walks free[]): a page's copy, the link
 * to it (the previous page's next, or the meta page's head) and the meta page's
 * tail change in one WAL record with the old page marked free.
 */
static void
relocate_chain(Relation index, bool pending, BlockNumber end, const BlockNumber *free, Size nfree,
               Size *next_free)
{
    Buffer      metabuf = ReadBuffer(index, LANDMARK_META_BLKNO);
    LandmarkMetaData *meta;
    BlockNumber prev = InvalidBlockNumber;
    BlockNumber blkno;
    BlockNumber seen = 0;
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);
    uint16      kind = pending ? LANDMARK_PAGE_PENDING : LANDMARK_PAGE_ROWS;

    LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
    meta = LandmarkPageGetMeta(BufferGetPage(metabuf));
    blkno = pending ? meta->pending.head : meta->rows_head;
    while (BlockNumberIsValid(blkno))
    {
        Buffer      buf;
        BlockNumber next;

        if (blkno == LANDMARK_META_BLKNO || blkno >= nblocks || ++seen > nblocks)
            break;              /* damage: afp_index_check reports it; nothing is moved */
        buf = ReadBuffer(index, blkno);
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        if (!landmark_page_is_valid(BufferGetPage(buf), kind))
        {
            UnlockReleaseBuffer(buf);
            break;
        }
        next = LandmarkPageGetOpaque(BufferGetPage(buf))->next;
        if (blkno >= end && *next_free < nfree)
        {
            Buffer      target = InvalidBuffer;
            Buffer      prevbuf = InvalidBuffer;
            GenericXLogState *state;
            LandmarkMetaData *wmeta;
            Page        copy;

            /* The lowest free page still free (checked as any page taken from the map). */
            while (*next_free < nfree && free[*next_free] < end && !BufferIsValid(target))
                target = landmark_take_page(index, free[(*next_free)++], meta);
            if (!BufferIsValid(target))
            {
                UnlockReleaseBuffer(buf);
                break;
            }
            if (BlockNumberIsValid(prev))
            {
                prevbuf = ReadBuffer(index, prev);
                LockBuffer(prevbuf, BUFFER_LOCK_EXCLUSIVE);
            }
            state = GenericXLogStart(index);
            wmeta = LandmarkPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
            copy = GenericXLogRegisterBuffer(state, target, GENERIC_XLOG_FULL_IMAGE);
            memcpy(copy, BufferGetPage(buf), BLCKSZ);
            landmark_init_page(GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE),
                               LANDMARK_PAGE_FREE, 0);
            if (BufferIsValid(prevbuf))
                LandmarkPageGetOpaque(GenericXLogRegisterBuffer(state, prevbuf, 0))->next =
                    BufferGetBlockNumber(target);
            else if (pending)
                wmeta->pending.head = BufferGetBlockNumber(target);
            else
                wmeta->rows_head = BufferGetBlockNumber(target);
            if (pending && wmeta->pending.tail == blkno)
                wmeta->pending.tail = BufferGetBlockNumber(target);
            else if (!pending && wmeta->rows_tail == blkno)
                wmeta->rows_tail = BufferGetBlockNumber(target);
            GenericXLogFinish(state);
            if (BufferIsValid(prevbuf))
                UnlockReleaseBuffer(prevbuf);
            UnlockReleaseBuffer(buf);
            RecordFreeIndexPage(index, blkno);
            prev = BufferGetBlockNumber(target);
            UnlockReleaseBuffer(target);
        }
        else
        {
            UnlockReleaseBuffer(buf);
            prev = blkno;
        }
        if (blkno == (pending ? meta->pending.tail : meta->rows_tail))
            break;
        blkno = next;
    }
    UnlockReleaseBuffer(metabuf);
}

/*
 * The row and pending chains' pages after the runs' last page move below it.
 * Inserts append those pages wherever a free page was during a load, and after
 * the merge a few of them near the end kept every free page before them in the
 * file (at 1,000 h: ~17,000 pages, 7% of the catalogue). Only under the index's
 * AccessExclusiveLock (truncate_tail): no scan, insert or VACUUM is walking a
 * chain, and standbys get the lock before the records.
 */
static void
relocate_chains(Relation index)
{
    LandmarkMetaData meta;
    BlockNumber end;
    BlockNumber *free;
    Size        nfree;
    Size        next_free = 0;

    landmark_read_meta(index, &meta);
    end = tail_end(index, &meta, true);
    if (end >= RelationGetNumberOfBlocks(index))
        return;
    free = free_pages_ascending(index, &nfree);
    relocate_chain(index, false, end, free, nfree, &next_free);
    relocate_chain(index, true, end, free, nfree, &next_free);
    if (free)
        pfree(free);
    IndexFreeSpaceMapVacuum(index);
}

static void
truncate_tail(Relation index, bool patient)
{
    BlockNumber keep;
    int         tries = patient ? TRUNCATE_PATIENCE_MS / TRUNCATE_TRY_MS : 1;
    LandmarkMetaData meta;

    if (RecoveryInProgress())
        return;
    landmark_read_meta(index, &meta);
    if (tail_end(index, &meta, true) >= RelationGetNumberOfBlocks(index))
        return;
    for (;;)
    {
        if (ConditionalLockRelation(index, AccessExclusiveLock))
            break;
        if (--tries <= 0)
            return;
        (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, TRUNCATE_TRY_MS,
                         WAIT_EVENT_VACUUM_TRUNCATE);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
    /* Under the lock, the chains' pages can move; then again: an insert may have taken a page since. */
    relocate_chains(index);
    landmark_read_meta(index, &meta);
    keep = tail_end(index, &meta, false);
    if (keep < RelationGetNumberOfBlocks(index))
    {
        RelationTruncate(index, keep);
        FreeSpaceMapVacuum(index);
    }
    UnlockRelation(index, AccessExclusiveLock);
}

/* Whether a page is a data page of the run, or one of its pages a full merge freed (their next is kept). */
static bool
run_data_page(Page page, const LandmarkRun *run)
{
    return landmark_page_is_valid(page, 0) && LandmarkPageGetOpaque(page)->generation == run->generation &&
        (LandmarkPageGetOpaque(page)->kind == LANDMARK_PAGE_DATA || LandmarkPageGetOpaque(page)->kind == LANDMARK_PAGE_FREE);
}

/* Gives a run's pages (data chain and directory) to the free space map. */
static void
free_run(Relation index, const LandmarkRun *run)
{
    BlockNumber blkno = run->data_head;
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);
    BlockNumber seen = 0;

    while (BlockNumberIsValid(blkno) && blkno != LANDMARK_META_BLKNO && blkno < nblocks && seen++ < run->data_pages)
    {
        Buffer      buf = ReadBuffer(index, blkno);
        BlockNumber next = InvalidBlockNumber;
        Page        page;

        bool        ours;

        LockBuffer(buf, BUFFER_LOCK_SHARE);
        page = BufferGetPage(buf);
        ours = run_data_page(page, run);
        if (ours)
            next = LandmarkPageGetOpaque(page)->next;
        UnlockReleaseBuffer(buf);
        if (!ours)
            break;
        RecordFreeIndexPage(index, blkno);
        blkno = next;
    }
    for (int m = 0; m < LANDMARK_DIR_MAPS; m++)
    {
        Buffer      buf;
        Page        page;

        blkno = run->dir_maps[m];
        if (!BlockNumberIsValid(blkno) || blkno == LANDMARK_META_BLKNO || blkno >= nblocks)
            continue;
        buf = ReadBuffer(index, blkno);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        page = BufferGetPage(buf);
        if (landmark_page_is_valid(page, LANDMARK_PAGE_DIRMAP) &&
            LandmarkPageGetOpaque(page)->generation == run->generation)
        {
            const BlockNumber *dir = (const BlockNumber *) PageGetContents(page);
            uint32      n = landmark_page_items(page, sizeof(BlockNumber));

            for (uint32 k = 0; k < n; k++)
                if (dir[k] != LANDMARK_META_BLKNO && dir[k] < nblocks)
                    RecordFreeIndexPage(index, dir[k]);
        }
        UnlockReleaseBuffer(buf);
        RecordFreeIndexPage(index, blkno);
    }
}

/* One input of the merge: a run read in order, or the sorted chain. */
typedef struct MergeInput
{
    LandmarkRunIterator *it;    /* NULL for the chain */
    LandmarkKey *keys;          /* the chain's */
    Size        nkeys;
    Size        pos;
    LandmarkKey head;
    bool        live;
    uint64      taken;          /* postings read from it */
} MergeInput;

static void
input_advance(MergeInput *in)
{
    if (in->it != NULL)
        in->live = landmark_run_iterator_next(in->it, &in->head);
    else if (in->pos < in->nkeys)
    {
        in->head = in->keys[in->pos++];
        in->live = true;
    }
    else
        in->live = false;
    if (in->live)
        in->taken++;
}

static void
update_meta(Relation index, Buffer metabuf, const LandmarkMetaData *meta)
{
    GenericXLogState *state = GenericXLogStart(index);
    Page        page = GenericXLogRegisterBuffer(state, metabuf, 0);

    memcpy(LandmarkPageGetMeta(page), meta, sizeof(LandmarkMetaData));
    ((PageHeader) page)->pd_lower =
        (LocationIndex) (PageGetContents(page) + sizeof(LandmarkMetaData) - (char *) page);
    GenericXLogFinish(state);
}

/* Reads the meta page for a change, exclusively locked; *metabuf to hand to update_meta and release. */
static void
lock_meta(Relation index, Buffer *metabuf, LandmarkMetaData *meta)
{
    *metabuf = ReadBuffer(index, LANDMARK_META_BLKNO);
    LockBuffer(*metabuf, BUFFER_LOCK_EXCLUSIVE);
    memcpy(meta, LandmarkPageGetMeta(BufferGetPage(*metabuf)), sizeof(*meta));
}

/*
 * Marks a data page of a run that stays listed as free (its kind, in one small
 * WAL record) and gives it to the free space map: its run's generation is still
 * live, so the kind is what lets it be reused, and what a scan still reading it
 * sees. Checked again under the lock: only a data page of that run is marked.
 */
static void
free_live_page(Relation index, BlockNumber blkno, uint32 generation)
{
    Buffer      buf = ReadBuffer(index, blkno);
    Page        page;

    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    page = BufferGetPage(buf);
    if (landmark_page_is_valid(page, LANDMARK_PAGE_DATA) && LandmarkPageGetOpaque(page)->generation == generation)
    {
        GenericXLogState *state = GenericXLogStart(index);

        LandmarkPageGetOpaque(GenericXLogRegisterBuffer(state, buf, 0))->kind = LANDMARK_PAGE_FREE;
        GenericXLogFinish(state);
        UnlockReleaseBuffer(buf);
        RecordFreeIndexPage(index, blkno);
        return;
    }
    UnlockReleaseBuffer(buf);
}

/*
 * The run's data pages before `keep` (they hold only mixes below its new range),
 * in chain order; read only. The run's new head is `keep`.
 */
static BlockNumber *
run_pages_before(Relation index, const LandmarkRun *run, BlockNumber keep, BlockNumber *n)
{
    BlockNumber blkno = run->data_head;
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);
    BlockNumber *pages = palloc(sizeof(BlockNumber) * Max(run->data_pages, 1));

    *n = 0;
    while (BlockNumberIsValid(blkno) && blkno != keep && blkno != LANDMARK_META_BLKNO && blkno < nblocks &&
           *n < run->data_pages)
    {
        Buffer      buf = ReadBuffer(index, blkno);
        BlockNumber next = InvalidBlockNumber;
        bool        ours;

        LockBuffer(buf, BUFFER_LOCK_SHARE);
        ours = run_data_page(BufferGetPage(buf), run);
        if (ours)
            next = LandmarkPageGetOpaque(BufferGetPage(buf))->next;
        UnlockReleaseBuffer(buf);
        if (!ours)
            break;
        pages[(*n)++] = blkno;
        blkno = next;
    }
    /* The chain must lead to keep: if it does not, free nothing (a leak, never a live page). */
    if (BlockNumberIsValid(keep) && blkno != keep)
        *n = 0;
    return pages;
}

/*
 * Merges the sorted chain and the inputs' postings with mixes in [lo, hi] into a
 * new run of that range; taken[k] gets the postings read from input k.
 */
static void
merge_range(Relation index, const LandmarkRun *runs, uint32 nruns, LandmarkKey *keys, Size nkeys,
            const LandmarkRowIds *dead, uint32 lo, uint32 hi, uint64 expected, uint32 generation,
            BlockNumber *prefer, Size nprefer, LandmarkRun *out, uint64 *taken)
{
    MergeInput *inputs = palloc0(sizeof(MergeInput) * (nruns + 1));
    LandmarkOptions *opts = (LandmarkOptions *) index->rd_options;
    LandmarkRunWriter *writer;
    Size        first = 0;
    Size        last = nkeys;

    /* The chain's keys of the range (they are sorted by mix first). */
    while (first < nkeys && keys[first].mix < lo)
        first++;
    last = first;
    while (last < nkeys && keys[last].mix <= hi)
        last++;
    for (uint32 i = 0; i < nruns; i++)
    {
        inputs[i].it = landmark_run_iterator_begin(index, &runs[i], lo, hi);
        input_advance(&inputs[i]);
    }
    inputs[nruns].keys = keys + first;
    inputs[nruns].nkeys = last - first;
    input_advance(&inputs[nruns]);

    writer = landmark_run_writer_begin(index, expected, generation, false,
                                       opts != NULL ? opts->directory_bits : 0, lo, hi);
    if (prefer != NULL)
        landmark_run_writer_use_pages(writer, prefer, nprefer);
    for (uint64 n = 0;; n++)
    {
        int         best = -1;

        for (uint32 i = 0; i <= nruns; i++)
            if (inputs[i].live && (best < 0 || landmark_key_cmp(&inputs[i].head, &inputs[best].head) < 0))
                best = (int) i;
        if (best < 0)
            break;
        if (dead == NULL || !landmark_row_ids_contain(dead, inputs[best].head.row))
            landmark_run_writer_add(writer, &inputs[best].head);
        input_advance(&inputs[best]);
        if (n % 65536 == 0)
        {
            vacuum_delay_point();
            CHECK_FOR_INTERRUPTS();
        }
    }
    for (uint32 i = 0; i < nruns; i++)
    {
        taken[i] = inputs[i].taken;
        landmark_run_iterator_end(inputs[i].it);
    }
    landmark_run_writer_finish(writer, out);
    pfree(inputs);
}

/* The free pages, lowest first, that a full merge fills before any other (see truncate_tail). */
static BlockNumber *
free_pages_ascending(Relation index, Size *n)
{
    BlockNumber *pages = NULL;

    *n = 0;
    for (BlockNumber b = LANDMARK_META_BLKNO + 1; b < RelationGetNumberOfBlocks(index); b++)
    {
        if (GetRecordedFreeSpace(index, b) == 0)
            continue;
        if (*n % 1024 == 0)
            pages = pages == NULL ? palloc(sizeof(BlockNumber) * 1024)
                : repalloc_huge(pages, sizeof(BlockNumber) * (*n + 1024));
        pages[(*n)++] = b;
    }
    return pages;
}

/* Slices of the mix space a full merge of this many postings goes through (a power of two, <= 8). */
static uint32
full_merge_slices(uint64 postings)
{
    uint32      slices = 1;

    while (slices < LANDMARK_MAX_SLICES && postings / slices > LANDMARK_SLICE_POSTINGS)
        slices *= 2;
    return slices;
}

/* The free pages, lowest first (*n of them), and how many of them lie before `end` (*before). */
static BlockNumber *
free_pages_below(Relation index, BlockNumber end, Size *n, Size *before)
{
    BlockNumber *pages = free_pages_ascending(index, n);

    *before = 0;
    while (*before < *n && pages[*before] < end)
        (*before)++;
    return pages;
}

/*
 * After a full merge, the run holding the index's last used page is copied into
 * the lowest free pages, while enough lie before it, so that truncate_tail can
 * give the end back. A full merge writes its first slices where free pages are
 * and past the end of the file when they run out; the inputs' pages it frees
 * come after, in the middle, and about a slice's worth (a tenth of the index at
 * 1,000 h) stayed free there for good. The copy goes in COMPACT_PARTS parts of
 * the run's mix range, as a full merge's slices: each part is installed and the
 * run's pages below it freed after the next part is written (see below), so a
 * hole of two parts is enough. A copy costs about a slice's merge. Under the merge
 * lock; flushes are kept out (tried, never waited for).
 */
#define COMPACT_PARTS 8

static void
compact_tail(Relation index)
{
    BlockNumber *left = NULL;   /* the input's pages below the last part written */
    BlockNumber nleft = 0;

    if (!ConditionalLockPage(index, LANDMARK_FLUSH_LOCK, ExclusiveLock))
        return;
    for (int round = 0; round < LANDMARK_MAX_SLICES; round++)
    {
        LandmarkMetaData meta;
        Buffer      metabuf;
        Buffer      buf;
        BlockNumber end;
        BlockNumber run_pages;
        int         r = -1;
        BlockNumber *prefer;
        Size        nprefer;
        Size        before = 0;
        LandmarkRun in;
        bool        done = false;

        CHECK_FOR_INTERRUPTS();
        landmark_read_meta(index, &meta);
        end = tail_end(index, &meta, true);
        if (end <= LANDMARK_META_BLKNO + 1)
            break;
        buf = ReadBuffer(index, end - 1);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        if (landmark_page_is_valid(BufferGetPage(buf), 0))
        {
            uint16      kind = LandmarkPageGetOpaque(BufferGetPage(buf))->kind;
            uint32      g = LandmarkPageGetOpaque(BufferGetPage(buf))->generation;

            if (kind == LANDMARK_PAGE_DATA || kind == LANDMARK_PAGE_DIRECTORY || kind == LANDMARK_PAGE_DIRMAP)
                for (uint32 i = 0; i < meta.nruns; i++)
                    if (meta.runs[i].generation == g)
                        r = (int) i;
        }
        UnlockReleaseBuffer(buf);
        /* Room left for a load's flushes and the next full merge's slices. */
        if (r < 0 || meta.nruns + COMPACT_PARTS > LANDMARK_MAX_RUNS * 2 / 3)
            break;
        in = meta.runs[r];
        run_pages = in.data_pages + in.dir_pages + LANDMARK_DIR_MAPS;
        /*
         * Worth it only when a part's copy fits in the free pages before the end (the lowest are
         * filled first; a round that does not bring the end down is the last).
         */
        prefer = free_pages_below(index, end, &nprefer, &before);
        if (run_pages < 64 || before < 2 * run_pages / COMPACT_PARTS + run_pages / 16)
        {
            if (prefer)
                pfree(prefer);
            break;
        }
        /*
         * The input's pages below each part stay as they are for one more part, readable by
         * scans that read the meta page before the install, and only then go to the free space
         * map for the parts after: reused at once, they sent most scans of a loaded machine
         * back to the start at every part.
         */
        for (uint32 part = 0, range_lo = in.mix_lo, range_hi = in.mix_hi; part < COMPACT_PARTS && !done; part++)
        {
            uint32      lo = in.mix_lo;
            uint32      hi = part + 1 == COMPACT_PARTS ? range_hi :
                (uint32) (range_lo + ((uint64) range_hi - range_lo + 1) * (part + 1) / COMPACT_PARTS - 1);
            uint32      generation;
            LandmarkRun out;
            uint64      taken[1];
            BlockNumber *gone = NULL;
            BlockNumber ngone = 0;
            uint32      k = 0;

            done = hi >= in.mix_hi;
            lock_meta(index, &metabuf, &meta);
            generation = meta.next_generation++;
            meta.merging = generation;
            update_meta(index, metabuf, &meta);
            UnlockReleaseBuffer(metabuf);

            merge_range(index, &in, 1, NULL, 0, NULL, lo, hi, in.postings / (COMPACT_PARTS - part) + 1,
                        generation, prefer, before, &out, taken);
            if (!done)
            {
                BlockNumber keep = landmark_run_first_page_from(index, &in, hi + 1);

                gone = run_pages_before(index, &in, keep, &ngone);
                if (ngone > 0)
                {
                    in.data_head = keep;
                    in.data_pages -= ngone;
                }
                in.mix_lo = hi + 1;
            }
            in.postings -= Min(in.postings, taken[0]);

            /* The part's run before what is left of the input; the input leaves with the last part. */
            lock_meta(index, &metabuf, &meta);
            {
                LandmarkRun listed[LANDMARK_MAX_RUNS];

                memcpy(listed, meta.runs, sizeof(LandmarkRun) * meta.nruns);
                for (uint32 i = 0; i < meta.nruns; i++)
                {
                    if (listed[i].generation != in.generation)
                        meta.runs[k++] = listed[i];
                    else
                    {
                        if (out.postings > 0)
                            meta.runs[k++] = out;
                        if (!done)
                            meta.runs[k++] = in;
                    }
                }
            }
            meta.nruns = k;
            meta.merging = 0;
            meta.merges++;
            update_meta(index, metabuf, &meta);
            UnlockReleaseBuffer(metabuf);
            if (out.postings == 0)
                free_run(index, &out);
            /* The pages the part before this one left, then the next part's free pages. */
            for (Size j = 0; j < nleft; j++)
                free_live_page(index, left[j], in.generation);
            if (left)
                pfree(left);
            left = gone;
            nleft = ngone;
            IndexFreeSpaceMapVacuum(index);
            if (prefer)
                pfree(prefer);
            prefer = free_pages_below(index, end, &nprefer, &before);
        }
        /* The input is no longer listed: its pages, those the last part left too, can be reused. */
        free_run(index, &in);
        for (Size j = 0; j < nleft; j++)
            RecordFreeIndexPage(index, left[j]);
        if (left)
            pfree(left);
        left = NULL;
        nleft = 0;
        IndexFreeSpaceMapVacuum(index);
        if (prefer)
            pfree(prefer);
        landmark_read_meta(index, &meta);
        if (tail_end(index, &meta, true) >= end)
            break;
    }
    if (left)
        pfree(left);
    UnlockPage(index, LANDMARK_FLUSH_LOCK, ExclusiveLock);
}

/*
 * Merges the pending postings and runs into new runs: all runs (everything), or
 * the newest full-range runs of comparable size. Postings of rows in `dead` are
 * left out. A full merge goes slice by slice of the mix space: each slice's run is
 * installed and the inputs' pages below it freed before the next is written, so
 * the index needs free space for a slice, not for a second copy of itself. With
 * wait, waits for a merge already running; else returns false at once when one
 * is. *merged, when given, is set to the postings written.
 */
bool
landmark_merge(Relation index, bool everything, bool wait, const LandmarkRowIds *dead, uint64 *merged)
{
    Buffer      metabuf;
    LandmarkMetaData meta;
    uint32      first_input;
    uint32      ninputs;
    LandmarkRun inputs[LANDMARK_MAX_RUNS];
    uint64      taken[LANDMARK_MAX_RUNS];
    uint32      first_generation;
    uint32      slices;
    LandmarkChain sealed;
    bool        died;
    BlockNumber *chain_pages = NULL;
    Size        nchain_pages = 0;
    uint64      total;
    LandmarkKey *keys;
    Size        nkeys = 0;
    BlockNumber *prefer = NULL;
    Size        nprefer = 0;
    uint64      written = 0;
    bool        leftover;
    bool        hold_flush_lock;
    bool        switched = false;   /* an insert's merge that must merge everything */
    LandmarkMetaData settled;
    uint32      owned_end;      /* one past this merge's part of the run list */
    LandmarkRun newcomers[LANDMARK_MAX_RUNS];
    uint32      nnew;
    BlockNumber *before[LANDMARK_MAX_RUNS];
    BlockNumber nbefore[LANDMARK_MAX_RUNS];

    if (merged)
        *merged = 0;
    if (wait)
        LockPage(index, LANDMARK_META_BLKNO, ExclusiveLock);
    else if (!ConditionalLockPage(index, LANDMARK_META_BLKNO, ExclusiveLock))
        return false;
    /*
     * Flushes merge runs too (those no full merge owns): none runs while this merge chooses its
     * inputs; an insert's merge keeps them out to its end, a full merge lets them go on after.
     */
    if (everything)
        LockPage(index, LANDMARK_FLUSH_LOCK, ExclusiveLock);
    else if (!ConditionalLockPage(index, LANDMARK_FLUSH_LOCK, ExclusiveLock))
    {
        UnlockPage(index, LANDMARK_META_BLKNO, ExclusiveLock);
        return false;
    }
    hold_flush_lock = true;

    /* 1. Seal the pending chain and choose the inputs. */
    lock_meta(index, &metabuf, &meta);
    landmark_check_meta(index, &meta);
    died = meta.merging != 0;
    /* A merge that died may have left its sealed chain: this merge takes it, and the next the pending one. */
    leftover = BlockNumberIsValid(meta.sealed.head) && BlockNumberIsValid(meta.pending.head);
    if (!BlockNumberIsValid(meta.sealed.head))
    {
        meta.sealed = meta.pending;
        meta.sealed.mix_lo = 0;
        memset(&meta.pending, 0, sizeof(meta.pending));
        meta.pending.head = meta.pending.tail = InvalidBlockNumber;
    }
    first_input = meta.nruns;
    if (everything)
        first_input = 0;
    else
    {
        uint64      gathered = meta.sealed.postings;

        /* The newest runs of the whole mix space, while each is at most 4 times what is gathered. */
        while (first_input > 0 &&
               meta.runs[first_input - 1].mix_lo == 0 && meta.runs[first_input - 1].mix_hi == PG_UINT32_MAX &&
               (meta.runs[first_input - 1].postings <= LANDMARK_MERGE_FACTOR * Max(gathered, 1) ||
                meta.nruns - first_input + 1 >= LANDMARK_MAX_RUNS - LANDMARK_MAX_SLICES - 1) &&
               (gathered + meta.runs[first_input - 1].postings <= LANDMARK_INSERT_MERGE_MAX ||
                meta.nruns >= LANDMARK_MAX_RUNS - LANDMARK_MAX_SLICES - 1))
        {
            first_input--;
            gathered += meta.runs[first_input].postings;
        }
        /* No room in the meta page's list for one more run: merge everything instead. */
        if (meta.nruns - first_input + 1 > LANDMARK_MAX_RUNS - LANDMARK_MAX_SLICES - LANDMARK_FLUSH_ROOM)
        {
            everything = true;
            switched = true;
            first_input = 0;
        }
    }
    ninputs = meta.nruns - first_input;
    /* Nothing to gain: no chain, nothing to remove, the runs as a full merge leaves them (or one run). */
    settled = meta;
    settled.merging = 0;
    if (!BlockNumberIsValid(meta.sealed.head) && (dead == NULL || dead->n == 0 || meta.nruns == 0) &&
        (everything ? landmark_merged(&settled)
         : ninputs == 0 || (ninputs == 1 && meta.runs[first_input].mix_lo == 0 &&
                            meta.runs[first_input].mix_hi == PG_UINT32_MAX)))
    {
        if (died)
        {
            meta.merging = 0;
            update_meta(index, metabuf, &meta);
        }
        UnlockReleaseBuffer(metabuf);
        if (died)
            free_orphans(index, &meta);
        UnlockPage(index, LANDMARK_FLUSH_LOCK, ExclusiveLock);
        UnlockPage(index, LANDMARK_META_BLKNO, ExclusiveLock);
        if (merged)
            for (uint32 i = 0; i < meta.nruns; i++)
                *merged += meta.runs[i].postings;
        return true;
    }
    total = meta.sealed.postings;
    for (uint32 i = 0; i < ninputs; i++)
    {
        inputs[i] = meta.runs[first_input + i];
        total += inputs[i].postings;
    }
    owned_end = meta.nruns;
    slices = everything ? full_merge_slices(total) : 1;
    /* Between slices the list holds the slices so far and the inputs: it must fit the meta page. */
    while (slices > 1 && slices + ninputs - 1 > LANDMARK_MAX_RUNS - LANDMARK_FLUSH_ROOM)
        slices /= 2;
    first_generation = meta.next_generation;
    meta.next_generation += slices;
    meta.merging = first_generation;
    meta.merge_owned = everything ? meta.nruns : 0;
    update_meta(index, metabuf, &meta);
    UnlockReleaseBuffer(metabuf);
    if (everything && !switched)
    {
        UnlockPage(index, LANDMARK_FLUSH_LOCK, ExclusiveLock);
        hold_flush_lock = false;
    }
    sealed = meta.sealed;
    if (died)
        free_orphans(index, &meta);

    /* 2. The sealed chain, sorted (postings below its mix_lo are in runs already). */
    keys = chain_keys(index, &sealed, dead, &nkeys, &chain_pages, &nchain_pages, "merging chain");

    /* 3. Each slice: merge, install in place of the inputs' part of it, free what is no longer listed. */
    for (uint32 sl = 0; sl < slices; sl++)
    {
        uint32      lo = (uint32) (((uint64) sl << 32) / slices);
        uint32      hi = (uint32) ((((uint64) sl + 1) << 32) / slices - 1);
        bool        last = sl + 1 == slices;
        LandmarkRun out;
        LandmarkRun gone[LANDMARK_MAX_RUNS + 1];
        uint32      ngone = 0;
        uint32      nruns;

        /* A full merge fills the lowest free pages first, so that the tail frees up (truncate_tail). */
        if (everything)
            prefer = free_pages_ascending(index, &nprefer);
        merge_range(index, inputs, ninputs, keys, nkeys, dead, lo, hi,
                    total / slices + 1, first_generation + sl, prefer, nprefer, &out, taken);
        if (prefer)
            pfree(prefer);
        prefer = NULL;
        written += out.postings;

        /* The data pages of inputs that stay listed and now hold only mixes below their range. */
        for (uint32 i = 0; i < ninputs; i++)
        {
            nbefore[i] = 0;
            before[i] = NULL;
            /* Only when this slice moves the input's lower bound (a merge that died may have moved it past). */
            if (!last && hi < inputs[i].mix_hi && hi >= inputs[i].mix_lo)
            {
                BlockNumber keep = landmark_run_first_page_from(index, &inputs[i], hi + 1);

                before[i] = run_pages_before(index, &inputs[i], keep, &nbefore[i]);
                if (nbefore[i] > 0)
                {
                    inputs[i].data_head = keep;
                    inputs[i].data_pages -= nbefore[i];
                }
            }
        }

        lock_meta(index, &metabuf, &meta);
        /* Runs flushes added since this merge started, after its part of the list: kept, at the end. */
        nnew = 0;
        for (uint32 r = owned_end; r < meta.nruns; r++)
            newcomers[nnew++] = meta.runs[r];
        /* The runs before the inputs (an insert's merge: older runs; a full merge: this merge's slices so far) */
        nruns = first_input;
        if (first_input + 1 + ninputs + nnew > LANDMARK_MAX_RUNS)
            elog(ERROR, "afp_landmark index \"%s\": no room for a merged run in the run list",
                 RelationGetRelationName(index));
        if (out.postings > 0)
            meta.runs[nruns++] = out;
        else
            gone[ngone++] = out;
        for (uint32 i = 0; i < ninputs; i++)
        {
            inputs[i].postings -= Min(inputs[i].postings, taken[i]);
            if (last || hi >= inputs[i].mix_hi)
                gone[ngone++] = inputs[i];
            else
            {
                if (inputs[i].mix_lo <= hi)
                    inputs[i].mix_lo = hi + 1;
                meta.runs[nruns++] = inputs[i];
            }
        }
        owned_end = nruns;
        for (uint32 r = 0; r < nnew; r++)
            meta.runs[nruns++] = newcomers[r];
        meta.nruns = nruns;
        first_input = everything ? first_input + (out.postings > 0 ? 1 : 0) : first_input;
        if (last)
        {
            memset(&meta.sealed, 0, sizeof(meta.sealed));
            meta.sealed.head = meta.sealed.tail = InvalidBlockNumber;
            meta.removed_postings = 0;
            meta.merging = 0;
            meta.merge_owned = 0;
        }
        else
        {
            meta.sealed.mix_lo = (uint64) hi + 1;
            meta.merging = first_generation + sl + 1;
            meta.merge_owned = owned_end;
        }
        meta.merges++;
        update_meta(index, metabuf, &meta);
        UnlockReleaseBuffer(metabuf);

        /* The pages of inputs no longer listed, and of listed inputs below the next slice. */
        for (uint32 i = 0; i < ngone; i++)
            free_run(index, &gone[i]);
        {
            uint32      k = 0;

            for (uint32 i = 0; i < ninputs; i++)
            {
                for (BlockNumber j = 0; j < nbefore[i]; j++)
                    free_live_page(index, before[i][j], inputs[i].generation);
                if (before[i])
                    pfree(before[i]);
                /* Inputs still listed, for the next slice (their order kept). */
                if (!(last || hi >= inputs[i].mix_hi))
                    inputs[k++] = inputs[i];
            }
            ninputs = k;
        }
        IndexFreeSpaceMapVacuum(index);
    }

    /* 4. The sealed chain's pages are free. */
    for (Size i = 0; i < nchain_pages; i++)
        RecordFreeIndexPage(index, chain_pages[i]);
    IndexFreeSpaceMapVacuum(index);
    if (chain_pages)
        pfree(chain_pages);
    pfree(keys);
    if (hold_flush_lock)
        UnlockPage(index, LANDMARK_FLUSH_LOCK, ExclusiveLock);
    if (everything)
    {
        /*
         * Pages freed since the last checkpoint are forgotten by a crash (the free space map is
         * not WAL-logged), and a crash between a merge's last install and its frees leaves pages
         * of runs no one lists: a full merge finds them all, as VACUUM re-records a B-tree's.
         */
        landmark_read_meta(index, &meta);
        free_orphans(index, &meta);
        if (wait && !skip_compaction)
            compact_tail(index);
        truncate_tail(index, wait);
    }
    UnlockPage(index, LANDMARK_META_BLKNO, ExclusiveLock);
    if (leftover && (everything || dead != NULL))
    {
        uint64      more = 0;

        /* The pending chain this merge could not seal (a merge that died had left its own). */
        landmark_merge(index, everything, true, dead, &more);
        written = more;
    }
    if (merged)
        *merged = written;
    return true;
}

/*
 * The background worker's full merge (landmarkworker.c). While inserts go on
 * (last false) the copy of the run at the end is left for the merge after they
 * stop: at every merge of a load it only multiplied the runs (45 at 97 h).
 */
void
landmark_merge_background(Relation index, bool last)
{
    skip_compaction = !last;
    PG_TRY();
    {
        landmark_merge(index, true, true, NULL, NULL);
    }
    PG_FINALLY();
    {
        skip_compaction = false;
    }
    PG_END_TRY();
}

/* The copy and truncation a full merge ends with, alone (the worker's last step after a load). */
void
landmark_compact(Relation index)
{
    LockPage(index, LANDMARK_META_BLKNO, ExclusiveLock);
    compact_tail(index);
    truncate_tail(index, true);
    UnlockPage(index, LANDMARK_META_BLKNO, ExclusiveLock);
}

/*
 * An insert's way out when the pending chain is over its limit and a merge is
 * running (VACUUM's full merge of a large index takes seconds, and every scan
 * reads the pending postings whole): the pending chain becomes a run of its own,
 * appended to the list, which the running merge keeps (owned_end). One flush at
 * a time, under a lock of its own; none when the list has no room (the merge
 * leaves LANDMARK_FLUSH_ROOM places). A flush that dies leaves its chain listed
 * as flushing (the next flush takes it) and pages the next full merge frees.
 */
static bool flush_locked(Relation index);

bool
landmark_flush(Relation index)
{
    bool        done;

    if (!ConditionalLockPage(index, LANDMARK_FLUSH_LOCK, ExclusiveLock))
        return false;
    done = flush_locked(index);
    UnlockPage(index, LANDMARK_FLUSH_LOCK, ExclusiveLock);
    return done;
}

/*
 * For VACUUM's removal of dead rows: no flush may run during the merge (a flushed
 * run would keep their postings), and a flush that died is finished first, so the
 * merge sees every posting. Waits for a running flush.
 */
void
landmark_merge_dead(Relation index, const LandmarkRowIds *dead)
{
    LandmarkMetaData meta;

    LockPage(index, LANDMARK_FLUSH_LOCK, ExclusiveLock);
    landmark_read_meta(index, &meta);
    if (BlockNumberIsValid(meta.flushing.head))
        flush_locked(index);
    landmark_merge(index, true, true, dead, NULL);
    UnlockPage(index, LANDMARK_FLUSH_LOCK, ExclusiveLock);
}

/* The flush, under the flush lock. */
static bool
flush_locked(Relation index)
{
    Buffer      metabuf;
    LandmarkMetaData meta;
    LandmarkChain chain;
    uint32      generation;
    BlockNumber *pages = NULL;
    Size        npages = 0;
    LandmarkKey *keys;
    Size        nkeys = 0;
    LandmarkRun out;
    LandmarkRun inputs[LANDMARK_MAX_RUNS];
    uint64      taken[LANDMARK_MAX_RUNS];
    uint32      ninputs;

    lock_meta(index, &metabuf, &meta);
    landmark_check_meta(index, &meta);
    /* A running full merge may still add a run per slice: room for those, or no flush. */
    if (meta.nruns + 1 + LANDMARK_MAX_SLICES > LANDMARK_MAX_RUNS)
    {
        UnlockReleaseBuffer(metabuf);
        return false;
    }
    if (!BlockNumberIsValid(meta.flushing.head))
    {
        meta.flushing = meta.pending;
        meta.flushing.mix_lo = 0;
        memset(&meta.pending, 0, sizeof(meta.pending));
        meta.pending.head = meta.pending.tail = InvalidBlockNumber;
    }
    generation = meta.next_generation++;
    meta.flush_output = generation;
    /*
     * With it, the newest whole-space runs of comparable size that no running full merge owns
     * (flushes of this same merge's duration, mostly), as an insert's merge would take them: a
     * long merge must not leave a run per flush for every scan to read.
     */
    {
        uint64      gathered = meta.flushing.postings;
        uint32      first = meta.nruns;

        while (first > meta.merge_owned &&
               meta.runs[first - 1].mix_lo == 0 && meta.runs[first - 1].mix_hi == PG_UINT32_MAX &&
               meta.runs[first - 1].postings <= LANDMARK_MERGE_FACTOR * Max(gathered, 1) &&
               gathered + meta.runs[first - 1].postings <= LANDMARK_INSERT_MERGE_MAX)
        {
            first--;
            gathered += meta.runs[first].postings;
        }
        ninputs = meta.nruns - first;
        for (uint32 i = 0; i < ninputs; i++)
            inputs[i] = meta.runs[first + i];
    }
    update_meta(index, metabuf, &meta);
    UnlockReleaseBuffer(metabuf);
    chain = meta.flushing;

    keys = chain_keys(index, &chain, NULL, &nkeys, &pages, &npages, "flushing chain");
    {
        uint64      expected = nkeys;

        for (uint32 i = 0; i < ninputs; i++)
            expected += inputs[i].postings;
        merge_range(index, inputs, ninputs, keys, nkeys, NULL, 0, PG_UINT32_MAX, Max(expected, 1), generation,
                    NULL, 0, &out, taken);
    }
    pfree(keys);

    lock_meta(index, &metabuf, &meta);
    /* The inputs leave the list (found by generation: a merge's installs may have moved them). */
    {
        uint32      k = 0;

        for (uint32 r = 0; r < meta.nruns; r++)
        {
            bool        input = false;

            for (uint32 i = 0; i < ninputs && !input; i++)
                input = meta.runs[r].generation == inputs[i].generation;
            if (!input)
                meta.runs[k++] = meta.runs[r];
        }
        meta.nruns = k;
    }
    if (out.postings > 0 && meta.nruns < LANDMARK_MAX_RUNS)
        meta.runs[meta.nruns++] = out;
    else if (out.postings > 0)
        elog(ERROR, "afp_landmark index \"%s\": no room for a flushed run in the run list",
             RelationGetRelationName(index));
    memset(&meta.flushing, 0, sizeof(meta.flushing));
    meta.flushing.head = meta.flushing.tail = InvalidBlockNumber;
    meta.flush_output = 0;
    update_meta(index, metabuf, &meta);
    UnlockReleaseBuffer(metabuf);
    if (out.postings == 0)
        free_run(index, &out);
    for (uint32 i = 0; i < ninputs; i++)
        free_run(index, &inputs[i]);
    for (Size i = 0; i < npages; i++)
        RecordFreeIndexPage(index, pages[i]);
    if (pages)
        pfree(pages);
    IndexFreeSpaceMapVacuum(index);
    return true;
}

/*
 * afp_index_merge(index) -> bigint: folds the pending postings and every run of
 * an afp_landmark index together now (VACUUM does the same); returns the
 * postings of that run. For the table's owner, as VACUUM.
 */
Datum
afp_index_merge(PG_FUNCTION_ARGS)
{
    Oid         indexoid = PG_GETARG_OID(0);
    Oid         heapoid = IndexGetRelation(indexoid, true);
    Relation    heap;
    Relation    index;
    uint64      merged;

    if (!OidIsValid(heapoid))
        ereport(ERROR,
                (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                 errmsg("\"%s\" is not an index", get_rel_name(indexoid) ? get_rel_name(indexoid) : "?")));
    if (RecoveryInProgress())
        ereport(ERROR,
                (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
                 errmsg("afp_index_merge() cannot run during recovery"),
                 errhint("Merge on the primary; standbys follow.")));
    if (!AFP_CLASS_OWNERCHECK(heapoid, GetUserId()))
        aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(heapoid)), get_rel_name(heapoid));
    /* As VACUUM: inserts, selects and other merges' waits go on. */
    heap = table_open(heapoid, ShareUpdateExclusiveLock);
    index = index_open(indexoid, RowExclusiveLock);
    if (index->rd_rel->relam != get_index_am_oid("afp_landmark", false))
        ereport(ERROR,
                (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                 errmsg("index \"%s\" is not an afp_landmark index", RelationGetRelationName(index))));
    landmark_merge(index, true, true, NULL, &merged);
    index_close(index, RowExclusiveLock);
    table_close(heap, ShareUpdateExclusiveLock);
    PG_RETURN_INT64((int64) merged);
}
