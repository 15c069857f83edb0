/*
 * landmarkvacuum.c — VACUUM for afp_landmark: rows whose heap tuples are dead
 * are found on the row pages (one callback per row, not per posting), then their
 * postings are removed from the packed area and the pending chain. Removed
 * postings keep their slots (the packed area is addressed by ordinal) until
 * REINDEX; afp_index_stats() reports them.
 */
#include "landmark.h"

#include "commands/vacuum.h"
#include "miscadmin.h"

/* Whether a posting or row entry belongs to a dead row. */
static bool
is_dead(const LandmarkRowIds *dead, BlockNumber block, OffsetNumber offset)
{
    return landmark_row_ids_contain(dead, landmark_row_id(block, offset));
}

/*
 * Invalidates the row entries of dead rows, once their postings are gone. Done
 * last: a VACUUM cancelled or crashed before this point leaves the entries, so
 * the next VACUUM finds the rows dead again and removes whatever postings remain.
 */
static void
forget_dead_rows(Relation index, BlockNumber blkno, const LandmarkRowIds *dead, BufferAccessStrategy strategy)
{
    while (BlockNumberIsValid(blkno))
    {
        Buffer      buf;
        Page        page;
        LandmarkRow *rows;
        uint32      n;
        bool        any = false;
        BlockNumber next;

        vacuum_delay_point();
        buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        page = BufferGetPage(buf);
        rows = (LandmarkRow *) PageGetContents(page);
        n = landmark_page_items(page, sizeof(LandmarkRow));
        for (uint32 k = 0; k < n && !any; k++)
            any = ItemPointerIsValid(&rows[k].tid) &&
                is_dead(dead, ItemPointerGetBlockNumber(&rows[k].tid), ItemPointerGetOffsetNumber(&rows[k].tid));
        if (any)
        {
            GenericXLogState *state = GenericXLogStart(index);
            Page        copy = GenericXLogRegisterBuffer(state, buf, 0);
            LandmarkRow *crows = (LandmarkRow *) PageGetContents(copy);

            for (uint32 k = 0; k < n; k++)
                if (ItemPointerIsValid(&crows[k].tid) &&
                    is_dead(dead, ItemPointerGetBlockNumber(&crows[k].tid), ItemPointerGetOffsetNumber(&crows[k].tid)))
                    ItemPointerSetInvalid(&crows[k].tid);
            GenericXLogFinish(state);
        }
        next = LandmarkPageGetOpaque(page)->next;
        UnlockReleaseBuffer(buf);
        blkno = next;
    }
}

/*
 * Removes the postings of dead rows from one page; returns how many. The meta
 * page's removed_postings goes up in the same WAL record, so the counter stays
 * exact even when VACUUM is interrupted. Locks are taken meta first, then the
 * page, the order inserts use.
 */
static uint64
sweep_postings_page(Relation index, BlockNumber blkno, const LandmarkRowIds *dead, BufferAccessStrategy strategy,
                    BlockNumber *next)
{
    Buffer      buf;
    Buffer      metabuf;
    Page        page;
    LandmarkPosting *p;
    uint32      n;
    bool        any = false;
    uint64      removed = 0;
    GenericXLogState *state;
    LandmarkPosting *cp;

    vacuum_delay_point();
    buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    page = BufferGetPage(buf);
    p = (LandmarkPosting *) PageGetContents(page);
    n = landmark_page_items(page, sizeof(LandmarkPosting));
    for (uint32 k = 0; k < n && !any; k++)
        any = BlockNumberIsValid(p[k].block) && is_dead(dead, p[k].block, landmark_posting_offset(&p[k]));
    if (next)
        *next = LandmarkPageGetOpaque(page)->next;
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    if (!any)
    {
        ReleaseBuffer(buf);
        return 0;
    }

    metabuf = ReadBuffer(index, LANDMARK_META_BLKNO);
    LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    state = GenericXLogStart(index);
    cp = (LandmarkPosting *) PageGetContents(GenericXLogRegisterBuffer(state, buf, 0));
    n = landmark_page_items(BufferGetPage(buf), sizeof(LandmarkPosting));
    for (uint32 k = 0; k < n; k++)
        if (BlockNumberIsValid(cp[k].block) && is_dead(dead, cp[k].block, landmark_posting_offset(&cp[k])))
        {
            cp[k].block = InvalidBlockNumber;
            removed++;
        }
    LandmarkPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0))->removed_postings += removed;
    GenericXLogFinish(state);
    UnlockReleaseBuffer(buf);
    UnlockReleaseBuffer(metabuf);
    return removed;
}

IndexBulkDeleteResult *
landmark_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
                    IndexBulkDeleteCallback callback, void *callback_state)
{
    Relation    index = info->index;
    LandmarkMetaData meta;
    LandmarkRowIds dead = {0};
    uint64      removed = 0;

    if (stats == NULL)
        stats = palloc0(sizeof(IndexBulkDeleteResult));
    landmark_read_meta(index, &meta);
    landmark_collect_rows(index, meta.rows_head, callback, callback_state, info->strategy, &dead);
    if (dead.n > 0)
    {
        BlockNumber blkno;

        /* 1. The postings, in the packed area and the pending chain as of now (rows appended
         *    later are alive: their TIDs were just inserted). */
        landmark_row_ids_sort(&dead);
        for (BlockNumber b = 0; b < meta.data_pages; b++)
            removed += sweep_postings_page(index, meta.data_start + b, &dead, info->strategy, NULL);
        landmark_read_meta(index, &meta);
        blkno = meta.pending_head;
        while (BlockNumberIsValid(blkno))
            removed += sweep_postings_page(index, blkno, &dead, info->strategy, &blkno);

        /* 2. Then the row entries (see forget_dead_rows), 3. then the row count. */
        forget_dead_rows(index, meta.rows_head, &dead, info->strategy);
        {
            Buffer      metabuf = ReadBuffer(index, LANDMARK_META_BLKNO);
            GenericXLogState *state;
            LandmarkMetaData *m;

            LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
            state = GenericXLogStart(index);
            m = LandmarkPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
            m->rows -= Min(m->rows, dead.n);
            GenericXLogFinish(state);
            UnlockReleaseBuffer(metabuf);
        }
        pfree(dead.ids);
    }
    stats->tuples_removed += dead.n;
    landmark_read_meta(index, &meta);
    stats->num_index_tuples = (double) meta.rows;
    stats->num_pages = RelationGetNumberOfBlocks(index);
    return stats;
}

IndexBulkDeleteResult *
landmark_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
    LandmarkMetaData meta;

    if (info->analyze_only)
        return stats;
    if (stats == NULL)
        stats = palloc0(sizeof(IndexBulkDeleteResult));
    landmark_read_meta(info->index, &meta);
    stats->num_index_tuples = (double) meta.rows;
    stats->num_pages = RelationGetNumberOfBlocks(info->index);
    stats->estimated_count = false;
    return stats;
}
