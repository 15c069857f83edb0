/*
 * landmarkbuild.c — CREATE INDEX / REINDEX for afp_landmark: one heap scan
 * collecting postings, a bucket sort (in memory, or through 256 temporary
 * files by the top byte of the mixed hash when maintenance_work_mem is
 * exceeded), then the packed area, directory, row pages and meta page are
 * written in order and WAL-logged once.
 */
#include "landmark.h"

#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "miscadmin.h"
#include "storage/buffile.h"
#include "storage/smgr.h"
#include "utils/memutils.h"

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

    /* writing */
    PGAlignedBlock page;        /* the data page being filled */
    uint32      page_items;
    BlockNumber data_pages;
    uint64     *bucket_counts;  /* postings per bucket, then prefix sums: the directory */
    uint32      dir_bits;
} LandmarkBuildState;

/* The mix the buckets use, full width: sorting by it sorts by bucket at any dir_bits. */
static inline uint32
posting_mix(const LandmarkPosting *p)
{
    return landmark_bucket(p->hash, 32);
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
            st->spill[file] = BufFileCreateTemp(false);
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
    landmark_init_page(page, kind);
    memcpy(PageGetContents(page), items, bytes);
    ((PageHeader) page)->pd_lower += (LocationIndex) bytes;
    LandmarkPageGetOpaque(page)->next = next;
    MarkBufferDirty(buf);
    UnlockReleaseBuffer(buf);
    return blkno;
}

/* Adds sorted postings to the packed area, counting them per bucket. */
static void
emit_sorted(LandmarkBuildState *st, const LandmarkPosting *p, Size n)
{
    for (Size i = 0; i < n; i++)
    {
        ((LandmarkPosting *) st->page.data)[st->page_items++] = p[i];
        st->bucket_counts[landmark_bucket(p[i].hash, st->dir_bits)]++;
        if (st->page_items == LANDMARK_POSTINGS_PER_PAGE)
        {
            write_page(st->index, LANDMARK_PAGE_DATA, st->page.data,
                       (Size) st->page_items * sizeof(LandmarkPosting), InvalidBlockNumber);
            st->data_pages++;
            st->page_items = 0;
            CHECK_FOR_INTERRUPTS();
        }
    }
}

/* The directory size for a number of postings: about LANDMARK_POSTINGS_PER_BUCKET per bucket. */
static uint32
directory_bits(uint64 postings)
{
    uint32      bits = LANDMARK_MIN_DIR_BITS;

    while (bits < LANDMARK_MAX_DIR_BITS && ((uint64) 1 << bits) * LANDMARK_POSTINGS_PER_BUCKET < postings)
        bits++;
    return bits;
}

