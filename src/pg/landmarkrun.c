/*
 * landmarkrun.c — the runs of an afp_landmark index: writing one from postings
 * in key order, looking up a hash's postings in one, and reading one in order.
 *
 * A run's data is a byte stream on chained data pages, bucket after bucket in
 * bucket order (the top dir_bits bits of the mixed hash). A bucket is
 *
 *   varint nhashes
 *   nhashes x (varint mix delta, varint postings, varint bytes)   mixes ascending; the first
 *                                                                 delta is from the bucket's base
 *   the postings of each hash in turn: per posting varint row delta (the first: the row id), then
 *   varint frame, or, when the row repeats, varint frame delta
 *
 * so a lookup reads the header of one bucket and gets the exact count of its hash (the
 * statistic the search plans with) and where its postings are. The directory, contiguous pages
 * written after the data, gives each bucket's first byte as (block, offset). Postings average
 * about 4-5 bytes at 1,000 h of audio instead of 12.
 */
#include "landmark.h"

#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"

/* ---------- varints (LEB128, unsigned) ---------- */

typedef struct ByteBuf
{
    uint8      *data;
    Size        len;
    Size        capacity;
} ByteBuf;

static void
buf_reserve(ByteBuf *b, Size more)
{
    if (b->len + more <= b->capacity)
        return;
    b->capacity = Max(b->len + more, Max(b->capacity * 2, 256));
    b->data = b->data == NULL ? palloc_extended(b->capacity, MCXT_ALLOC_HUGE)
        : repalloc_huge(b->data, b->capacity);
}

