/*
 * landmark.h — the afp_landmark index access method: page layout and the
 * functions its files share (landmark*.c, as pgvector's hnsw*.c).
 *
 * The index holds one posting per landmark of every indexed row:
 * hash -> (heap TID, anchor frame). On disk:
 *
 *   block 0                      meta page (LandmarkMetaData)
 *   blocks data_start ..         the packed area: every posting of the build, sorted by bucket,
 *                                LANDMARK_POSTINGS_PER_PAGE to a page; posting n lives at
 *                                data_start + n / LANDMARK_POSTINGS_PER_PAGE
 *   blocks dir_start ..          the directory: for bucket b, the ordinal of its first posting
 *                                (uint64); entry b + 1 ends it, so entries also count postings
 *   row pages                    a chain of (TID, landmark count) per indexed row: VACUUM asks
 *                                about each row once instead of once per posting
 *   pending pages                a chain of postings inserted after the build, unsorted; every
 *                                scan reads all of them (REINDEX folds them into the packed area)
 *
 * A hash's bucket is the top dir_bits bits of a bijective mix of it, so buckets hold hashes
 * evenly, and the directory is sized at build from the postings it must hold
 * (LANDMARK_POSTINGS_PER_BUCKET on average). Directory counts are the per-hash statistics the
 * search plans with: a bucket's count bounds the postings of each hash in it.
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
#define LANDMARK_VERSION        1
#define LANDMARK_META_BLKNO     0

/* Page kinds, in the special space of every page. */
#define LANDMARK_PAGE_META      1
#define LANDMARK_PAGE_DATA      2
#define LANDMARK_PAGE_DIRECTORY 3
#define LANDMARK_PAGE_ROWS      4
#define LANDMARK_PAGE_PENDING   5

/*
 * Average postings per directory bucket the build aims for. A bucket is read whole to find one
 * hash's postings, and its count is the estimate the search plans with, so buckets should hold
 * about one hash each; a directory entry (8 bytes) per 8 postings (96 bytes) costs 8% of the size.
 * With 64 per bucket, a search read ~12 times the postings of the hashes it wanted.
 */
#define LANDMARK_POSTINGS_PER_BUCKET 8
/* Directory size bounds, in bits of bucket number (2^24 buckets: a 128 MB directory, from ~130 M postings). */
#define LANDMARK_MIN_DIR_BITS   4
#define LANDMARK_MAX_DIR_BITS   24

/* Bits of the anchor frame in a posting: frames of up to 2^21 * 16 ms = 9.3 h. */
#define LANDMARK_FRAME_BITS     21
#define LANDMARK_MAX_FRAME      ((1U << LANDMARK_FRAME_BITS) - 1)
/* Bits of the heap line pointer in a posting (MaxHeapTuplesPerPage is 291 at 8 kB, 1169 at 32 kB). */
#define LANDMARK_OFFSET_BITS    11

/* One posting: 12 bytes. A removed posting has block == InvalidBlockNumber. */
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

/* Special space of every page. */
typedef struct LandmarkPageOpaqueData
{
    BlockNumber next;           /* next page of a row or pending chain */
    uint16      kind;           /* LANDMARK_PAGE_* */
    uint16      unused;
} LandmarkPageOpaqueData;

typedef LandmarkPageOpaqueData *LandmarkPageOpaque;

typedef struct LandmarkMetaData
{
    uint32      magic;
    uint32      version;
    uint32      dir_bits;           /* buckets = 1 << dir_bits */
    BlockNumber dir_start;
    BlockNumber dir_pages;
    BlockNumber data_start;
    BlockNumber data_pages;
    BlockNumber rows_head;          /* row chain; tail is where inserts append */
    BlockNumber rows_tail;
    BlockNumber pending_head;       /* pending chain; InvalidBlockNumber when empty */
    BlockNumber pending_tail;
    uint32      unused;
    uint64      packed_postings;    /* postings in the packed area, removed ones included */
    uint64      pending_postings;
    uint64      rows;               /* rows indexed, removed ones excluded */
    uint64      removed_postings;   /* postings VACUUM removed (their slots stay until REINDEX) */
} LandmarkMetaData;

#define LANDMARK_PAGE_SPACE \
    (BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(LandmarkPageOpaqueData)))
#define LANDMARK_POSTINGS_PER_PAGE  ((uint32) (LANDMARK_PAGE_SPACE / sizeof(LandmarkPosting)))
#define LANDMARK_DIR_ENTRIES_PER_PAGE ((uint32) (LANDMARK_PAGE_SPACE / sizeof(uint64)))
#define LANDMARK_ROWS_PER_PAGE      ((uint32) (LANDMARK_PAGE_SPACE / sizeof(LandmarkRow)))

#define LandmarkPageGetOpaque(page) ((LandmarkPageOpaque) PageGetSpecialPointer(page))

/* Items of item_size bytes on a page: they run from the page contents to pd_lower. */
static inline uint32
landmark_page_items(Page page, Size item_size)
{
    return (uint32) ((((PageHeader) page)->pd_lower - MAXALIGN(SizeOfPageHeaderData)) / item_size);
}
#define LandmarkPageGetMeta(page)   ((LandmarkMetaData *) PageGetContents(page))

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

/* The bucket of a hash: the top dir_bits bits of a bijective mix (murmur3's finaliser). */
static inline uint32
landmark_bucket(int32 hash, uint32 dir_bits)
{
    uint32      h = (uint32) hash;

    h ^= h >> 16;
    h *= 0x85ebca6bU;
    h ^= h >> 13;
    h *= 0xc2b2ae35U;
    h ^= h >> 16;
    return dir_bits == 0 ? 0 : h >> (32 - dir_bits);
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
extern void landmark_init_page(Page page, uint16 kind);
extern void landmark_read_meta(Relation index, LandmarkMetaData *meta);
extern void landmark_fill_posting(LandmarkPosting *p, int32 hash, ItemPointer tid, uint32 frame);
extern void landmark_check_fingerprint(Relation index, const AfpDatum *fp);
extern Buffer landmark_new_buffer(Relation index);
extern void landmark_append_postings(Relation index, const AfpDatum *fp, ItemPointer tid);
extern uint64 landmark_directory_entry(Relation index, const LandmarkMetaData *meta, uint32 entry);
extern uint32 landmark_estimates_at(Relation index, const int32 *hashes, uint32 nhashes, uint32 bits,
                                    bool keep_going, uint64 *estimates);

/* The index's options (WITH (...)): see landmark.c. */
typedef struct LandmarkOptions
{
    int32       vl_len_;
    int         directory_bits; /* 0: sized from the postings at build */
} LandmarkOptions;

extern void landmark_init_reloptions(void);

/* The AM's callbacks, one file each. */
extern IndexBuildResult *landmark_build(Relation heap, Relation index, struct IndexInfo *info);
extern void landmark_buildempty(Relation index);
extern bool landmark_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
                            Relation heap, IndexUniqueCheck check_unique, bool index_unchanged,
                            struct IndexInfo *info);
extern IndexBulkDeleteResult *landmark_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
                                                  IndexBulkDeleteCallback callback, void *callback_state);
extern IndexBulkDeleteResult *landmark_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);
extern IndexScanDesc landmark_beginscan(Relation index, int nkeys, int norderbys);
extern void landmark_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool landmark_gettuple(IndexScanDesc scan, ScanDirection dir);
extern void landmark_endscan(IndexScanDesc scan);


#endif /* AFP_LANDMARK_H */
