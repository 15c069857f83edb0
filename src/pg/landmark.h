/*
 * landmark.h — the afp_landmark index access method: page layout and the
 * functions its files share (landmark*.c, as pgvector's hnsw*.c).
 *
 * The index holds one posting per landmark of every indexed row:
 * hash -> (heap TID, anchor frame). It is a small log-structured merge tree:
 *
 *   block 0          meta page (LandmarkMetaData): the list of runs, the chains, counters
 *   runs             up to LANDMARK_MAX_RUNS immutable sorted runs. A run is a byte stream of
 *                    compressed postings on chained data pages, in buckets by the top dir_bits
 *                    bits of a bijective mix of the hash, and a directory giving each bucket's
 *                    first byte (block, offset), on pages that map pages list. A bucket starts with a
 *                    header listing its hashes with their exact posting counts and byte lengths,
 *                    then each hash's postings, delta-coded (landmarkrun.c).
 *   pending chain    postings inserted since the last merge, 12 bytes each, unsorted; bounded by
 *                    afp.index_pending_limit (an insert past it merges them into a run)
 *   merging chain    a pending chain sealed by a merge that is turning it into a run; scans read
 *                    it like the pending chain until the merge installs the run
 *   flushing chain   a pending chain an insert is turning into a run of its own while a merge runs
 *   row pages        a chain of (TID, landmark count) per indexed row: VACUUM asks about each row
 *                    once instead of once per posting
 *
 * Every page of a run or a chain carries the generation of what it belongs to; the meta page lists
 * the live generations. A merge writes a new run on free pages, installs it on the meta page in
 * one WAL record and frees the pages of its inputs. A scan that read the meta page before that and
 * meets a page whose generation is not the one it expects starts again: readers never wait for a
 * merge, and a merge never waits for readers (landmarkmerge.c).
 *
 * Every page change after the build goes through generic WAL; the build writes pages and logs
 * them once with log_newpage_range, as GIN does.
 */
#ifndef AFP_LANDMARK_H
#define AFP_LANDMARK_H

#include "afp_pg.h"

#include "access/amapi.h"
#include "nodes/execnodes.h"
#include "access/generic_xlog.h"
#include "storage/bufmgr.h"
#include "storage/itemptr.h"
#include "utils/rel.h"

#define LANDMARK_MAGIC          0x41465049  /* "AFPI" */
/* Layout versions: 1 (0.3.0-0.5.0) one packed area of 12-byte postings; 2 (0.6.0) runs. */
#define LANDMARK_VERSION        2
#define LANDMARK_META_BLKNO     0

/* Page kinds, in the special space of every page. */
#define LANDMARK_PAGE_META      1
#define LANDMARK_PAGE_DATA      2
#define LANDMARK_PAGE_DIRECTORY 3
#define LANDMARK_PAGE_ROWS      4
#define LANDMARK_PAGE_PENDING   5
#define LANDMARK_PAGE_DIRMAP    6
#define LANDMARK_PAGE_FREE      7   /* a page of a run still listed, freed by a full merge */

/*
 * Average postings per directory bucket a run aims for. A bucket's header lists its hashes with
 * their counts, so the plan's counts are exact whatever the bucket size; the size trades the
 * directory (8 bytes a bucket: 0.25 byte a posting at 32) against the header bytes a lookup
 * parses past other hashes.
 */
#define LANDMARK_POSTINGS_PER_BUCKET 32
/*
 * Directory size bounds, in bits of bucket number (2^23 buckets: a 64 MB directory, reached at
 * ~270 M postings, ~1,300 h of audio; larger runs get fuller buckets, whose headers still give
 * exact counts).
 */
#define LANDMARK_MIN_DIR_BITS   4
#define LANDMARK_MAX_DIR_BITS   23
/* Map pages of a run's directory: each lists the blocks of up to LANDMARK_DIRMAP_ENTRIES directory pages. */
#define LANDMARK_DIR_MAPS       5
/*
 * Runs an index can hold; merges keep far fewer (landmarkmerge.c). A full merge
 * keeps room in the list for its slices (LANDMARK_MAX_SLICES), and flushes stop
 * when the list is that close to full: with 24, a 1,000 h load at 16 runs left
 * inserts unflushed while autovacuum merged (pending postings peaked at 12 M).
 * The copy that lets a merged index shrink splits runs in parts (compact_tail):
 * a merged 1,000 h index is up to ~57 runs of disjoint ranges, which a search
 * reads one after another (landmarkscan.c). The meta page holds 96 in 7.5 kB (an index of 0.6.0, listing up
 * to 24, reads the same).
 */
