/*
 * landmarkvacuum.c — VACUUM for afp_landmark. Rows whose heap tuples are dead
 * are found on the row pages (one callback per row, not per posting); then one
 * merge (landmarkmerge.c) rewrites every run and the pending postings into one
 * run without their postings, which gives their space back, and only then are
 * the rows' entries forgotten. The cleanup pass folds whatever inserts left in
 * the pending chain and in small runs together, so autovacuum keeps an
 * ingested index in the shape a fresh build has.
 */
#include "landmark.h"

#include "commands/vacuum.h"
#include "miscadmin.h"

/*
 * Invalidates the row entries of dead rows, once their postings are gone. Done
 * last: a VACUUM cancelled or crashed before this point leaves the entries, so
 * the next VACUUM finds the rows dead again and removes whatever postings remain.
 */
static void
forget_dead_rows(Relation index, BlockNumber blkno, const LandmarkRowIds *dead, BufferAccessStrategy strategy)
{
    BlockNumber seen = 0;

    while (BlockNumberIsValid(blkno))
    {
        Buffer      buf;
        Page        page;
        LandmarkRow *rows;
        uint32      n;
        bool        any = false;
        BlockNumber next;

        vacuum_delay_point();
        /* As landmark_collect_rows: a loop in the chain is damage. */
        if (blkno == LANDMARK_META_BLKNO || blkno >= RelationGetNumberOfBlocks(index) ||
            ++seen > RelationGetNumberOfBlocks(index))
            landmark_page_corrupted(index, blkno, "row page");
        buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        page = BufferGetPage(buf);
        if (!landmark_page_is_valid(page, LANDMARK_PAGE_ROWS))
        {
            UnlockReleaseBuffer(buf);
            landmark_page_corrupted(index, blkno, "row page");
        }
        rows = (LandmarkRow *) PageGetContents(page);
        n = landmark_page_items(page, sizeof(LandmarkRow));
        for (uint32 k = 0; k < n && !any; k++)
            any = ItemPointerIsValid(&rows[k].tid) &&
                landmark_row_ids_contain(dead, landmark_row_id(ItemPointerGetBlockNumber(&rows[k].tid),
                                                               ItemPointerGetOffsetNumber(&rows[k].tid)));
        next = LandmarkPageGetOpaque(page)->next;
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        if (any)
        {
            /*
             * The entries and the meta page's row count change in one WAL record, so the count
             * stays exact however VACUUM ends. Meta page first, then the row page: inserts' order.
             */
            Buffer      metabuf = ReadBuffer(index, LANDMARK_META_BLKNO);
            GenericXLogState *state;
            LandmarkRow *crows;
            LandmarkMetaData *meta;
            uint64      forgotten = 0;

            LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
            LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
            state = GenericXLogStart(index);
            meta = LandmarkPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
            crows = (LandmarkRow *) PageGetContents(GenericXLogRegisterBuffer(state, buf, 0));
            n = landmark_page_items(BufferGetPage(buf), sizeof(LandmarkRow));
            for (uint32 k = 0; k < n; k++)
                if (ItemPointerIsValid(&crows[k].tid) &&
                    landmark_row_ids_contain(dead, landmark_row_id(ItemPointerGetBlockNumber(&crows[k].tid),
                                                                   ItemPointerGetOffsetNumber(&crows[k].tid))))
                {
                    ItemPointerSetInvalid(&crows[k].tid);
                    forgotten++;
                }
            meta->rows -= Min(meta->rows, forgotten);
            GenericXLogFinish(state);
            UnlockReleaseBuffer(metabuf);
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        }
        ReleaseBuffer(buf);
        blkno = next;
    }
}

IndexBulkDeleteResult *
landmark_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
                    IndexBulkDeleteCallback callback, void *callback_state)
{
    Relation    index = info->index;
    LandmarkMetaData meta;
    LandmarkRowIds dead = {0};

    if (stats == NULL)
        stats = palloc0(sizeof(IndexBulkDeleteResult));
    landmark_read_meta(index, &meta);
    landmark_collect_rows(index, meta.rows_head, callback, callback_state, info->strategy, &dead);
    if (dead.n > 0)
    {
        /*
         * 1. The postings: every run and the pending postings as of now (rows appended later are
         *    alive: their TIDs were just inserted) are merged without them. The heap
         *    may reuse the TIDs once this returns, so the merge waits for any other to finish.
         */
        landmark_row_ids_sort(&dead);
        landmark_merge_dead(index, &dead);

        /* 2. Then the row entries and the row count (see forget_dead_rows). */
        landmark_read_meta(index, &meta);
        forget_dead_rows(index, meta.rows_head, &dead, info->strategy);
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
    /* Fold what inserts left (pending postings, runs of their own, a merge that died). */
    if (!landmark_merged(&meta))
    {
        landmark_merge(info->index, true, true, NULL, NULL);
        landmark_read_meta(info->index, &meta);
    }
    stats->num_index_tuples = (double) meta.rows;
    stats->num_pages = RelationGetNumberOfBlocks(info->index);
    stats->estimated_count = false;
    return stats;
}
