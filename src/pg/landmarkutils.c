/*
 * landmarkutils.c — pages of the afp_landmark index: initialisation, the meta
 * page, the directory, and appending to the row and pending chains.
 */
#include "landmark.h"

#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"

/* Formats an empty page of the given kind, belonging to a run or chain of that generation. */
void
landmark_init_page(Page page, uint16 kind, uint32 generation)
{
    LandmarkPageOpaque opaque;

    PageInit(page, BLCKSZ, sizeof(LandmarkPageOpaqueData));
    opaque = LandmarkPageGetOpaque(page);
    opaque->next = InvalidBlockNumber;
    opaque->kind = kind;
    opaque->unused = 0;
    opaque->generation = generation;
}

/* Reports a damaged page (XX002), naming its block. */
void
landmark_page_corrupted(Relation index, BlockNumber blkno, const char *what)
{
    ereport(ERROR,
            (errcode(ERRCODE_INDEX_CORRUPTED),
             errmsg("afp_landmark index \"%s\" has a damaged %s at block %u",
                    RelationGetRelationName(index), what, blkno),
             errhint("REINDEX INDEX %s;", quote_identifier(RelationGetRelationName(index)))));
}

/* Checks a copy of the meta page: an afp_landmark index of this layout, with sane lists. */
void
landmark_check_meta(Relation index, const LandmarkMetaData *meta)
{
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);

    if (meta->magic != LANDMARK_MAGIC)
        ereport(ERROR,
                (errcode(ERRCODE_INDEX_CORRUPTED),
                 errmsg("index \"%s\" is not an afp_landmark index", RelationGetRelationName(index)),
                 errhint("REINDEX INDEX %s;", quote_identifier(RelationGetRelationName(index)))));
    /* Layout 1 (afp 0.3.0 to 0.5.0) is the only other layout there ever was: any other number is damage. */
    if (meta->version != LANDMARK_VERSION && meta->version != 1)
        landmark_page_corrupted(index, LANDMARK_META_BLKNO, "meta page");
    if (meta->version != LANDMARK_VERSION)
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("afp_landmark index \"%s\" has layout version %u, this build reads version %u",
                        RelationGetRelationName(index), meta->version, LANDMARK_VERSION),
                 errdetail("afp 0.6.0 stores postings in compressed runs; indexes built before it must be rebuilt."),
                 errhint("REINDEX INDEX %s;", quote_identifier(RelationGetRelationName(index)))));
    if (meta->nruns > LANDMARK_MAX_RUNS)
        landmark_page_corrupted(index, LANDMARK_META_BLKNO, "meta page");
    for (uint32 i = 0; i < meta->nruns; i++)
    {
        const LandmarkRun *run = &meta->runs[i];

        if (run->dir_bits < LANDMARK_MIN_DIR_BITS || run->dir_bits > LANDMARK_MAX_DIR_BITS ||
            run->dir_pages > nblocks || run->dir_pages > (uint64) LANDMARK_DIR_MAPS * LANDMARK_DIRMAP_ENTRIES ||
            (uint64) run->dir_pages * LANDMARK_DIR_ENTRIES_PER_PAGE < run->dir_entries ||
            (uint64) run->dir_base + run->dir_entries > ((uint64) 1 << run->dir_bits) ||
            run->mix_lo > run->mix_hi)
            landmark_page_corrupted(index, LANDMARK_META_BLKNO, "meta page");
    }
}

/* Copies the meta page, checking that the relation is an afp_landmark index of this version. */
void
landmark_read_meta(Relation index, LandmarkMetaData *meta)
{
    Buffer      buf = ReadBuffer(index, LANDMARK_META_BLKNO);
    Page        page;

    LockBuffer(buf, BUFFER_LOCK_SHARE);
    page = BufferGetPage(buf);
    if (!landmark_page_is_valid(page, LANDMARK_PAGE_META) ||
        landmark_page_bytes(page) < offsetof(LandmarkMetaData, version) + sizeof(uint32))
    {
        UnlockReleaseBuffer(buf);
        landmark_page_corrupted(index, LANDMARK_META_BLKNO, "meta page");
    }
    memset(meta, 0, sizeof(LandmarkMetaData));
    memcpy(meta, LandmarkPageGetMeta(page), Min(sizeof(LandmarkMetaData), landmark_page_bytes(page)));
    UnlockReleaseBuffer(buf);
    landmark_check_meta(index, meta);
}