#define LANDMARK_MAX_RUNS       96

/* Bits of the anchor frame in a posting: frames of up to 2^21 * 16 ms = 9.3 h. */
#define LANDMARK_FRAME_BITS     21
#define LANDMARK_MAX_FRAME      ((1U << LANDMARK_FRAME_BITS) - 1)
/* Bits of the heap line pointer in a posting (MaxHeapTuplesPerPage is 291 at 8 kB, 1169 at 32 kB). */
#define LANDMARK_OFFSET_BITS    11
/* The largest row id (a heap block and line pointer): larger ones are damage. */
#define LANDMARK_MAX_ROW_ID     ((((uint64) 1) << (32 + LANDMARK_OFFSET_BITS)) - 1)

/* One posting of a chain: 12 bytes. A removed posting has block == InvalidBlockNumber. */
typedef struct LandmarkPosting
{
    int32       hash;
    BlockNumber block;          /* heap block of the row */
    uint32      offset_frame;   /* line pointer << LANDMARK_FRAME_BITS | anchor frame */
} LandmarkPosting;

/* One indexed row; a removed row has an invalid TID. */
typedef struct LandmarkRow
{
    ItemPointerData tid;
    uint16      pad;
    uint32      landmarks;
} LandmarkRow;

/* Where a bucket of a run starts: a data page and a byte offset in its contents; block invalid when empty. */
typedef struct LandmarkDirEntry
{
    BlockNumber block;
    uint16      offset;
    uint16      unused;
} LandmarkDirEntry;

/* Special space of every page. */
typedef struct LandmarkPageOpaqueData
{
    BlockNumber next;           /* next page of a run's data or of a chain */
    uint16      kind;           /* LANDMARK_PAGE_* */
    uint16      unused;
    uint32      generation;     /* of the run or chain the page belongs to; 0 for meta and row pages */
} LandmarkPageOpaqueData;

typedef LandmarkPageOpaqueData *LandmarkPageOpaque;

/*
 * One run, as the meta page lists it. A run answers for the mixes in [mix_lo, mix_hi]: a full
 * merge writes the index in slices of the mix space, one run each, and raises its inputs' mix_lo
 * as it goes (landmarkmerge.c); postings of a run outside its range are not read.
 */
typedef struct LandmarkRun
{
    uint32      generation;
    uint32      dir_bits;           /* a bucket is the top dir_bits bits of the mix */
    uint32      dir_base;           /* the bucket of directory entry 0 */
    uint32      dir_entries;        /* buckets the directory covers */
    uint32      mix_lo;
    uint32      mix_hi;
    BlockNumber dir_pages;          /* directory pages, anywhere: the map pages list them */
    BlockNumber dir_maps[LANDMARK_DIR_MAPS];
    BlockNumber data_head;          /* first data page still in use; the others follow by next */
    BlockNumber data_pages;
    uint32      unused;
    uint64      postings;           /* in [mix_lo, mix_hi] */
    uint64      bytes;              /* of the data stream */
} LandmarkRun;

/* A chain of 12-byte postings (pending or merging). */
typedef struct LandmarkChain
{
    uint32      generation;
    BlockNumber head;               /* InvalidBlockNumber when empty */
    BlockNumber tail;
    BlockNumber pages;
    uint64      postings;           /* removed ones included */
    uint64      mix_lo;             /* postings of smaller mixes are in runs already (a full merge's slices) */
} LandmarkChain;

typedef struct LandmarkMetaData
{
    uint32      magic;
    uint32      version;
    uint32      next_generation;    /* the next run or chain gets this one */
    uint32      merging;            /* generation of a merge's output not yet installed (0: none); a
                                     * merge that died leaves it, and its pages are found and freed */
    BlockNumber rows_head;          /* row chain; tail is where inserts append */
    BlockNumber rows_tail;
    uint64      rows;               /* rows indexed, removed ones excluded */
    uint64      removed_postings;   /* postings VACUUM cleared in chains (gone at the next merge) */
    uint64      merges;             /* runs written since the build, for afp_index_stats */
    LandmarkChain pending;
    LandmarkChain sealed;           /* the merging chain */
    LandmarkChain flushing;         /* a pending chain a flush is turning into a run (during a merge) */
    uint32      flush_output;       /* generation of that run while it is written (0: none) */
    uint32      merge_owned;        /* leading runs a running full merge owns; flushes merge only the others */
    uint32      nruns;
    LandmarkRun runs[LANDMARK_MAX_RUNS];    /* oldest (usually largest) first */
} LandmarkMetaData;

