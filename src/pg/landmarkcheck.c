/*
 * landmarkcheck.c — afp_index_stats() and afp_index_check(): what an
 * afp_landmark index holds, and whether it agrees with its table.
 */
#include "landmark.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufpage.h"
#include "storage/freespace.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(afp_index_stats);
PG_FUNCTION_INFO_V1(afp_index_check);

/* Opens an afp_landmark index the caller may read, and its table with heap_lock. */
static Relation
open_landmark_index(Oid indexoid, Relation *heap, LOCKMODE heap_lock)
{
    Oid         heapoid = IndexGetRelation(indexoid, true);
    Relation    index;
    AclResult   acl;

    if (!OidIsValid(heapoid))
        ereport(ERROR,
                (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                 errmsg("\"%s\" is not an index", get_rel_name(indexoid) ? get_rel_name(indexoid) : "?")));
    acl = pg_class_aclcheck(heapoid, GetUserId(), ACL_SELECT);
    if (acl != ACLCHECK_OK)
        aclcheck_error(acl, get_relkind_objtype(get_rel_relkind(heapoid)), get_rel_name(heapoid));
    *heap = table_open(heapoid, heap_lock);
    index = index_open(indexoid, AccessShareLock);
    if (index->rd_rel->relam != get_index_am_oid("afp_landmark", false))
        ereport(ERROR,
                (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                 errmsg("index \"%s\" is not an afp_landmark index", RelationGetRelationName(index)),
                 errhint("Create one with: CREATE INDEX ON %s USING afp_landmark (fp);",
                         RelationGetRelationName(*heap))));
    return index;
}

/* afp_index_stats(index): its runs, postings, rows and pages. */
Datum
afp_index_stats(PG_FUNCTION_ARGS)
{
    Relation    heap;
    Relation    index = open_landmark_index(PG_GETARG_OID(0), &heap, AccessShareLock);
    LandmarkMetaData meta;
    TupleDesc   desc;
    Datum       values[10];
    bool        nulls[10] = {0};
    uint64      largest = 0;
    uint64      buckets = 0;
    uint64      packed = 0;
    int64       free_pages = 0;
    bool        locked;

    /*
     * No merge frees pages while the runs are read (on a standby, replay may: see
     * landmark_merge_lock). The lock is only tried: a merge may run for a while, and
     * waiting for one that autovacuum runs would cancel it. Without it, the runs are
     * read as scans read them, again from the meta page when a merge reused a page.
     */
    locked = landmark_merge_lock_try(index);
    for (int attempt = 0;; attempt++)
    {
        bool        stale = false;

        landmark_read_meta(index, &meta);
        largest = 0;
        for (uint32 r = 0; r < meta.nruns && !stale; r++)
            largest = Max(largest, landmark_run_largest_bucket(index, &meta.runs[r], locked ? NULL : &stale));
        if (!stale)
            break;
        if (attempt >= 8)
        {
            /* Merges kept reusing pages under the reads: the size of the largest bucket is not known. */
            nulls[5] = true;
            break;
        }
    }
    for (uint32 r = 0; r < meta.nruns; r++)
    {
        buckets += meta.runs[r].dir_entries;
        packed += meta.runs[r].postings;
    }
    for (BlockNumber b = 1; b < RelationGetNumberOfBlocks(index); b++)
        if (GetRecordedFreeSpace(index, b) > 0)
            free_pages++;
    if (locked)
        landmark_merge_lock(index, false);
    if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "afp_index_stats must return a record");
    values[0] = Int64GetDatum((int64) meta.rows);
    values[1] = Int64GetDatum((int64) packed);
    values[2] = Int64GetDatum((int64) (meta.pending.postings + meta.sealed.postings + meta.flushing.postings));
    values[3] = Int64GetDatum((int64) meta.removed_postings);
    values[4] = Int64GetDatum((int64) buckets);
    values[5] = Int64GetDatum((int64) largest);
    values[6] = Int64GetDatum((int64) RelationGetNumberOfBlocks(index));
    values[7] = Int64GetDatum((int64) RelationGetNumberOfBlocks(index) * BLCKSZ);
    values[8] = Int32GetDatum((int32) meta.nruns);
    values[9] = Int64GetDatum(free_pages);
    index_close(index, AccessShareLock);
    table_close(heap, AccessShareLock);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* A posting as the check compares them. */