/* Rows the index lists (those VACUUM has not yet removed included): a catalogue's size for confidence. */
uint64
landmark_index_rows(Relation index)
{
    LandmarkMetaData meta;

    landmark_read_meta(index, &meta);
    return meta.rows;
}

/*
 * Whether the index is as a full merge leaves it: nothing pending or being
 * merged, and runs of disjoint ranges covering the mix space (or none).
 */
bool
landmark_merged(const LandmarkMetaData *meta)
{
    uint64      next = 0;
    uint32      order[LANDMARK_MAX_RUNS];
    uint32      n = meta->nruns;

    if (meta->pending.postings > 0 || BlockNumberIsValid(meta->pending.head) ||
        BlockNumberIsValid(meta->sealed.head) || BlockNumberIsValid(meta->flushing.head) || meta->merging != 0)
        return false;
    if (n == 0)
        return true;
    /* Runs sorted by mix_lo must tile [0, 2^32) exactly. */
    for (uint32 i = 0; i < n; i++)
        order[i] = i;
    for (uint32 i = 1; i < n; i++)
        for (uint32 j = i; j > 0 && meta->runs[order[j]].mix_lo < meta->runs[order[j - 1]].mix_lo; j--)
        {
            uint32      t = order[j];

            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (uint32 i = 0; i < n; i++)
    {
        if (meta->runs[order[i]].mix_lo != next)
            return false;
        next = (uint64) meta->runs[order[i]].mix_hi + 1;
    }
    return next == ((uint64) 1 << 32);
}

/* Fills one posting of a row. */
void
landmark_fill_posting(LandmarkPosting *p, int32 hash, ItemPointer tid, uint32 frame)
{
    p->hash = hash;
    p->block = ItemPointerGetBlockNumber(tid);
    p->offset_frame = ((uint32) ItemPointerGetOffsetNumber(tid) << LANDMARK_FRAME_BITS) | frame;
}

/* Refuses a fingerprint whose frames do not fit a posting (audio longer than ~9.3 hours). */
void
landmark_check_fingerprint(Relation index, const AfpDatum *fp)
{
    const uint32 *frames = afp_body_frames(&fp->header);

    for (uint32 i = 0; i < fp->header.count; i++)
        if (frames[i] > LANDMARK_MAX_FRAME)
            ereport(ERROR,
                    (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                     errmsg("fingerprint is too long for afp_landmark index \"%s\"",
                            RelationGetRelationName(index)),
                     errdetail("A landmark at frame %u is past the index's limit of %u frames (%.1f hours).",
                               frames[i], LANDMARK_MAX_FRAME,
                               (double) LANDMARK_MAX_FRAME * fp->header.hop / fp->header.sample_rate / 3600.0),
                     errhint("Split the recording into parts, or store it in a catalogue without this index.")));
}

/*
 * Whether a page can be reused: never written, garbage, or of a run or chain the
 * meta page (a copy) does not list. Generations at or past the copy's
 * next_generation are taken as live: they were handed out after the copy.
 */
bool
landmark_page_is_reusable(Page page, const LandmarkMetaData *meta)
{
    uint32      g;
    uint16      kind;

    if (PageIsNew(page) || !landmark_page_is_valid(page, 0))
        return true;
    kind = LandmarkPageGetOpaque(page)->kind;
    g = LandmarkPageGetOpaque(page)->generation;
    if (kind == LANDMARK_PAGE_FREE)
        return true;
    if (kind != LANDMARK_PAGE_DATA && kind != LANDMARK_PAGE_DIRECTORY && kind != LANDMARK_PAGE_DIRMAP &&
        kind != LANDMARK_PAGE_PENDING)
        return false;
    return !landmark_generation_live(meta, g, true);
}

/*
 * Whether a generation belongs to something the meta page lists, or to something
 * newer than it (handed out after this copy was read); with count_merging, the
 * run a merge is writing counts too.
 */
bool
landmark_generation_live(const LandmarkMetaData *meta, uint32 g, bool count_merging)
{
    if (g == 0 || g >= meta->next_generation || g == meta->pending.generation || g == meta->sealed.generation ||
        g == meta->flushing.generation || g == meta->flush_output)
        return true;
    if (count_merging && g == meta->merging)
        return true;
    for (uint32 i = 0; i < meta->nruns; i++)
        if (meta->runs[i].generation == g)
            return true;
    return false;
}

/*
 * A page from the free space map, exclusively locked and checked free against
 * `meta`, or InvalidBuffer when the map has none. The map is only a hint (not
 * WAL-logged; after a crash it may name a page in use), so each page is checked;
 * the caller formats it before unlocking, so no one else takes it. Page locks are
 * only tried: an insert calls this holding the meta page, a merge calls it with a
 * meta copy read before, and neither may wait for a page another holds while it
 * waits for the meta page.
 */
Buffer
landmark_take_free_page(Relation index, const LandmarkMetaData *meta)
{
    for (int tries = 0; tries < 64; tries++)
    {
        BlockNumber blkno = GetFreeIndexPage(index);
        Buffer      buf;

        if (blkno == InvalidBlockNumber)
            break;
        if (blkno == LANDMARK_META_BLKNO || blkno >= RelationGetNumberOfBlocks(index))
            continue;
        buf = ReadBuffer(index, blkno);
        if (!ConditionalLockBuffer(buf))
        {
            ReleaseBuffer(buf);
            continue;
        }
        if (landmark_page_is_reusable(BufferGetPage(buf), meta))
            return buf;
        UnlockReleaseBuffer(buf);
    }
    return InvalidBuffer;
}

/*
 * Block blkno, if it is free (checked as landmark_take_free_page does), locked
 * exclusively and taken out of the free space map; else InvalidBuffer.
 */
Buffer
landmark_take_page(Relation index, BlockNumber blkno, const LandmarkMetaData *meta)
{
    Buffer      buf;

    if (blkno == LANDMARK_META_BLKNO || blkno >= RelationGetNumberOfBlocks(index))
        return InvalidBuffer;
    buf = ReadBuffer(index, blkno);
    if (!ConditionalLockBuffer(buf))
    {
        ReleaseBuffer(buf);
        return InvalidBuffer;
    }
    if (!landmark_page_is_reusable(BufferGetPage(buf), meta))
    {
        UnlockReleaseBuffer(buf);
        return InvalidBuffer;
    }
    RecordUsedIndexPage(index, blkno);
    return buf;
}

/* A new page at the end of the index, pinned and exclusively locked. */
Buffer
landmark_new_buffer(Relation index)
{
    bool        need_lock = !RELATION_IS_LOCAL(index);
    Buffer      buf;

    if (need_lock)
        LockRelationForExtension(index, ExclusiveLock);
    buf = ReadBuffer(index, P_NEW);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    if (need_lock)
        UnlockRelationForExtension(index, ExclusiveLock);
    return buf;
}

/*
 * Appends items to the row or pending chain, one WAL record per page touched.
 * The caller holds the meta buffer exclusively locked, which serialises appends.
 */
static void
append_items(Relation index, Buffer metabuf, bool pending, const char *items, Size item_size, uint32 n)
{
    uint32      capacity = (uint32) (LANDMARK_PAGE_SPACE / item_size);
    uint16      kind = pending ? LANDMARK_PAGE_PENDING : LANDMARK_PAGE_ROWS;

    while (n > 0)
    {
        GenericXLogState *state;
        Page        metapage;
        LandmarkMetaData *meta;
        BlockNumber *head;
        BlockNumber *tail;
        Buffer      tailbuf = InvalidBuffer;
        Buffer      newbuf = InvalidBuffer;
        Page        target = NULL;
        uint32      have = capacity;
        uint32      k;

        CHECK_FOR_INTERRUPTS();
        state = GenericXLogStart(index);
        metapage = GenericXLogRegisterBuffer(state, metabuf, 0);
        meta = LandmarkPageGetMeta(metapage);
        head = pending ? &meta->pending.head : &meta->rows_head;
        tail = pending ? &meta->pending.tail : &meta->rows_tail;
        if (BlockNumberIsValid(*tail))
        {
            if (*tail == LANDMARK_META_BLKNO || *tail >= RelationGetNumberOfBlocks(index))
                landmark_page_corrupted(index, *tail, pending ? "pending page" : "row page");
            tailbuf = ReadBuffer(index, *tail);
            LockBuffer(tailbuf, BUFFER_LOCK_EXCLUSIVE);
            if (!landmark_page_is_valid(BufferGetPage(tailbuf), kind))
            {
                GenericXLogAbort(state);
                UnlockReleaseBuffer(tailbuf);
                landmark_page_corrupted(index, *tail, pending ? "pending page" : "row page");
            }
            target = GenericXLogRegisterBuffer(state, tailbuf, 0);
            have = landmark_page_items(target, item_size);
        }
        if (have >= capacity)
        {
            Page        fresh;

            /* A new pending chain gets a generation of its own (see landmark.h). */
            if (pending && !BlockNumberIsValid(*tail))
                meta->pending.generation = meta->next_generation++;
            newbuf = landmark_take_free_page(index, meta);
            if (!BufferIsValid(newbuf))
                newbuf = landmark_new_buffer(index);
            fresh = GenericXLogRegisterBuffer(state, newbuf, GENERIC_XLOG_FULL_IMAGE);
            landmark_init_page(fresh, kind, pending ? meta->pending.generation : 0);
            if (target != NULL)
                LandmarkPageGetOpaque(target)->next = BufferGetBlockNumber(newbuf);
            else
                *head = BufferGetBlockNumber(newbuf);
            *tail = BufferGetBlockNumber(newbuf);
            if (pending)
                meta->pending.pages++;
            target = fresh;
            have = 0;
        }
        k = Min(n, capacity - have);
        memcpy(PageGetContents(target) + (Size) have * item_size, items, (Size) k * item_size);
        ((PageHeader) target)->pd_lower += (LocationIndex) (k * item_size);
        if (pending)
            meta->pending.postings += k;
        else
            meta->rows += k;
        GenericXLogFinish(state);
        if (BufferIsValid(newbuf))
            UnlockReleaseBuffer(newbuf);
        if (BufferIsValid(tailbuf))
            UnlockReleaseBuffer(tailbuf);
        items += (Size) k * item_size;
        n -= k;
    }
}

/*
 * Indexes one row inserted after the build: its row entry first, then its
 * postings to the pending chain. A crash in between leaves postings of a row
 * whose transaction never committed; VACUUM finds the row dead and removes them.
 */
void
landmark_append_postings(Relation index, const AfpDatum *fp, ItemPointer tid)
{
    const int32 *hashes = afp_body_hashes(&fp->header);
    const uint32 *frames = afp_body_frames(&fp->header);
    LandmarkPosting *postings;
    LandmarkRow row;
    Buffer      metabuf;
    uint64      pending_bytes;

    landmark_check_fingerprint(index, fp);
    postings = palloc(sizeof(LandmarkPosting) * Max(fp->header.count, 1));
    for (uint32 i = 0; i < fp->header.count; i++)
        landmark_fill_posting(&postings[i], hashes[i], tid, frames[i]);
    memset(&row, 0, sizeof(row));
    row.tid = *tid;
    row.landmarks = fp->header.count;

    metabuf = ReadBuffer(index, LANDMARK_META_BLKNO);
    LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
    /* Nothing is written to an index of another layout, or a damaged one. */
    {
        LandmarkMetaData meta;
        Page        page = BufferGetPage(metabuf);

        if (!landmark_page_is_valid(page, LANDMARK_PAGE_META))
        {
            UnlockReleaseBuffer(metabuf);
            landmark_page_corrupted(index, LANDMARK_META_BLKNO, "meta page");
        }
        memset(&meta, 0, sizeof(meta));
        memcpy(&meta, LandmarkPageGetMeta(page), Min(sizeof(meta), landmark_page_bytes(page)));
        if (meta.magic != LANDMARK_MAGIC || meta.version != LANDMARK_VERSION)
        {
            UnlockReleaseBuffer(metabuf);
            landmark_check_meta(index, &meta);
        }
    }
    append_items(index, metabuf, false, (const char *) &row, sizeof(row), 1);
    append_items(index, metabuf, true, (const char *) postings, sizeof(LandmarkPosting), fp->header.count);
    pending_bytes = LandmarkPageGetMeta(BufferGetPage(metabuf))->pending.postings * sizeof(LandmarkPosting);
    UnlockReleaseBuffer(metabuf);
    pfree(postings);
    /* Past the pending limit, this insert folds the pending postings into a run (landmarkmerge.c). */
    landmark_merge_if_due(index, pending_bytes);
}

void
landmark_row_ids_add(LandmarkRowIds *set, uint64 id)
{
    if (set->n == set->capacity)
    {
        set->capacity = Max(1024, set->capacity * 2);
        set->ids = set->ids == NULL ? palloc(set->capacity * sizeof(uint64))
            : repalloc_huge(set->ids, set->capacity * sizeof(uint64));
    }
    set->ids[set->n++] = id;
}

static int
compare_row_ids(const void *a, const void *b)
{
    uint64      x = *(const uint64 *) a;
    uint64      y = *(const uint64 *) b;

    return x < y ? -1 : x > y ? 1 : 0;
}

void
landmark_row_ids_sort(LandmarkRowIds *set)
{
    if (set->n > 1)
        qsort(set->ids, set->n, sizeof(uint64), compare_row_ids);
}

bool
landmark_row_ids_contain(const LandmarkRowIds *set, uint64 id)
{
    return set->n > 0 && bsearch(&id, set->ids, set->n, sizeof(uint64), compare_row_ids) != NULL;
}

/*
 * Adds the ids of the listed rows on the row pages from blkno on: every valid
 * entry, or with a callback (VACUUM's), those it reports dead. No page changes.
 */
void
landmark_collect_rows(Relation index, BlockNumber blkno, IndexBulkDeleteCallback callback, void *cb_state,
                      BufferAccessStrategy strategy, LandmarkRowIds *out)
{
    BlockNumber seen = 0;

    while (BlockNumberIsValid(blkno))
    {
        Buffer      buf;
        Page        page;
        const LandmarkRow *rows;
        uint32      n;
        BlockNumber nblocks = RelationGetNumberOfBlocks(index);

        vacuum_delay_point();
        /* A damaged next link can point back into the chain: more pages than the index has is a loop. */
        if (blkno == LANDMARK_META_BLKNO || blkno >= nblocks || ++seen > nblocks)
            landmark_page_corrupted(index, blkno, "row page");
        buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        page = BufferGetPage(buf);
        if (!landmark_page_is_valid(page, LANDMARK_PAGE_ROWS))
        {
            UnlockReleaseBuffer(buf);
            landmark_page_corrupted(index, blkno, "row page");
        }
        rows = (const LandmarkRow *) PageGetContents(page);
        n = landmark_page_items(page, sizeof(LandmarkRow));
        for (uint32 k = 0; k < n; k++)
        {
            ItemPointerData tid = rows[k].tid;

            if (!ItemPointerIsValid(&tid) || (callback != NULL && !callback(&tid, cb_state)))
                continue;
            landmark_row_ids_add(out, landmark_row_id(ItemPointerGetBlockNumber(&tid), ItemPointerGetOffsetNumber(&tid)));
        }
        blkno = LandmarkPageGetOpaque(page)->next;
        UnlockReleaseBuffer(buf);
    }
}