StaticAssertDecl(sizeof(LandmarkMetaData) <= BLCKSZ - MAXALIGN(SizeOfPageHeaderData) -
                 MAXALIGN(sizeof(LandmarkPageOpaqueData)),
                 "the meta page must hold LandmarkMetaData");

#define LANDMARK_PAGE_SPACE \
    (BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(LandmarkPageOpaqueData)))
#define LANDMARK_DIR_ENTRIES_PER_PAGE ((uint32) (LANDMARK_PAGE_SPACE / sizeof(LandmarkDirEntry)))
#define LANDMARK_ROWS_PER_PAGE      ((uint32) (LANDMARK_PAGE_SPACE / sizeof(LandmarkRow)))
#define LANDMARK_DIRMAP_ENTRIES     ((uint32) (LANDMARK_PAGE_SPACE / sizeof(BlockNumber)))

#define LandmarkPageGetOpaque(page) ((LandmarkPageOpaque) PageGetSpecialPointer(page))
#define LandmarkPageGetMeta(page)   ((LandmarkMetaData *) PageGetContents(page))

/* Whether a page looks like a formatted afp_landmark page of the kind (any kind for 0). */
static inline bool
landmark_page_is_valid(Page page, uint16 kind)
{
    PageHeader  ph = (PageHeader) page;

    if (PageIsNew(page) || ph->pd_special != BLCKSZ - MAXALIGN(sizeof(LandmarkPageOpaqueData)) ||
        ph->pd_lower < MAXALIGN(SizeOfPageHeaderData) || ph->pd_lower > ph->pd_special ||
        ph->pd_upper > ph->pd_special || ph->pd_lower > ph->pd_upper)
        return false;
    return kind == 0 || LandmarkPageGetOpaque(page)->kind == kind;
}

/* Bytes of content on a valid page: they run from the page contents to pd_lower. */
static inline uint32
landmark_page_bytes(Page page)
{
    return (uint32) (((PageHeader) page)->pd_lower - MAXALIGN(SizeOfPageHeaderData));
}

/* Items of item_size bytes on a valid page. */
static inline uint32
landmark_page_items(Page page, Size item_size)
{
    return (uint32) (landmark_page_bytes(page) / item_size);
}

/* Packs a heap TID into the core's row id and back (block 32 bits, line pointer 11 bits). */
static inline uint64
landmark_row_id(BlockNumber block, OffsetNumber offset)
{
    return ((uint64) block << LANDMARK_OFFSET_BITS) | offset;
}

static inline void
landmark_row_tid(uint64 row, ItemPointer tid)
{
    ItemPointerSet(tid, (BlockNumber) (row >> LANDMARK_OFFSET_BITS),
                   (OffsetNumber) (row & ((1U << LANDMARK_OFFSET_BITS) - 1)));
}

static inline OffsetNumber
landmark_posting_offset(const LandmarkPosting *p)
{
    return (OffsetNumber) (p->offset_frame >> LANDMARK_FRAME_BITS);
}

static inline uint32
landmark_posting_frame(const LandmarkPosting *p)
{
    return p->offset_frame & LANDMARK_MAX_FRAME;
}

static inline uint64
landmark_posting_row(const LandmarkPosting *p)
{
    return landmark_row_id(p->block, landmark_posting_offset(p));
}

/* A bijective mix of a hash (murmur3's finaliser): buckets are its top bits, runs are sorted by it. */
static inline uint32
landmark_mix(int32 hash)
{
    uint32      h = (uint32) hash;

    h ^= h >> 16;
    h *= 0x85ebca6bU;
    h ^= h >> 13;
    h *= 0xc2b2ae35U;
    h ^= h >> 16;
    return h;
}

/* The inverse of landmark_mix: runs store mixes, delta-coded, and give hashes back. */
static inline int32
landmark_unmix(uint32 h)
{
    h ^= h >> 16;
    h *= 0x7ed1b41dU;           /* inverse of 0xc2b2ae35 mod 2^32 */
    h ^= (h >> 13) ^ (h >> 26);
    h *= 0xa5cb9243U;           /* inverse of 0x85ebca6b mod 2^32 */
    h ^= h >> 16;
    return (int32) h;
}

/* The bucket of a hash in a directory of dir_bits bits. */
static inline uint32
landmark_bucket(int32 hash, uint32 dir_bits)
{
    return dir_bits == 0 ? 0 : landmark_mix(hash) >> (32 - dir_bits);
}

/* A posting as runs order and store them: by mix, then row, then frame. */
typedef struct LandmarkKey
{
    uint32      mix;
    uint32      frame;
    uint64      row;
} LandmarkKey;