/* Writes the packed area, directory and row pages after the scan; fills *meta. */
static void
write_index(LandmarkBuildState *st, LandmarkMetaData *meta)
{
    uint64      total = st->spilled + st->n;
    uint64      buckets;
    LandmarkPosting *tmp;
    LandmarkOptions *opts = (LandmarkOptions *) st->index->rd_options;

    st->dir_bits = opts != NULL && opts->directory_bits != 0 ? (uint32) opts->directory_bits : directory_bits(total);
    buckets = (uint64) 1 << st->dir_bits;
    st->bucket_counts = palloc_extended((buckets + 1) * sizeof(uint64), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);

    meta->data_start = RelationGetNumberOfBlocks(st->index);
    tmp = palloc_extended(Max(st->capacity, 1) * sizeof(LandmarkPosting), MCXT_ALLOC_HUGE);
    if (st->spilled == 0)
    {
        radix_sort(st->postings, tmp, st->n);
        emit_sorted(st, st->postings, st->n);
    }
    else
    {
        spill(st);
        for (int f = 0; f < LANDMARK_SPILL_FILES; f++)
        {
            Size        got;

            if (st->spill[f] == NULL)
                continue;
            if (BufFileSeek(st->spill[f], 0, 0, SEEK_SET) != 0)
                elog(ERROR, "could not rewind a temporary file of the afp_landmark build");
            /* A file holds 1/256 of the postings on average; one that holds more than the
             * buffer (skewed hashes) grows the buffer, since its buckets must be sorted whole. */
            st->n = 0;
            for (;;)
            {
                if (st->n == st->capacity)
                {
                    st->capacity *= 2;
                    st->postings = repalloc_huge(st->postings, st->capacity * sizeof(LandmarkPosting));
                    tmp = repalloc_huge(tmp, st->capacity * sizeof(LandmarkPosting));
                }
                got = BufFileRead(st->spill[f], &st->postings[st->n],
                                  (st->capacity - st->n) * sizeof(LandmarkPosting));
                if (got == 0)
                    break;
                st->n += got / sizeof(LandmarkPosting);
            }
            BufFileClose(st->spill[f]);
            st->spill[f] = NULL;
            radix_sort(st->postings, tmp, st->n);
            emit_sorted(st, st->postings, st->n);
        }
    }
    if (st->page_items > 0)
    {
        write_page(st->index, LANDMARK_PAGE_DATA, st->page.data,
                   (Size) st->page_items * sizeof(LandmarkPosting), InvalidBlockNumber);
        st->data_pages++;
    }
    pfree(tmp);
    meta->data_pages = st->data_pages;
    meta->packed_postings = total;

    /* Directory: bucket b starts at the sum of the counts before it; entry `buckets` ends the last. */
    {
        uint64      sum = 0;
        uint64      entries = buckets + 1;

        for (uint64 b = 0; b < entries; b++)
        {
            uint64      c = st->bucket_counts[b];

            st->bucket_counts[b] = sum;
            sum += c;
        }
        meta->dir_start = RelationGetNumberOfBlocks(st->index);
        meta->dir_pages = 0;
        for (uint64 first = 0; first < entries; first += LANDMARK_DIR_ENTRIES_PER_PAGE)
        {
            uint64      k = Min(entries - first, LANDMARK_DIR_ENTRIES_PER_PAGE);

            write_page(st->index, LANDMARK_PAGE_DIRECTORY, &st->bucket_counts[first], k * sizeof(uint64),
                       InvalidBlockNumber);
            meta->dir_pages++;
        }
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
    meta->dir_bits = st->dir_bits;
}

/* Fills the meta page (block 0, allocated first) and WAL-logs every page of the index. */
static void
finish_meta(Relation index, const LandmarkMetaData *meta)
{
    Buffer      buf = ReadBuffer(index, LANDMARK_META_BLKNO);
    Page        page;

    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    page = BufferGetPage(buf);
    landmark_init_page(page, LANDMARK_PAGE_META);
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

    table_index_build_scan(heap, index, info, true, true, build_callback, st, NULL);

    memset(&meta, 0, sizeof(meta));
    meta.magic = LANDMARK_MAGIC;
    meta.version = LANDMARK_VERSION;
    meta.pending_head = meta.pending_tail = InvalidBlockNumber;
    write_index(st, &meta);
    finish_meta(index, &meta);

    result = palloc(sizeof(IndexBuildResult));
    result->heap_tuples = st->heap_tuples;
    result->index_tuples = (double) st->nrows;
    MemoryContextDelete(st->tuple_cxt);
    return result;
}

/* The init fork of an unlogged index: an empty index (meta page and a directory of zeros). */
void
landmark_buildempty(Relation index)
{
    PGAlignedBlock meta_page;
    PGAlignedBlock dir_page;
    LandmarkMetaData *meta;
    uint64      entries = ((uint64) 1 << LANDMARK_MIN_DIR_BITS) + 1;

    landmark_init_page(meta_page.data, LANDMARK_PAGE_META);
    meta = LandmarkPageGetMeta(meta_page.data);
    memset(meta, 0, sizeof(*meta));
    meta->magic = LANDMARK_MAGIC;
    meta->version = LANDMARK_VERSION;
    meta->dir_bits = LANDMARK_MIN_DIR_BITS;
    meta->dir_start = 1;
    meta->dir_pages = 1;
    meta->data_start = 2;
    meta->rows_head = meta->rows_tail = InvalidBlockNumber;
    meta->pending_head = meta->pending_tail = InvalidBlockNumber;
    ((PageHeader) meta_page.data)->pd_lower =
        (LocationIndex) (PageGetContents(meta_page.data) + sizeof(LandmarkMetaData) - meta_page.data);

    landmark_init_page(dir_page.data, LANDMARK_PAGE_DIRECTORY);
    memset(PageGetContents(dir_page.data), 0, entries * sizeof(uint64));
    ((PageHeader) dir_page.data)->pd_lower += (LocationIndex) (entries * sizeof(uint64));

    PageSetChecksumInplace(meta_page.data, 0);
    smgrextend(RelationGetSmgr(index), INIT_FORKNUM, 0, meta_page.data, true);
    log_newpage(AFP_SMGR_FILE(RelationGetSmgr(index)), INIT_FORKNUM, 0, meta_page.data, true);
    PageSetChecksumInplace(dir_page.data, 1);
    smgrextend(RelationGetSmgr(index), INIT_FORKNUM, 1, dir_page.data, true);
    log_newpage(AFP_SMGR_FILE(RelationGetSmgr(index)), INIT_FORKNUM, 1, dir_page.data, true);
    smgrimmedsync(RelationGetSmgr(index), INIT_FORKNUM);
}
