/*
 * landmarkscan.c — ORDER BY fp <~> query on an afp_landmark index: the glue
 * drives the core's search (plan -> fetch postings -> vote -> rank) and hands
 * the executor the ranked rows' TIDs; the executor checks their visibility.
 *
 * Buffer locks are held only while postings are copied out of a page; the core
 * is called with no lock held.
 */
#include "landmark.h"

#include "access/relscan.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/float.h"

typedef struct LandmarkScanOpaqueData
{
    AfpSearch  *search;             /* owned; freed at endscan, rescan or context reset */
    MemoryContextCallback free_search;
    bool        voted;
    const AfpRankedRow *ranked;     /* inside search */
    uint32      nranked;
    uint32      next;
} LandmarkScanOpaqueData;

typedef LandmarkScanOpaqueData *LandmarkScanOpaque;

/* Frees the core search: at endscan, rescan, and when an error resets the scan's context. */
static void
release_search(void *arg)
{
    LandmarkScanOpaque so = (LandmarkScanOpaque) arg;

    afp_core_search_free(so->search);
    so->search = NULL;
    so->ranked = NULL;
    so->nranked = 0;
}

IndexScanDesc
landmark_beginscan(Relation index, int nkeys, int norderbys)
{
    IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
    LandmarkScanOpaque so = palloc0(sizeof(LandmarkScanOpaqueData));

    so->free_search.func = release_search;
    so->free_search.arg = so;
    MemoryContextRegisterResetCallback(CurrentMemoryContext, &so->free_search);
    scan->opaque = so;
    scan->xs_orderbyvals = palloc0(sizeof(Datum) * Max(norderbys, 1));
    scan->xs_orderbynulls = palloc(sizeof(bool) * Max(norderbys, 1));
    return scan;
}

void
landmark_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
    LandmarkScanOpaque so = (LandmarkScanOpaque) scan->opaque;

    release_search(so);
    so->voted = false;
    so->next = 0;
    if (keys && scan->numberOfKeys > 0)
        memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
    if (orderbys && scan->numberOfOrderBys > 0)
        memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
}

/* Postings copied out of pages for one core call. */
typedef struct PostingBatch
{
    uint64     *rows;
    uint32     *frames;
    int32      *hash_index;     /* pending postings only: the hash each belongs to */
    Size        n;
    Size        capacity;
} PostingBatch;

static void
batch_reserve(PostingBatch *b, Size need)
{
    if (need <= b->capacity)
        return;
    b->capacity = Max(need, b->capacity * 2);
    if (b->rows == NULL)
    {
        b->rows = palloc_extended(b->capacity * sizeof(uint64), MCXT_ALLOC_HUGE);
        b->frames = palloc_extended(b->capacity * sizeof(uint32), MCXT_ALLOC_HUGE);
        b->hash_index = palloc_extended(b->capacity * sizeof(int32), MCXT_ALLOC_HUGE);
    }
    else
    {
        b->rows = repalloc_huge(b->rows, b->capacity * sizeof(uint64));
        b->frames = repalloc_huge(b->frames, b->capacity * sizeof(uint32));
        b->hash_index = repalloc_huge(b->hash_index, b->capacity * sizeof(int32));
    }
}

/* A data page kept pinned (not locked) between reads, for hashes that share it. */
typedef struct PageCursor
{
    Buffer      buf;
    BlockNumber blkno;
} PageCursor;

/*
 * Copies the live postings of `hash` among packed postings [first, first + count).
 * The cursor keeps the last page pinned: hashes are read in directory order, so
 * neighbours often share a page and skip the buffer lookup.
 */