static inline int
landmark_key_cmp(const LandmarkKey *a, const LandmarkKey *b)
{
    if (a->mix != b->mix)
        return a->mix < b->mix ? -1 : 1;
    if (a->row != b->row)
        return a->row < b->row ? -1 : 1;
    if (a->frame != b->frame)
        return a->frame < b->frame ? -1 : 1;
    return 0;
}

/* Row ids (landmark_row_id), sorted once filled, for membership tests. */
typedef struct LandmarkRowIds
{
    uint64     *ids;
    Size        n;
    Size        capacity;
} LandmarkRowIds;

/* landmarkutils.c */
extern void landmark_row_ids_add(LandmarkRowIds *set, uint64 id);
extern void landmark_row_ids_sort(LandmarkRowIds *set);
extern bool landmark_row_ids_contain(const LandmarkRowIds *set, uint64 id);
extern void landmark_collect_rows(Relation index, BlockNumber blkno, IndexBulkDeleteCallback callback,
                                  void *cb_state, BufferAccessStrategy strategy, LandmarkRowIds *out);
extern void landmark_init_page(Page page, uint16 kind, uint32 generation);
extern void landmark_read_meta(Relation index, LandmarkMetaData *meta);
extern void landmark_check_meta(Relation index, const LandmarkMetaData *meta);
extern void landmark_page_corrupted(Relation index, BlockNumber blkno, const char *what) pg_attribute_noreturn();
extern void landmark_fill_posting(LandmarkPosting *p, int32 hash, ItemPointer tid, uint32 frame);
extern void landmark_check_fingerprint(Relation index, const AfpDatum *fp);
extern Buffer landmark_new_buffer(Relation index);
extern Buffer landmark_take_free_page(Relation index, const LandmarkMetaData *meta);
extern Buffer landmark_take_page(Relation index, BlockNumber blkno, const LandmarkMetaData *meta);
extern bool landmark_page_is_reusable(Page page, const LandmarkMetaData *meta);
extern bool landmark_generation_live(const LandmarkMetaData *meta, uint32 g, bool count_merging);
extern void landmark_append_postings(Relation index, const AfpDatum *fp, ItemPointer tid);
extern uint64 landmark_index_rows(Relation index);
extern bool landmark_merged(const LandmarkMetaData *meta);

/*
 * landmarkrun.c: writing a run from postings in key order, and reading one.
 * A writer either builds a new index (pages extended and logged once by the build) or writes
 * through generic WAL on free pages (a merge).
 */
typedef struct LandmarkRunWriter LandmarkRunWriter;

extern LandmarkRunWriter *landmark_run_writer_begin(Relation index, uint64 max_postings, uint32 generation,
                                                     bool building, int dir_bits, uint32 mix_lo, uint32 mix_hi);
extern void landmark_run_writer_use_pages(LandmarkRunWriter *w, BlockNumber *blocks, Size n);
extern void landmark_run_writer_add(LandmarkRunWriter *w, const LandmarkKey *key);
extern void landmark_run_writer_finish(LandmarkRunWriter *w, LandmarkRun *run);
extern uint32 landmark_dir_bits_for(uint64 postings);

/* A sequential reader of a run's postings in key order (merges, checks); records the pages it read. */
typedef struct LandmarkRunIterator LandmarkRunIterator;

extern LandmarkRunIterator *landmark_run_iterator_begin(Relation index, const LandmarkRun *run,
                                                         uint32 mix_lo, uint32 mix_hi);
extern bool landmark_run_iterator_next(LandmarkRunIterator *it, LandmarkKey *key);
extern void landmark_run_iterator_end(LandmarkRunIterator *it);

/* Where one hash's postings lie in one run, found through the directory (scans, estimates). */
typedef struct LandmarkListRef
{
    BlockNumber block;          /* the bucket's first page */
    uint32      offset;         /* the bucket's first byte on it */
    uint32      skip;           /* bytes from there to the hash's postings */
    uint32      bytes;          /* of the hash's postings */
    uint64      count;
    uint32      decoded;        /* where the lookup decoded them in the caller's pool; LANDMARK_NOT_DECODED */
} LandmarkListRef;

#define LANDMARK_NOT_DECODED    PG_UINT32_MAX
/*
 * A lookup decodes a list of up to this many postings at once, from the page it
 * has just parsed the bucket header on: the rare hashes a search reads are short,
 * and reading them later would visit each page a second time.
 */
#define LANDMARK_DECODE_AT_LOOKUP 32