static inline void
buf_varint(ByteBuf *b, uint64 v)
{
    buf_reserve(b, 10);
    while (v >= 0x80)
    {
        b->data[b->len++] = (uint8) (v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (uint8) v;
}

/* ---------- the writer ---------- */

struct LandmarkRunWriter
{
    Relation    index;
    bool        building;       /* a new index: pages are extended, logged once by the build */
    uint32      generation;
    uint32      dir_bits;
    LandmarkDirEntry *dir;
    uint64      nbuckets;           /* the directory's entries */
    uint32      dir_base;           /* the bucket of entry 0 */
    uint32      mix_lo;
    uint32      mix_hi;

    /* the data page being filled */
    PGAlignedBlock page;
    uint32      used;
    BlockNumber blkno;
    BlockNumber head;
    BlockNumber data_pages;
    uint64      bytes;
    uint64      postings;

    /* the bucket being gathered */
    int64       bucket;
    ByteBuf     header;
    ByteBuf     body;
    uint32      nhashes;
    uint32      prev_mix;

    /* free pages to take first, lowest first (a full merge's: see landmark_merge) */
    BlockNumber *prefer;
    Size        nprefer;
    Size        next_prefer;

    /* the hash being gathered */
    bool        have_hash;
    uint32      mix;
    uint64      count;
    Size        body_start;
    uint64      last_row;
    uint32      last_frame;
};

/*
 * Pages the writer takes first, in the order given (checked free as it takes
 * them), before the free space map's choice and new pages. A full merge gives the
 * lowest free pages, so the index's tail frees up and VACUUM can truncate it.
 */
void
landmark_run_writer_use_pages(LandmarkRunWriter *w, BlockNumber *blocks, Size n)
{
    w->prefer = blocks;
    w->nprefer = n;
    w->next_prefer = 0;
}

/* The directory size for a number of postings: about LANDMARK_POSTINGS_PER_BUCKET per bucket. */
uint32
landmark_dir_bits_for(uint64 postings)
{
    uint32      bits = LANDMARK_MIN_DIR_BITS;

    while (bits < LANDMARK_MAX_DIR_BITS && ((uint64) 1 << bits) * LANDMARK_POSTINGS_PER_BUCKET < postings)
        bits++;
    return bits;
}

/*
 * Starts a run of at most max_postings postings, all with mixes in [mix_lo, mix_hi]
 * (the whole space, or a slice of it whose bounds are multiples of 2^29). Its
 * directory covers the slice's buckets only, sized as a whole-space directory for
 * the postings spread over the whole space would be.
 */
LandmarkRunWriter *
landmark_run_writer_begin(Relation index, uint64 max_postings, uint32 generation, bool building, int dir_bits,
                          uint32 mix_lo, uint32 mix_hi)
{
    LandmarkRunWriter *w = palloc0(sizeof(LandmarkRunWriter));
    uint64      span = (uint64) mix_hi - mix_lo + 1;
    uint32      shift;

    w->index = index;
    w->building = building;
    w->generation = generation;
    w->dir_bits = dir_bits > 0 ? (uint32) dir_bits
        : landmark_dir_bits_for((uint64) ((double) max_postings * ((double) ((uint64) 1 << 32) / (double) span)));
    shift = 32 - w->dir_bits;
    w->mix_lo = mix_lo;
    w->mix_hi = mix_hi;
    w->dir_base = mix_lo >> shift;
    w->nbuckets = (uint64) (mix_hi >> shift) - w->dir_base + 1;
    w->dir = palloc_extended(w->nbuckets * sizeof(LandmarkDirEntry), MCXT_ALLOC_HUGE);
    for (uint64 b = 0; b < w->nbuckets; b++)
    {
        w->dir[b].block = InvalidBlockNumber;
        w->dir[b].offset = 0;
        w->dir[b].unused = 0;
    }
    w->blkno = InvalidBlockNumber;
    w->head = InvalidBlockNumber;
    w->bucket = -1;
    return w;
}

/* A page for the next data page of the run: a free one (claimed at once), else a new one at the end. */
static BlockNumber
allocate_page(LandmarkRunWriter *w)
{
    Buffer      buf;
    BlockNumber blkno;
    LandmarkMetaData meta;

    if (w->building)
    {
        buf = ReadBufferExtended(w->index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
        blkno = BufferGetBlockNumber(buf);
        ReleaseBuffer(buf);
        return blkno;
    }
    /* The meta page is read before any page is locked: see landmark_take_free_page. */
    landmark_read_meta(w->index, &meta);
    buf = InvalidBuffer;
    while (!BufferIsValid(buf) && w->next_prefer < w->nprefer)
        buf = landmark_take_page(w->index, w->prefer[w->next_prefer++], &meta);
    if (!BufferIsValid(buf))
        buf = landmark_take_free_page(w->index, &meta);
    if (BufferIsValid(buf))
    {
        /*
         * Claimed: marked as this run's before the lock goes, so no one else takes it. A page
         * that was formatted keeps its bytes (a few-byte WAL record) until the run writes it.
         */
        GenericXLogState *state = GenericXLogStart(w->index);
        Page        page = GenericXLogRegisterBuffer(state, buf, 0);

        if (!landmark_page_is_valid(page, 0))
            landmark_init_page(page, LANDMARK_PAGE_DATA, w->generation);
        LandmarkPageGetOpaque(page)->kind = LANDMARK_PAGE_DATA;
        LandmarkPageGetOpaque(page)->generation = w->generation;
        GenericXLogFinish(state);
    }
    else
    {
        /* Formatted at once (a small WAL record), so that a crash before the run installs leaves a
         * page free_orphans recognises, not an all-zero one it must leave alone. */
        GenericXLogState *state;

        buf = landmark_new_buffer(w->index);
        state = GenericXLogStart(w->index);
        landmark_init_page(GenericXLogRegisterBuffer(state, buf, 0), LANDMARK_PAGE_DATA, w->generation);
        GenericXLogFinish(state);
    }
    blkno = BufferGetBlockNumber(buf);
    UnlockReleaseBuffer(buf);
    return blkno;
}

/* Writes a page image to its block: logged once later by a build, else through generic WAL. */
static void
write_page_image(Relation index, BlockNumber blkno, Page image, bool building)
{
    Buffer      buf = ReadBuffer(index, blkno);

    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    if (building)
    {
        memcpy(BufferGetPage(buf), image, BLCKSZ);
        MarkBufferDirty(buf);
    }
    else
    {
        GenericXLogState *state = GenericXLogStart(index);
        Page        page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);

        memcpy(page, image, BLCKSZ);
        GenericXLogFinish(state);
    }
    UnlockReleaseBuffer(buf);
}

static void
flush_page(LandmarkRunWriter *w, BlockNumber next)
{
    LandmarkPageGetOpaque(w->page.data)->next = next;
    ((PageHeader) w->page.data)->pd_lower = (LocationIndex) (MAXALIGN(SizeOfPageHeaderData) + w->used);
    write_page_image(w->index, w->blkno, w->page.data, w->building);
}

/* Moves to a new data page: the first one, or the next once the current one is full. */
static void
next_page(LandmarkRunWriter *w)
{
    BlockNumber fresh = allocate_page(w);

    if (BlockNumberIsValid(w->blkno))
        flush_page(w, fresh);
    else
        w->head = fresh;
    w->blkno = fresh;
    landmark_init_page(w->page.data, LANDMARK_PAGE_DATA, w->generation);
    w->used = 0;
    w->data_pages++;
    /* VACUUM's cost-based delay (a no-op outside VACUUM); also where a merge is cancelled. */
    vacuum_delay_point();
    CHECK_FOR_INTERRUPTS();
}

static void
emit_bytes(LandmarkRunWriter *w, const uint8 *data, Size n)
{
    while (n > 0)
    {
        Size        k;

        if (w->used == LANDMARK_PAGE_SPACE)
            next_page(w);
        k = Min(n, LANDMARK_PAGE_SPACE - w->used);
        memcpy(PageGetContents(w->page.data) + w->used, data, k);
        w->used += (uint32) k;
        w->bytes += k;
        data += k;
        n -= k;
    }
}

static void
close_hash(LandmarkRunWriter *w)
{
    uint32      base;

    if (!w->have_hash)
        return;
    base = w->nhashes == 0 ? (uint32) ((uint64) w->bucket << (32 - w->dir_bits)) : w->prev_mix;
    buf_varint(&w->header, (uint64) (w->mix - base));
    buf_varint(&w->header, w->count);
    buf_varint(&w->header, (uint64) (w->body.len - w->body_start));
    w->prev_mix = w->mix;
    w->nhashes++;
    w->have_hash = false;
}

static void
close_bucket(LandmarkRunWriter *w)
{
    ByteBuf     count = {0};

    close_hash(w);
    if (w->nhashes == 0)
        return;
    if (!BlockNumberIsValid(w->blkno) || w->used == LANDMARK_PAGE_SPACE)
        next_page(w);
    w->dir[w->bucket - w->dir_base].block = w->blkno;
    w->dir[w->bucket - w->dir_base].offset = (uint16) w->used;
    buf_varint(&count, w->nhashes);
    emit_bytes(w, count.data, count.len);
    emit_bytes(w, w->header.data, w->header.len);
    emit_bytes(w, w->body.data, w->body.len);
    pfree(count.data);
    w->header.len = 0;
    w->body.len = 0;
    w->nhashes = 0;
}

/* Adds a posting; postings come in key order (landmark_key_cmp). */
void
landmark_run_writer_add(LandmarkRunWriter *w, const LandmarkKey *key)
{
    int64       bucket = key->mix >> (32 - w->dir_bits);

    if (key->mix < w->mix_lo || key->mix > w->mix_hi)
        elog(ERROR, "afp_landmark run written outside its range");
    if (w->have_hash && key->mix != w->mix)
        close_hash(w);
    if (bucket != w->bucket)
    {
        if (w->bucket > bucket)
            elog(ERROR, "afp_landmark run written out of order");
        close_bucket(w);
        w->bucket = bucket;
    }
    if (!w->have_hash)
    {
        w->have_hash = true;
        w->mix = key->mix;
        w->count = 0;
        w->body_start = w->body.len;
        buf_varint(&w->body, key->row);
        buf_varint(&w->body, key->frame);
    }
    else if (key->row == w->last_row)
    {
        buf_varint(&w->body, 0);
        buf_varint(&w->body, key->frame - w->last_frame);
    }
    else
    {
        buf_varint(&w->body, key->row - w->last_row);
        buf_varint(&w->body, key->frame);
    }
    w->last_row = key->row;
    w->last_frame = key->frame;
    w->count++;
    w->postings++;
}

/* Writes a page of items of the run (a directory or map page) on a page of its own. */
static BlockNumber
write_items_page(LandmarkRunWriter *w, uint16 kind, const void *items, Size bytes)
{
    PGAlignedBlock image;
    BlockNumber blkno = allocate_page(w);

    landmark_init_page(image.data, kind, w->generation);
    memcpy(PageGetContents(image.data), items, bytes);
    ((PageHeader) image.data)->pd_lower += (LocationIndex) bytes;
    write_page_image(w->index, blkno, image.data, w->building);
    return blkno;
}

/* Writes the last data page, the directory and its map; fills *run. The writer is freed. */
void
landmark_run_writer_finish(LandmarkRunWriter *w, LandmarkRun *run)
{
    BlockNumber npages;
    BlockNumber *blocks;

    close_bucket(w);
    if (BlockNumberIsValid(w->blkno))
        flush_page(w, InvalidBlockNumber);

    memset(run, 0, sizeof(*run));
    npages = (BlockNumber) ((w->nbuckets + LANDMARK_DIR_ENTRIES_PER_PAGE - 1) / LANDMARK_DIR_ENTRIES_PER_PAGE);
    if (npages > (uint64) LANDMARK_DIR_MAPS * LANDMARK_DIRMAP_ENTRIES)
        elog(ERROR, "afp_landmark directory of %u pages does not fit its map", npages);
    blocks = palloc(sizeof(BlockNumber) * npages);
    for (BlockNumber i = 0; i < npages; i++)
    {
        uint64      from = (uint64) i * LANDMARK_DIR_ENTRIES_PER_PAGE;
        uint64      k = Min(w->nbuckets - from, LANDMARK_DIR_ENTRIES_PER_PAGE);

        blocks[i] = write_items_page(w, LANDMARK_PAGE_DIRECTORY, &w->dir[from], k * sizeof(LandmarkDirEntry));
        if (i % 64 == 63)
            CHECK_FOR_INTERRUPTS();
    }
    for (BlockNumber m = 0; (uint64) m * LANDMARK_DIRMAP_ENTRIES < npages; m++)
    {
        BlockNumber k = Min(npages - m * LANDMARK_DIRMAP_ENTRIES, LANDMARK_DIRMAP_ENTRIES);

        run->dir_maps[m] = write_items_page(w, LANDMARK_PAGE_DIRMAP, &blocks[m * LANDMARK_DIRMAP_ENTRIES],
                                            k * sizeof(BlockNumber));
    }
    for (BlockNumber m = (npages + LANDMARK_DIRMAP_ENTRIES - 1) / LANDMARK_DIRMAP_ENTRIES; m < LANDMARK_DIR_MAPS; m++)
        run->dir_maps[m] = InvalidBlockNumber;
    pfree(blocks);

    run->generation = w->generation;
    run->dir_bits = w->dir_bits;
    run->dir_base = w->dir_base;
    run->dir_entries = (uint32) w->nbuckets;
    run->mix_lo = w->mix_lo;
    run->mix_hi = w->mix_hi;
    run->dir_pages = npages;
    run->data_head = w->head;
    run->data_pages = w->data_pages;
    run->postings = w->postings;
    run->bytes = w->bytes;

    pfree(w->dir);
    if (w->header.data)
        pfree(w->header.data);
    if (w->body.data)
        pfree(w->body.data);
    pfree(w);
}

/* ---------- reading through the directory ---------- */

void
landmark_run_reader_begin(LandmarkRunReader *r, Relation index, const LandmarkRun *run)
{
    r->index = index;
    r->map_buf = InvalidBuffer;
    r->map_blkno = InvalidBlockNumber;
    r->last_dir_page = InvalidBlockNumber;
    r->last_dir_block = InvalidBlockNumber;
    r->run = run;
    r->nblocks = 0;
    r->dir_buf = InvalidBuffer;
    r->dir_blkno = InvalidBlockNumber;
    r->data_buf = InvalidBuffer;
    r->data_blkno = InvalidBlockNumber;
    r->stale = false;
}

void
landmark_run_reader_end(LandmarkRunReader *r)
{
    if (BufferIsValid(r->dir_buf))
        ReleaseBuffer(r->dir_buf);
    if (BufferIsValid(r->data_buf))
        ReleaseBuffer(r->data_buf);
    if (BufferIsValid(r->map_buf))
        ReleaseBuffer(r->map_buf);
    r->dir_buf = r->data_buf = r->map_buf = InvalidBuffer;
    r->dir_blkno = r->data_blkno = r->map_blkno = InvalidBlockNumber;
    r->last_dir_page = r->last_dir_block = InvalidBlockNumber;
}

/* Pins (keeping the last pin) and share-locks a page of the run; false if it is not the run's. */
static bool
lock_run_page(LandmarkRunReader *r, Buffer *buf, BlockNumber *held, BlockNumber blkno, uint16 kind)
{
    Page        page;

    /* The relation's size is asked of the kernel only when a block is past the last size seen. */
    if (BlockNumberIsValid(blkno) && blkno >= r->nblocks)
        r->nblocks = RelationGetNumberOfBlocks(r->index);
    if (!BlockNumberIsValid(blkno) || blkno == LANDMARK_META_BLKNO || blkno >= r->nblocks)
    {
        r->stale = true;
        return false;
    }
    if (*held != blkno)
    {
        if (BufferIsValid(*buf))
            ReleaseBuffer(*buf);
        *buf = ReadBuffer(r->index, blkno);
        *held = blkno;
    }
    LockBuffer(*buf, BUFFER_LOCK_SHARE);
    page = BufferGetPage(*buf);
    if (!landmark_page_is_valid(page, kind) || LandmarkPageGetOpaque(page)->generation != r->run->generation)
    {
        LockBuffer(*buf, BUFFER_LOCK_UNLOCK);
        r->stale = true;
        return false;
    }
    return true;
}

/*
 * The block of the run's directory page `page`, from its map (kept pinned; the
 * last answer is remembered, as lookups go in bucket order); InvalidBlockNumber,
 * with r->stale, on a foreign page. Copying a whole map page per reader cost a
 * search at 1,000 h ~10% over a built index (a reader per run per rendition).
 */
static BlockNumber
directory_block(LandmarkRunReader *r, BlockNumber page)
{
    uint32      m = page / LANDMARK_DIRMAP_ENTRIES;
    uint32      slot = page % LANDMARK_DIRMAP_ENTRIES;
    BlockNumber blkno = InvalidBlockNumber;

    if (page == r->last_dir_page)
        return r->last_dir_block;
    if (page >= r->run->dir_pages || m >= LANDMARK_DIR_MAPS)
    {
        r->stale = true;
        return InvalidBlockNumber;
    }
    if (!lock_run_page(r, &r->map_buf, &r->map_blkno, r->run->dir_maps[m], LANDMARK_PAGE_DIRMAP))
        return InvalidBlockNumber;
    if (slot < landmark_page_items(BufferGetPage(r->map_buf), sizeof(BlockNumber)))
        blkno = ((const BlockNumber *) PageGetContents(BufferGetPage(r->map_buf)))[slot];
    LockBuffer(r->map_buf, BUFFER_LOCK_UNLOCK);
    if (!BlockNumberIsValid(blkno))
    {
        r->stale = true;
        return InvalidBlockNumber;
    }
    r->last_dir_page = page;
    r->last_dir_block = blkno;
    return blkno;
}

/* Reads the directory entry of bucket b of the run; false (stale) on a foreign page or a bucket it does not cover. */
static bool
directory_entry(LandmarkRunReader *r, uint64 bucket, LandmarkDirEntry *entry)
{
    uint64      b = bucket - r->run->dir_base;
    BlockNumber blkno;
    uint32      slot = (uint32) (b % LANDMARK_DIR_ENTRIES_PER_PAGE);

    if (bucket < r->run->dir_base || b >= r->run->dir_entries)
    {
        r->stale = true;
        return false;
    }
    blkno = directory_block(r, (BlockNumber) (b / LANDMARK_DIR_ENTRIES_PER_PAGE));

    if (!BlockNumberIsValid(blkno) ||
        !lock_run_page(r, &r->dir_buf, &r->dir_blkno, blkno, LANDMARK_PAGE_DIRECTORY))
        return false;
    if (slot >= landmark_page_items(BufferGetPage(r->dir_buf), sizeof(LandmarkDirEntry)))
    {
        LockBuffer(r->dir_buf, BUFFER_LOCK_UNLOCK);
        r->stale = true;
        return false;
    }
    *entry = ((const LandmarkDirEntry *) PageGetContents(BufferGetPage(r->dir_buf)))[slot];
    LockBuffer(r->dir_buf, BUFFER_LOCK_UNLOCK);
    return true;
}

/*
 * A byte cursor over a run's data stream. A lookup keeps the current page
 * share-locked while it reads a few bytes of it; a sequential reader (copy)
 * copies each page and holds no lock between postings.
 */
typedef struct ByteCursor
{
    LandmarkRunReader *r;
    const uint8 *p;
    uint32      avail;
    bool        open;           /* the page is share-locked */
    bool        copy;
    char       *local;          /* copy: BLCKSZ bytes */
    uint64      consumed;       /* bytes read or skipped since opened */
    BlockNumber pages;          /* pages moved to since opened: more than the run has is a loop */
    BlockNumber next;           /* the page after the current one */
} ByteCursor;

static void
cursor_close(ByteCursor *c)
{
    if (c->open)
        LockBuffer(c->r->data_buf, BUFFER_LOCK_UNLOCK);
    c->open = false;
    c->avail = 0;
}

/* Positions the cursor at a byte of a data page; false (stale) if the page is not the run's. */
static bool
cursor_seek(ByteCursor *c, BlockNumber blkno, uint32 offset)
{
    LandmarkRunReader *r = c->r;
    Page        page;
    uint32      bytes;

    cursor_close(c);
    if (!lock_run_page(r, &r->data_buf, &r->data_blkno, blkno, LANDMARK_PAGE_DATA))
        return false;
    page = BufferGetPage(r->data_buf);
    bytes = landmark_page_bytes(page);
    if (offset > bytes)
    {
        LockBuffer(r->data_buf, BUFFER_LOCK_UNLOCK);
        r->stale = true;
        return false;
    }
    c->next = LandmarkPageGetOpaque(page)->next;
    c->avail = bytes - offset;
    if (c->copy)
    {
        memcpy(c->local, PageGetContents(page) + offset, c->avail);
        LockBuffer(r->data_buf, BUFFER_LOCK_UNLOCK);
        c->p = (const uint8 *) c->local;
    }
    else
    {
        c->p = (const uint8 *) PageGetContents(page) + offset;
        c->open = true;
    }
    return true;
}

static bool
cursor_open(ByteCursor *c, LandmarkRunReader *r, BlockNumber blkno, uint32 offset)
{
    c->r = r;
    c->open = false;
    c->avail = 0;
    c->consumed = 0;
    c->pages = 0;
    return cursor_seek(c, blkno, offset);
}

/* Moves to the next data page; false (stale) at the end of the chain or on a foreign page. */
static bool
cursor_next_page(ByteCursor *c)
{
    if (!BlockNumberIsValid(c->next) || ++c->pages > c->r->run->data_pages)
    {
        cursor_close(c);
        c->r->stale = true;
        return false;
    }
    if (!cursor_seek(c, c->next, 0))
        return false;
    /* A run's data pages are never empty: one is a damaged or foreign page (and could loop). */
    if (c->avail == 0)
    {
        cursor_close(c);
        c->r->stale = true;
        return false;
    }
    return true;
}

static inline bool
cursor_varint(ByteCursor *c, uint64 *out)
{
    uint64      v = 0;

    for (int shift = 0; shift < 64; shift += 7)
    {
        uint8       byte;

        while (c->avail == 0)
            if (!cursor_next_page(c))
                return false;
        byte = *c->p++;
        c->avail--;
        c->consumed++;
        v |= (uint64) (byte & 0x7F) << shift;
        if ((byte & 0x80) == 0)
        {
            *out = v;
            return true;
        }
    }
    c->r->stale = true;
    return false;
}

static bool
cursor_skip(ByteCursor *c, uint64 n)
{
    while (n > 0)
    {
        uint32      k;

        while (c->avail == 0)
            if (!cursor_next_page(c))
                return false;
        k = (uint32) Min(n, (uint64) c->avail);
        c->p += k;
        c->avail -= k;
        c->consumed += k;
        n -= k;
    }
    return true;
}

/*
 * Decodes count postings at the cursor into rows and frames; returns how many
 * (fewer only when stale).
 */
static uint32
decode_postings(ByteCursor *c, uint64 count, uint64 *rows, uint32 *frames)
{
    uint64      row = 0;
    uint64      frame = 0;
    uint32      n = 0;

    for (; n < count; n++)
    {
        uint64      a;
        uint64      b;

        if (!cursor_varint(c, &a) || !cursor_varint(c, &b))
            break;
        if (n == 0)
        {
            row = a;
            frame = b;
        }
        else if (a == 0)
            frame += b;
        else
        {
            row += a;
            frame = b;
        }
        rows[n] = row;
        frames[n] = (uint32) frame;
    }
    return n;
}

/*
 * Finds a hash in the run: true with *ref set when the run holds postings of it.
 * With rows and frames (room for LANDMARK_DECODE_AT_LOOKUP), a list that short is
 * decoded into them at once (ref->decoded 0; LANDMARK_NOT_DECODED otherwise).
 * On a page that is not the run's (a merge freed and reused it since the caller
 * read the meta page), r->stale is set and false returned.
 */
bool
landmark_run_lookup(LandmarkRunReader *r, int32 hash, LandmarkListRef *ref, uint64 *rows, uint32 *frames)
{
    const LandmarkRun *run = r->run;
    uint32      mix = landmark_mix(hash);
    uint32      bucket = mix >> (32 - run->dir_bits);
    LandmarkDirEntry entry;
    ByteCursor  c = {0};
    uint64      nhashes;
    uint64      before = 0;
    uint32      prev;
    bool        found = false;

    if (mix < run->mix_lo || mix > run->mix_hi)
        return false;

    if (!directory_entry(r, bucket, &entry) || !BlockNumberIsValid(entry.block))
        return false;
    if (!cursor_open(&c, r, entry.block, entry.offset))
        return false;
    prev = (uint32) ((uint64) bucket << (32 - run->dir_bits));
    /* Bounded by the stream's bytes, not by postings: those count only the run's range, and a bucket
     * can straddle its low end. */
    if (!cursor_varint(&c, &nhashes) || nhashes > run->bytes)
        goto stale;
    /* The whole header is read: the postings start after it. */
    for (uint64 j = 0; j < nhashes; j++)
    {
        uint64      delta;
        uint64      count;
        uint64      bytes;

        if (!cursor_varint(&c, &delta) || !cursor_varint(&c, &count) || !cursor_varint(&c, &bytes))
            goto stale;
        prev += (uint32) delta;
        if (found)
            continue;
        if (prev == mix)
        {
            found = true;
            ref->count = count;
            ref->bytes = (uint32) bytes;
        }
        else
            before += bytes;
    }
    if (!found)
    {
        cursor_close(&c);
        return false;
    }
    if (ref->count > run->postings || before + c.consumed > run->bytes)
        goto stale;
    ref->block = entry.block;
    ref->offset = entry.offset;
    ref->skip = (uint32) (c.consumed + before);
    ref->decoded = LANDMARK_NOT_DECODED;
    if (rows != NULL && ref->count <= LANDMARK_DECODE_AT_LOOKUP)
    {
        if (!cursor_skip(&c, before) || decode_postings(&c, ref->count, rows, frames) < ref->count)
            goto stale;
        ref->decoded = 0;
    }
    cursor_close(&c);
    return true;
stale:
    cursor_close(&c);
    r->stale = true;
    return false;
}

/*
 * Decodes a hash's postings (ref from landmark_run_lookup) into rows and frames,
 * which have room for ref->count; returns how many (fewer only when stale).
 */
uint32
landmark_run_read_list(LandmarkRunReader *r, const LandmarkListRef *ref, uint64 *rows, uint32 *frames)
{
    ByteCursor  c = {0};
    uint32      n = 0;

    if (!cursor_open(&c, r, ref->block, ref->offset))
        return 0;
    if (cursor_skip(&c, ref->skip))
        n = decode_postings(&c, ref->count, rows, frames);
    cursor_close(&c);
    if (n < ref->count)
        r->stale = true;
    return n;
}

/* ---------- reading a whole run in order ---------- */

struct LandmarkRunIterator
{
    LandmarkRunReader r;
    LandmarkRun run;
    ByteCursor  c;
    uint64      bucket;         /* the next bucket to open */
    uint64      end;            /* the bucket after the last one to open */
    uint32      mix_lo;         /* postings outside [mix_lo, mix_hi] are skipped */
    uint32      mix_hi;
    /* the open bucket's hashes */
    uint32     *mixes;
    uint64     *counts;
    uint32      nhashes;
    uint32      capacity;
    uint32      hash;           /* the hash being read */
    uint64      left;           /* its postings not yet read */
    uint64      row;
    uint64      frame;
    uint64      read;           /* postings read in all */
};

/* Reads the run's postings with mixes in [mix_lo, mix_hi] (and in the run's range), in key order. */
LandmarkRunIterator *
landmark_run_iterator_begin(Relation index, const LandmarkRun *run, uint32 mix_lo, uint32 mix_hi)
{
    LandmarkRunIterator *it = palloc0(sizeof(LandmarkRunIterator));
    uint32      shift = 32 - run->dir_bits;

    it->run = *run;
    landmark_run_reader_begin(&it->r, index, &it->run);
    it->c.copy = true;
    it->c.local = palloc(BLCKSZ);
    it->mix_lo = Max(mix_lo, run->mix_lo);
    it->mix_hi = Min(mix_hi, run->mix_hi);
    it->bucket = Max((uint64) run->dir_base, (uint64) (it->mix_lo >> shift));
    it->end = Min((uint64) run->dir_base + run->dir_entries, (uint64) (it->mix_hi >> shift) + 1);
    if (it->mix_lo > it->mix_hi)
        it->end = it->bucket;
    return it;
}

static void
iterator_corrupted(LandmarkRunIterator *it)
{
    cursor_close(&it->c);
    ereport(ERROR,
            (errcode(ERRCODE_INDEX_CORRUPTED),
             errmsg("afp_landmark index \"%s\" has a damaged run (generation %u)",
                    RelationGetRelationName(it->r.index), it->run.generation),
             errhint("REINDEX INDEX %s;", quote_identifier(RelationGetRelationName(it->r.index)))));
}

/* Opens the next non-empty bucket; false after the last. */
static bool
iterator_open_bucket(LandmarkRunIterator *it)
{
    while (it->bucket < it->end)
    {
        uint64      b = it->bucket++;
        LandmarkDirEntry entry;
        uint64      nhashes;
        uint32      prev;

        if (b % 4096 == 0)
            CHECK_FOR_INTERRUPTS();
        if (!directory_entry(&it->r, b, &entry))
            iterator_corrupted(it);
        if (!BlockNumberIsValid(entry.block))
            continue;
        if (!cursor_open(&it->c, &it->r, entry.block, entry.offset) ||
            !cursor_varint(&it->c, &nhashes) || nhashes == 0 || nhashes > it->run.bytes ||
            nhashes > PG_UINT32_MAX / sizeof(uint64))
            iterator_corrupted(it);
        if (nhashes > it->capacity)
        {
            it->capacity = (uint32) Max(nhashes, (uint64) it->capacity * 2);
            it->mixes = it->mixes ? repalloc(it->mixes, it->capacity * sizeof(uint32))
                : palloc(it->capacity * sizeof(uint32));
            it->counts = it->counts ? repalloc(it->counts, it->capacity * sizeof(uint64))
                : palloc(it->capacity * sizeof(uint64));
        }
        prev = (uint32) (b << (32 - it->run.dir_bits));
        for (uint64 j = 0; j < nhashes; j++)
        {
            uint64      delta;
            uint64      bytes;

            if (!cursor_varint(&it->c, &delta) || !cursor_varint(&it->c, &it->counts[j]) ||
                !cursor_varint(&it->c, &bytes) || it->counts[j] == 0 || it->counts[j] > it->run.bytes)
                iterator_corrupted(it);
            /* Mixes rise strictly within their bucket: anything else would reach a merge out of order. */
            if ((j > 0 && delta == 0) || delta > PG_UINT32_MAX || (uint64) prev + delta > PG_UINT32_MAX ||
                ((prev + (uint32) delta) >> (32 - it->run.dir_bits)) != b)
                iterator_corrupted(it);
            prev += (uint32) delta;
            it->mixes[j] = prev;
        }
        it->nhashes = (uint32) nhashes;
        it->hash = 0;
        it->left = it->counts[0];
        it->row = 0;
        return true;
    }
    return false;
}

/* The next posting in key order within the iterator's range; false after the last. */
bool
landmark_run_iterator_next(LandmarkRunIterator *it, LandmarkKey *key)
{
    for (;;)
    {
        uint64      a;
        uint64      b;
        bool        first;

        while (it->left == 0)
        {
            if (it->nhashes > 0 && ++it->hash < it->nhashes)
            {
                it->left = it->counts[it->hash];
                continue;
            }
            it->nhashes = 0;
            if (!iterator_open_bucket(it))
            {
                cursor_close(&it->c);
                return false;
            }
        }
        first = it->left == it->counts[it->hash];
        if (!cursor_varint(&it->c, &a) || !cursor_varint(&it->c, &b) ||
            a > LANDMARK_MAX_ROW_ID || b > LANDMARK_MAX_FRAME)
            iterator_corrupted(it);
        if (first)
        {
            it->row = a;
            it->frame = b;
        }
        else if (a == 0)
            it->frame += b;
        else
        {
            it->row += a;
            it->frame = b;
        }
        /* Rows and frames within their bits, so keys keep their order (nothing wraps). */
        if (it->row > LANDMARK_MAX_ROW_ID || it->frame > LANDMARK_MAX_FRAME)
            iterator_corrupted(it);
        it->left--;
        it->read++;
        if (it->mixes[it->hash] < it->mix_lo)
            continue;
        if (it->mixes[it->hash] > it->mix_hi)
        {
            cursor_close(&it->c);
            it->end = it->bucket;
            it->left = 0;
            it->nhashes = 0;
            return false;
        }
        key->mix = it->mixes[it->hash];
        key->row = it->row;
        key->frame = (uint32) it->frame;
        return true;
    }
}

void
landmark_run_iterator_end(LandmarkRunIterator *it)
{
    cursor_close(&it->c);
    landmark_run_reader_end(&it->r);
    if (it->mixes)
        pfree(it->mixes);
    if (it->counts)
        pfree(it->counts);
    pfree(it->c.local);
    pfree(it);
}

/*
 * The postings of the run's largest bucket (headers only are read). With stale
 * NULL the caller keeps merges away (the merge lock), so every page is the run's
 * and one that is not is damage; else *stale says a merge reused one meanwhile.
 */
uint64
landmark_run_largest_bucket(Relation index, const LandmarkRun *run, bool *stale)
{
    LandmarkRunReader r;
    uint64      largest = 0;
    uint32      shift = 32 - run->dir_bits;
    uint64      first = Max((uint64) run->dir_base, (uint64) (run->mix_lo >> shift));
    uint64      end = Min((uint64) run->dir_base + run->dir_entries, (uint64) (run->mix_hi >> shift) + 1);

    /* Only the buckets of the run's range: a full merge frees the pages of those below it. */
    landmark_run_reader_begin(&r, index, run);
    for (uint64 b = first; b < end && !r.stale; b++)
    {
        LandmarkDirEntry entry;
        ByteCursor  c = {0};
        uint64      nhashes;
        uint64      sum = 0;

        if (b % 4096 == 0)
            CHECK_FOR_INTERRUPTS();
        if (!directory_entry(&r, b, &entry))
            break;
        if (!BlockNumberIsValid(entry.block))
            continue;
        if (!cursor_open(&c, &r, entry.block, entry.offset) || !cursor_varint(&c, &nhashes))
            break;
        for (uint64 j = 0; j < nhashes; j++)
        {
            uint64      v[3];

            if (!cursor_varint(&c, &v[0]) || !cursor_varint(&c, &v[1]) || !cursor_varint(&c, &v[2]))
                break;
            sum += v[1];
        }
        cursor_close(&c);
        largest = Max(largest, sum);
    }
    landmark_run_reader_end(&r);
    if (stale != NULL)
        *stale = r.stale;
    else if (r.stale)
        landmark_page_corrupted(index, run->dir_maps[0], "run");
    return largest;
}

/*
 * The data page holding the first byte of the run's first non-empty bucket at or
 * after the bucket of mix, or InvalidBlockNumber when there is none: the pages
 * before it hold only postings of smaller mixes (pages follow the stream). The
 * caller keeps merges away.
 */
BlockNumber
landmark_run_first_page_from(Relation index, const LandmarkRun *run, uint32 mix)
{
    LandmarkRunReader r;
    BlockNumber found = InvalidBlockNumber;
    /* Below the run's range its directory may point at pages freed already: never start there. */
    uint64      first = Max((uint64) run->dir_base, (uint64) (Max(mix, run->mix_lo) >> (32 - run->dir_bits)));

    landmark_run_reader_begin(&r, index, run);
    for (uint64 b = first; b < (uint64) run->dir_base + run->dir_entries; b++)
    {
        LandmarkDirEntry entry;

        if (!directory_entry(&r, b, &entry))
            break;
        if (BlockNumberIsValid(entry.block))
        {
            found = entry.block;
            break;
        }
    }
    landmark_run_reader_end(&r);
    if (r.stale)
        landmark_page_corrupted(index, run->dir_maps[0], "run");
    return found;
}