static void
read_packed(Relation index, const LandmarkMetaData *meta, int32 hash, uint64 first, uint64 count,
            PostingBatch *b, PageCursor *cur)
{
    uint64      end = first + count;

    b->n = 0;
    batch_reserve(b, count);
    while (first < end)
    {
        BlockNumber blkno = meta->data_start + (BlockNumber) (first / LANDMARK_POSTINGS_PER_PAGE);
        uint32      slot = (uint32) (first % LANDMARK_POSTINGS_PER_PAGE);
        uint32      stop = (uint32) Min(LANDMARK_POSTINGS_PER_PAGE, slot + (end - first));
        const LandmarkPosting *p;

        if (!BufferIsValid(cur->buf) || cur->blkno != blkno)
        {
            if (BufferIsValid(cur->buf))
                ReleaseBuffer(cur->buf);
            cur->buf = ReadBuffer(index, blkno);
            cur->blkno = blkno;
        }
        LockBuffer(cur->buf, BUFFER_LOCK_SHARE);
        p = (const LandmarkPosting *) PageGetContents(BufferGetPage(cur->buf));
        for (uint32 k = slot; k < stop; k++)
        {
            if (p[k].hash != hash || !BlockNumberIsValid(p[k].block))
                continue;
            b->rows[b->n] = landmark_row_id(p[k].block, landmark_posting_offset(&p[k]));
            b->frames[b->n] = landmark_posting_frame(&p[k]);
            b->n++;
        }
        LockBuffer(cur->buf, BUFFER_LOCK_UNLOCK);
        first += stop - slot;
    }
}

/* Reads the pending chain, voting with the postings of planned hashes. */
static void
read_pending(Relation index, BlockNumber blkno, AfpSearch *search, PostingBatch *b)
{
    AfpStatus   status;

    batch_reserve(b, LANDMARK_POSTINGS_PER_PAGE);
    while (BlockNumberIsValid(blkno))
    {
        Buffer      buf = ReadBuffer(index, blkno);
        Page        page;
        const LandmarkPosting *p;
        uint32      n;

        CHECK_FOR_INTERRUPTS();
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        page = BufferGetPage(buf);
        p = (const LandmarkPosting *) PageGetContents(page);
        n = landmark_page_items(page, sizeof(LandmarkPosting));
        b->n = 0;
        for (uint32 k = 0; k < n; k++)
        {
            int64       hi;

            if (!BlockNumberIsValid(p[k].block))
                continue;
            hi = afp_core_search_planned_index(search, p[k].hash);
            if (hi < 0)
                continue;
            b->rows[b->n] = landmark_row_id(p[k].block, landmark_posting_offset(&p[k]));
            b->frames[b->n] = landmark_posting_frame(&p[k]);
            b->hash_index[b->n] = (int32) hi;
            b->n++;
        }
        blkno = LandmarkPageGetOpaque(page)->next;
        UnlockReleaseBuffer(buf);
        for (Size k = 0; k < b->n; k++)
            if (!afp_core_search_add(search, (uint32) b->hash_index[k], &b->rows[k], &b->frames[k], 1, &status))
                afp_raise(&status);
    }
}

typedef struct BucketRef
{
    uint32      bucket;
    uint32      hash_index;
} BucketRef;

/*
 * The directory entries a shard read for its coordinator's estimates
 * (landmark_estimates_at), kept for the index vote the coordinator asks for
 * next (afp_shard_rank, in the same backend: PL/Proxy keeps its connections):
 * every probe hash's bucket start and count, so that the vote does not read the
 * same directory pages again (they were half of a shard's work in the renditions
 * round). Valid for one index file and directory size: a build makes a new file,
 * and nothing else moves the directory. Empty in a backend that serves no
 * coordinator.
 */
typedef struct DirectoryEntry
{
    int32       hash;
    uint64      start;
    uint64      count;
} DirectoryEntry;

static struct
{
    Oid         file;
    Oid         index;
    bool        sorted;
    uint32      dir_bits;
    DirectoryEntry *entries;    /* sorted by hash, in TopMemoryContext */
    uint32      n;
    uint32      capacity;
} directory_cache;