/*
 * A scan that met a page reused by a merge since it read the meta page starts
 * again; this many times in a row is damage, not bad luck. A merge installs a
 * run every second or so at most (its slices, the parts of a copy), and a scan
 * takes milliseconds, but on a loaded machine the background merge, inserts
 * and scans share two cores: 8 was reached by searches during a 10,000 h load.
 */
#define LANDMARK_SCAN_ATTEMPTS  64

/* Pages of one run kept pinned between lookups (hashes are looked up in bucket order). */
typedef struct LandmarkRunReader
{
    Relation    index;
    const LandmarkRun *run;
    Buffer      map_buf;        /* the directory map page last read, pinned */
    BlockNumber map_blkno;
    BlockNumber last_dir_page;  /* the directory page last looked up in the map, and its block */
    BlockNumber last_dir_block;
    BlockNumber nblocks;        /* the relation's size when last asked (a caller may set it after begin) */
    Buffer      dir_buf;
    BlockNumber dir_blkno;
    Buffer      data_buf;
    BlockNumber data_blkno;
    bool        stale;          /* met a page not of this run: the caller starts again */
} LandmarkRunReader;

extern void landmark_run_reader_begin(LandmarkRunReader *r, Relation index, const LandmarkRun *run);
extern bool landmark_run_lookup(LandmarkRunReader *r, int32 hash, LandmarkListRef *ref,
                                uint64 *rows, uint32 *frames);
extern uint32 landmark_run_read_list(LandmarkRunReader *r, const LandmarkListRef *ref, uint64 *rows,
                                     uint32 *frames);
extern void landmark_run_reader_end(LandmarkRunReader *r);
extern uint64 landmark_run_largest_bucket(Relation index, const LandmarkRun *run, bool *stale);
extern BlockNumber landmark_run_first_page_from(Relation index, const LandmarkRun *run, uint32 mix);

/* landmarkmerge.c */
extern bool landmark_merge(Relation index, bool everything, bool wait, const LandmarkRowIds *dead,
                           uint64 *merged);
extern void landmark_merge_if_due(Relation index, uint64 pending_bytes);
extern void landmark_merge_background(Relation index, bool last);
extern void landmark_compact(Relation index);
extern bool landmark_flush(Relation index);
extern void landmark_merge_dead(Relation index, const LandmarkRowIds *dead);
extern void landmark_merge_lock(Relation index, bool take);
extern bool landmark_merge_lock_try(Relation index);
extern Size landmark_pending_limit(Relation index);
extern void landmark_read_chain(Relation index, const LandmarkChain *chain, LandmarkPosting **out, Size *n,
                                Size *capacity, bool *stale, BlockNumber **pages, Size *npages);

/* landmarkworker.c */
extern bool afp_index_background_merge;
extern void landmark_request_background_merge(Relation index);

/* The search's statistics (landmarkscan.c): exact postings per hash, every run and chain counted. */
extern void landmark_estimates(Relation index, const int32 *hashes, uint32 nhashes, uint64 *estimates);

/* The index's options (WITH (...)): see landmark.c. */
typedef struct LandmarkOptions
{
    int32       vl_len_;
    int         directory_bits; /* 0: each run sized from its postings */
    int         pending_limit;  /* kB; -1: afp.index_pending_limit */
} LandmarkOptions;

extern int  afp_index_pending_limit;
extern void landmark_init_reloptions(void);

/* The AM's callbacks, one file each. */
extern IndexBuildResult *landmark_build(Relation heap, Relation index, struct IndexInfo *info);
extern void landmark_buildempty(Relation index);
extern char *landmark_buildphasename(int64 phase);
extern bool landmark_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
                            Relation heap, IndexUniqueCheck check_unique, bool index_unchanged,
                            struct IndexInfo *info);
extern IndexBulkDeleteResult *landmark_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
                                                  IndexBulkDeleteCallback callback, void *callback_state);
extern IndexBulkDeleteResult *landmark_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);
extern IndexScanDesc landmark_beginscan(Relation index, int nkeys, int norderbys);
extern void landmark_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern void landmark_scan_set_limits(IndexScanDesc scan, uint64 max_postings, uint32 min_votes);
extern bool landmark_gettuple(IndexScanDesc scan, ScanDirection dir);
extern void landmark_endscan(IndexScanDesc scan);

/* Build phases in pg_stat_progress_create_index (after the server's own). */
#define LANDMARK_PHASE_SCAN     2
#define LANDMARK_PHASE_SORT     3
#define LANDMARK_PHASE_WRITE    4

#endif /* AFP_LANDMARK_H */