typedef struct CheckPosting
{
    uint64      row;
    int32       hash;
    uint32      frame;
} CheckPosting;

typedef struct CheckList
{
    CheckPosting *items;
    Size        n;
    Size        capacity;
} CheckList;

static void
check_push(CheckList *l, uint64 row, int32 hash, uint32 frame)
{
    if (l->n == l->capacity)
    {
        l->capacity = Max(1024, l->capacity * 2);
        l->items = l->items == NULL ? palloc_extended(l->capacity * sizeof(CheckPosting), MCXT_ALLOC_HUGE)
            : repalloc_huge(l->items, l->capacity * sizeof(CheckPosting));
    }
    l->items[l->n].row = row;
    l->items[l->n].hash = hash;
    l->items[l->n].frame = frame;
    l->n++;
}

static int
compare_check(const void *a, const void *b)
{
    const CheckPosting *x = a;
    const CheckPosting *y = b;

    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    if (x->frame != y->frame)
        return x->frame < y->frame ? -1 : 1;
    return 0;
}

typedef struct HeapSide
{
    CheckList   expected;
    LandmarkRowIds visible;     /* the rows the snapshot sees */
    MemoryContext tuple_cxt;
} HeapSide;

/* Heap scan callback: the postings every visible row must have (HOT chains give their root TID). */
static void
heap_side_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool alive, void *arg)
{
    HeapSide   *hs = (HeapSide *) arg;
    uint64      row = landmark_row_id(ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid));
    MemoryContext old;
    AfpDatum   *fp;

    landmark_row_ids_add(&hs->visible, row);
    if (isnull[0])
        return;
    old = MemoryContextSwitchTo(hs->tuple_cxt);
    fp = afp_detoast(values[0]);
    MemoryContextSwitchTo(old);
    for (uint32 i = 0; i < fp->header.count; i++)
        check_push(&hs->expected, row, afp_body_hashes(&fp->header)[i], afp_body_frames(&fp->header)[i]);
    MemoryContextReset(hs->tuple_cxt);
}

/* Collects every posting of the runs and chains (the caller holds the merge lock). */
static void
collect_postings(Relation index, const LandmarkMetaData *meta, CheckList *out)
{
    const LandmarkChain *chains[3] = {&meta->sealed, &meta->flushing, &meta->pending};

    for (uint32 r = 0; r < meta->nruns; r++)
    {
        LandmarkRunIterator *it = landmark_run_iterator_begin(index, &meta->runs[r], 0, PG_UINT32_MAX);
        LandmarkKey key;

        while (landmark_run_iterator_next(it, &key))
            check_push(out, key.row, landmark_unmix(key.mix), key.frame);
        landmark_run_iterator_end(it);
    }
    for (int c = 0; c < 3; c++)
    {
        LandmarkPosting *p = NULL;
        Size        n = 0;
        Size        capacity = 0;
        bool        stale;

        if (!BlockNumberIsValid(chains[c]->head))
            continue;
        landmark_read_chain(index, chains[c], &p, &n, &capacity, &stale, NULL, NULL);
        if (stale)
            landmark_page_corrupted(index, chains[c]->head, c == 0 ? "merging chain" : c == 1 ? "flushing chain" : "pending chain");
        for (Size k = 0; k < n; k++)
            if (BlockNumberIsValid(p[k].block) && landmark_mix(p[k].hash) >= chains[c]->mix_lo)
                check_push(out, landmark_posting_row(&p[k]), p[k].hash, landmark_posting_frame(&p[k]));
        if (p)
            pfree(p);
    }
}

/* Whether a heap TID still has a line pointer in use (a dead row VACUUM has not reached yet). */
static bool
heap_slot_in_use(Relation heap, uint64 row)
{
    BlockNumber block = (BlockNumber) (row >> LANDMARK_OFFSET_BITS);
    OffsetNumber offset = (OffsetNumber) (row & ((1U << LANDMARK_OFFSET_BITS) - 1));
    Buffer      buf;
    Page        page;
    bool        used = false;

    if (block >= RelationGetNumberOfBlocks(heap))
        return false;
    buf = ReadBuffer(heap, block);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    page = BufferGetPage(buf);
    if (offset >= FirstOffsetNumber && offset <= PageGetMaxOffsetNumber(page))
        used = ItemIdIsUsed(PageGetItemId(page, offset));
    UnlockReleaseBuffer(buf);
    return used;
}