static int
compare_directory_entries(const void *a, const void *b)
{
    int32       x = ((const DirectoryEntry *) a)->hash;
    int32       y = ((const DirectoryEntry *) b)->hash;

    return x < y ? -1 : x > y ? 1 : 0;
}

/* Forgets the kept entries and starts keeping those of this index. */
static void
directory_cache_reset(Relation index, uint32 dir_bits)
{
    directory_cache.n = 0;
    directory_cache.index = RelationGetRelid(index);
    directory_cache.file = AFP_RELATION_FILE(index);
    directory_cache.dir_bits = dir_bits;
}

static void
directory_cache_add(int32 hash, uint64 start, uint64 count)
{
    if (directory_cache.n == directory_cache.capacity)
    {
        uint32      capacity = Max(1024, directory_cache.capacity * 2);

        directory_cache.entries = directory_cache.entries == NULL
            ? MemoryContextAlloc(TopMemoryContext, capacity * sizeof(DirectoryEntry))
            : repalloc(directory_cache.entries, capacity * sizeof(DirectoryEntry));
        directory_cache.capacity = capacity;
    }
    directory_cache.entries[directory_cache.n++] = (DirectoryEntry) {hash, start, count};
    directory_cache.sorted = false;
}

/* The kept entry of a hash of this index, or NULL. */
static const DirectoryEntry *
directory_cache_find(Relation index, const LandmarkMetaData *meta, int32 hash)
{
    DirectoryEntry key = {hash, 0, 0};

    if (directory_cache.n == 0 || directory_cache.index != RelationGetRelid(index) ||
        directory_cache.file != AFP_RELATION_FILE(index) || directory_cache.dir_bits != meta->dir_bits)
        return NULL;
    if (!directory_cache.sorted)
    {
        qsort(directory_cache.entries, directory_cache.n, sizeof(DirectoryEntry), compare_directory_entries);
        directory_cache.sorted = true;
    }
    return bsearch(&key, directory_cache.entries, directory_cache.n, sizeof(DirectoryEntry),
                   compare_directory_entries);
}

static int
compare_bucket_refs(const void *a, const void *b)
{
    uint32      x = ((const BucketRef *) a)->bucket;
    uint32      y = ((const BucketRef *) b)->bucket;

    return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Directory entries read in ascending order with one page pinned and share-locked
 * at a time: a bucket's postings run from its entry to the next one's, which is on
 * the next page for the last slot of a page.
 */
typedef struct DirectoryWalk
{
    Relation    index;
    const LandmarkMetaData *meta;
    BlockNumber held;
    Buffer      buf;
    const uint64 *entries;
} DirectoryWalk;

static uint64
directory_walk_entry(DirectoryWalk *w, uint64 entry)
{
    BlockNumber page = w->meta->dir_start + (BlockNumber) (entry / LANDMARK_DIR_ENTRIES_PER_PAGE);

    if (page != w->held)
    {
        if (BufferIsValid(w->buf))
            UnlockReleaseBuffer(w->buf);
        w->buf = ReadBuffer(w->index, page);
        LockBuffer(w->buf, BUFFER_LOCK_SHARE);
        w->entries = (const uint64 *) PageGetContents(BufferGetPage(w->buf));
        w->held = page;
    }
    return w->entries[entry % LANDMARK_DIR_ENTRIES_PER_PAGE];
}

static void
directory_walk_end(DirectoryWalk *w)
{
    if (BufferIsValid(w->buf))
        UnlockReleaseBuffer(w->buf);
    w->buf = InvalidBuffer;
    w->held = InvalidBlockNumber;
}

/* The hashes' BucketRefs at dir_bits, in bucket order (the order their postings lie in). */
static BucketRef *
bucket_refs(const int32 *hashes, uint32 nhashes, uint32 dir_bits)
{
    BucketRef  *refs = palloc(sizeof(BucketRef) * Max(nhashes, 1));

    for (uint32 i = 0; i < nhashes; i++)
    {
        refs[i].bucket = landmark_bucket(hashes[i], dir_bits);
        refs[i].hash_index = i;
    }
    qsort(refs, nhashes, sizeof(BucketRef), compare_bucket_refs);
    return refs;
}

/*
 * The first posting and the posting count of each hash's bucket (entries a shard
 * kept for its coordinator are not read again). Returns the hashes in bucket
 * order, which is also the order of their postings.
 */
static BucketRef *
read_directory(Relation index, const LandmarkMetaData *meta, const int32 *hashes, uint32 nhashes,
               uint64 *starts, uint64 *estimates)
{
    BucketRef  *refs = bucket_refs(hashes, nhashes, meta->dir_bits);
    DirectoryWalk walk = {index, meta, InvalidBlockNumber, InvalidBuffer, NULL};

    for (uint32 k = 0; k < nhashes; k++)
    {
        uint32      i = refs[k].hash_index;
        const DirectoryEntry *kept = directory_cache_find(index, meta, hashes[i]);

        if (kept != NULL)
        {
            starts[i] = kept->start;
            estimates[i] = kept->count;
            continue;
        }
        starts[i] = directory_walk_entry(&walk, refs[k].bucket);
        estimates[i] = directory_walk_entry(&walk, (uint64) refs[k].bucket + 1) - starts[i];
    }
    directory_walk_end(&walk);
    return refs;
}

/*
 * What the directory says each hash costs, in buckets of `bits` bits when that
 * is coarser than the index's own (a coarse bucket is a run of fine ones: bucket
 * numbers are the top bits of the same mix), else in its own. Counts the packed
 * postings only, as the search's plan does. Returns the bits the counts are at.
 * Shards of a catalogue answer a coordinator at the bits of the coarsest shard,
 * so that their counts add up to those of one index with that directory. The
 * entries read are kept for the next index vote (directory_cache); keep_going
 * adds to those of the previous call instead of starting afresh.
 */
uint32
landmark_estimates_at(Relation index, const int32 *hashes, uint32 nhashes, uint32 bits, bool keep_going,
                      uint64 *estimates)
{
    LandmarkMetaData meta;
    uint32      shift;
    BucketRef  *refs;
    DirectoryWalk walk = {index, &meta, InvalidBlockNumber, InvalidBuffer, NULL};

    landmark_read_meta(index, &meta);
    bits = Min(bits, meta.dir_bits);
    shift = meta.dir_bits - bits;
    /* At the index's own bits an estimate is what the vote reads too: keep it for the vote. */
    if (!keep_going)
        directory_cache_reset(index, meta.dir_bits);
    refs = bucket_refs(hashes, nhashes, bits);
    for (uint32 k = 0; k < nhashes; k++)
    {
        uint32      i = refs[k].hash_index;
        uint64      start;
        uint64      end;

        if (k % 256 == 0)
        {
            /* Not while a directory page is locked: interrupts wait for the lock anyway. */
            directory_walk_end(&walk);
            CHECK_FOR_INTERRUPTS();
        }
        start = directory_walk_entry(&walk, (uint64) refs[k].bucket << shift);
        end = directory_walk_entry(&walk, ((uint64) refs[k].bucket + 1) << shift);
        estimates[i] = end - start;
        if (shift == 0)
            directory_cache_add(hashes[i], start, end - start);
    }
    directory_walk_end(&walk);
    pfree(refs);
    return bits;
}

/* The vote: plan with the directory's counts, read the planned hashes' postings, rank. */
static void
vote(IndexScanDesc scan, LandmarkScanOpaque so)
{
    Relation    index = scan->indexRelation;
    ScanKey     key = &scan->orderByData[0];
    AfpDatum   *query;
    LandmarkMetaData meta;
    AfpStatus   status;
    const int32 *hashes;
    uint32      nhashes;
    uint64     *estimates;
    uint64     *starts;
    const uint32 *order;
    uint32      nplanned;
    PostingBatch batch = {0};
    PageCursor  cursor = {InvalidBuffer, InvalidBlockNumber};
    BucketRef  *by_bucket;
    bool       *planned;

    so->voted = true;
    if (scan->numberOfOrderBys < 1 || (key->sk_flags & SK_ISNULL))
        return;
    query = afp_detoast(key->sk_argument);
    /* The plan sorts and looks up every query hash: a crafted 1 M-hash query cost 4.4 s. */
    afp_check_query_landmarks(query);
    landmark_read_meta(index, &meta);

    so->search = afp_core_search_new(&query->header, (uint64) afp_index_max_postings,
                                     (uint32) afp_index_min_votes, &status);
    if (so->search == NULL)
        afp_raise(&status);
    nhashes = afp_core_search_hashes(so->search, &hashes);
    estimates = palloc(sizeof(uint64) * Max(nhashes, 1));
    starts = palloc(sizeof(uint64) * Max(nhashes, 1));
    by_bucket = read_directory(index, &meta, hashes, nhashes, starts, estimates);
    if (!afp_core_search_plan(so->search, estimates, &order, &nplanned, &status))
        afp_raise(&status);
    /* The planned hashes in directory order, where neighbours share pages (the vote does not depend on the order). */
    planned = palloc0(sizeof(bool) * Max(nhashes, 1));
    for (uint32 k = 0; k < nplanned; k++)
        planned[order[k]] = true;
    for (uint32 k = 0; k < nhashes; k++)
    {
        uint32      i = by_bucket[k].hash_index;

        if (k % 64 == 0)
            CHECK_FOR_INTERRUPTS();
        if (!planned[i] || estimates[i] == 0)
            continue;
        read_packed(index, &meta, hashes[i], starts[i], estimates[i], &batch, &cursor);
        if (batch.n > 0 &&
            !afp_core_search_add(so->search, i, batch.rows, batch.frames, batch.n, &status))
            afp_raise(&status);
    }
    if (BufferIsValid(cursor.buf))
        ReleaseBuffer(cursor.buf);
    pfree(by_bucket);
    pfree(planned);
    read_pending(index, meta.pending_head, so->search, &batch);
    if (!afp_core_search_rank(so->search, &so->ranked, &so->nranked, &status))
        afp_raise(&status);
    elog(DEBUG1, "afp_landmark \"%s\": %u of %u query hashes planned, %llu postings read, %u rows ranked",
         RelationGetRelationName(index), nplanned, nhashes,
         (unsigned long long) afp_core_search_postings_read(so->search), so->nranked);
    pfree(estimates);
    pfree(starts);
    if (batch.rows)
    {
        pfree(batch.rows);
        pfree(batch.frames);
        pfree(batch.hash_index);
    }
    if ((Pointer) query != DatumGetPointer(key->sk_argument))
        pfree(query);
}

bool
landmark_gettuple(IndexScanDesc scan, ScanDirection dir)
{
    LandmarkScanOpaque so = (LandmarkScanOpaque) scan->opaque;
    const AfpRankedRow *r;

    if (!so->voted)
        vote(scan, so);
    if (so->next >= so->nranked)
        return false;
    r = &so->ranked[so->next++];
    landmark_row_tid(r->row, &scan->xs_heaptid);
    scan->xs_recheck = false;
    scan->xs_recheckorderby = false;
    /* The index's distance: fewer votes is farther. Approximate, like pgvector's indexes. */
    scan->xs_orderbyvals[0] = Float8GetDatum(-(double) r->votes);
    scan->xs_orderbynulls[0] = false;
    return true;
}

void
landmark_endscan(IndexScanDesc scan)
{
    LandmarkScanOpaque so = (LandmarkScanOpaque) scan->opaque;

    release_search(so);
}