/*
 * afp_index_check(index): every landmark of every row the current snapshot sees
 * has its posting (missing counts those that do not); every posting belongs to a
 * listed row, and to a visible row with that landmark or to a row that is dead
 * but not yet vacuumed (orphaned counts the others). Memory grows with the index.
 */
Datum
afp_index_check(PG_FUNCTION_ARGS)
{
    Relation    heap;
    Relation    index;
    LOCKMODE    heap_lock;
    LandmarkMetaData meta;
    CheckList   stored = {0};
    HeapSide    hs = {0};
    IndexInfo  *info;
    Snapshot    snapshot;
    TableScanDesc scan;
    LandmarkRowIds listed = {0};
    int64       missing = 0;
    int64       orphaned = 0;
    Size        i = 0;
    Size        j = 0;
    TupleDesc   desc;
    Datum       values[4];
    bool        nulls[4] = {0};

    /*
     * ShareUpdateExclusiveLock keeps VACUUM (and DDL) away while inserts go on (a
     * standby can take only AccessShareLock; there, replay is the only writer). The
     * snapshot is taken before the index is read: a row it sees committed before it,
     * so its postings are already in the index; a row inserted later may have
     * postings without being visible, which counts as "not yet vacuumed", not as
     * orphaned. Postings are read before row entries because an insert writes its
     * row entry first: every posting read has its entry.
     */
    heap_lock = RecoveryInProgress() ? AccessShareLock : ShareUpdateExclusiveLock;
    index = open_landmark_index(PG_GETARG_OID(0), &heap, heap_lock);
    snapshot = RegisterSnapshot(GetTransactionSnapshot());
    landmark_merge_lock(index, true);
    landmark_read_meta(index, &meta);
    collect_postings(index, &meta, &stored);
    landmark_merge_lock(index, false);
    landmark_collect_rows(index, meta.rows_head, NULL, NULL, NULL, &listed);

    hs.tuple_cxt = AllocSetContextCreate(CurrentMemoryContext, "afp_index_check row", ALLOCSET_DEFAULT_SIZES);
    info = BuildIndexInfo(index);
    info->ii_Concurrent = true;
    scan = table_beginscan_strat(heap, snapshot, 0, NULL, true, false);
    table_index_build_scan(heap, index, info, true, false, heap_side_callback, &hs, scan);
    UnregisterSnapshot(snapshot);

    if (stored.n > 1)
        qsort(stored.items, stored.n, sizeof(CheckPosting), compare_check);
    if (hs.expected.n > 1)
        qsort(hs.expected.items, hs.expected.n, sizeof(CheckPosting), compare_check);
    landmark_row_ids_sort(&hs.visible);
    landmark_row_ids_sort(&listed);

    /* Merge: equal entries pair off (a landmark repeated in a row is stored as often). */
    while (i < stored.n || j < hs.expected.n)
    {
        int         c;

        if ((i + j) % 65536 == 0)
            CHECK_FOR_INTERRUPTS();
        if (i >= stored.n)
            c = 1;
        else if (j >= hs.expected.n)
            c = -1;
        else
            c = compare_check(&stored.items[i], &hs.expected.items[j]);
        if (c == 0)
        {
            i++;
            j++;
        }
        else if (c > 0)
        {
            missing++;
            j++;
        }
        else
        {
            uint64      row = stored.items[i].row;
            bool        listed_row = landmark_row_ids_contain(&listed, row);
            bool        visible = landmark_row_ids_contain(&hs.visible, row);

            if (!listed_row || visible || !heap_slot_in_use(heap, row))
                orphaned++;
            i++;
        }
    }
    if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "afp_index_check must return a record");
    values[0] = Int64GetDatum((int64) hs.visible.n);
    values[1] = Int64GetDatum((int64) stored.n);
    values[2] = Int64GetDatum(missing);
    values[3] = Int64GetDatum(orphaned);
    MemoryContextDelete(hs.tuple_cxt);
    index_close(index, AccessShareLock);
    table_close(heap, heap_lock);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
