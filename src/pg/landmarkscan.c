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
    uint64      max_postings;       /* the vote's budget and minimum: the settings, or landmark_scan_set_limits */
    uint32      min_votes;
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

    /* A scan the executor runs (ORDER BY fp <~> q) reads the settings; match_* set their own. */
    so->max_postings = (uint64) afp_index_max_postings;
    so->min_votes = (uint32) afp_index_min_votes;
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

/*
 * The budget and minimum of a scan's vote, for a caller that drives the scan itself (match_*, a
 * shard's rank): passed with the scan instead of through the settings, which nested SQL would see.
 * Call between index_beginscan and the first index_getnext_slot.
 */
void
landmark_scan_set_limits(IndexScanDesc scan, uint64 max_postings, uint32 min_votes)
{
    LandmarkScanOpaque so = (LandmarkScanOpaque) scan->opaque;

    so->max_postings = Max(max_postings, 1);
    so->min_votes = Max(min_votes, 1);
}

static int
compare_bucket_order(const void *a, const void *b)
{
    uint64      x = *(const uint64 *) a;
    uint64      y = *(const uint64 *) b;

    return x < y ? -1 : x > y ? 1 : 0;
}

/* Postings decoded by lookups (short lists), for the vote to take without reading their pages again. */
typedef struct DecodedPool
{
    uint64     *rows;
    uint32     *frames;
    Size        used;
    Size        capacity;
} DecodedPool;

/* At most this many postings are kept decoded per search (12 bytes each). */
#define DECODED_POOL_MAX ((Size) 1 << 20)

/* Where one hash's postings lie in one run. */
typedef struct RunRef
{
    LandmarkListRef list;
    uint32      run;
} RunRef;

/*
 * The runs' references of every hash: those of hash i are refs[first[i]] up to
 * refs[first[i + 1]], one per run whose mix range holds the hash (whole-space
 * runs, and one of a full merge's slices), with count 0 when the run has none.
 * Sized by the layers a hash is looked up in, not by runs times hashes: a merged
 * index is a few dozen disjoint runs, and a search does this once per rendition.
 */
typedef struct RunRefs
{
    RunRef     *refs;
    uint32     *first;
    uint64     *by_mix;         /* every hash, in mix order: the mix in the high bits, its index in the low ones */
} RunRefs;

static void
free_refs(RunRefs *refs)
{
    if (refs->refs)
        pfree(refs->refs);
    if (refs->first)
        pfree(refs->first);
    if (refs->by_mix)
        pfree(refs->by_mix);
    memset(refs, 0, sizeof(*refs));
}

/* The first k in [lo, n) of the mix-sorted hashes with a mix >= mix. */
static uint32
first_at_or_above(const uint64 *by_mix, uint32 n, uint32 mix)
{
    uint32      lo = 0;
    uint32      hi = n;

    while (lo < hi)
    {
        uint32      mid = lo + (hi - lo) / 2;

        if ((uint32) (by_mix[mid] >> 32) < mix)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * Looks up every hash in every run whose range holds it: out->refs (see RunRefs),
 * and estimates[i] gets the sum of hash i's counts. nblocks is the index's size,
 * asked of the kernel once per scan for every run's reader (a reader asks again
 * for a page past it). Hashes are visited in each
 * run's bucket order, where neighbours share pages. With a pool, short lists are
 * decoded into it on the way (ref->decoded is where). False when a page was not
 * the run's (reused by a merge since the meta page was read).
 */
static bool
lookup_runs(Relation index, const LandmarkMetaData *meta, BlockNumber nblocks, const int32 *hashes,
            uint32 nhashes, uint64 *estimates, RunRefs *out, DecodedPool *pool)
{
    uint64     *by_mix = out->by_mix = palloc(sizeof(uint64) * Max(nhashes, 1));
    uint32     *fill;
    uint32      lo[LANDMARK_MAX_RUNS];
    uint32      hi[LANDMARK_MAX_RUNS];
    Size        total = 0;
    bool        ok = true;

    /*
     * The hashes in mix order (the mix in the high bits, the hash index in the low ones), sorted
     * once: a bucket of any run is the top bits of the mix, so this is every run's bucket order,
     * and a run's range is a stretch of it.
     */
    for (uint32 i = 0; i < nhashes; i++)
        by_mix[i] = (uint64) landmark_mix(hashes[i]) << 32 | i;
    qsort(by_mix, nhashes, sizeof(uint64), compare_bucket_order);
    out->first = palloc0(sizeof(uint32) * ((Size) nhashes + 1));
    for (uint32 r = 0; r < meta->nruns; r++)
    {
        lo[r] = first_at_or_above(by_mix, nhashes, meta->runs[r].mix_lo);
        hi[r] = meta->runs[r].mix_hi == PG_UINT32_MAX ? nhashes
            : first_at_or_above(by_mix, nhashes, meta->runs[r].mix_hi + 1);
        for (uint32 k = lo[r]; k < hi[r]; k++)
            out->first[(uint32) by_mix[k] + 1]++;
        total += hi[r] - lo[r];
    }
    for (uint32 i = 0; i < nhashes; i++)
        out->first[i + 1] += out->first[i];
    out->refs = palloc(sizeof(RunRef) * Max(total, 1));
    fill = palloc0(sizeof(uint32) * Max(nhashes, 1));
    for (uint32 r = 0; r < meta->nruns && ok; r++)
    {
        LandmarkRunReader reader;

        landmark_run_reader_begin(&reader, index, &meta->runs[r]);
        reader.nblocks = nblocks;
        for (uint32 k = lo[r]; k < hi[r]; k++)
        {
            uint32      i = (uint32) by_mix[k];
            RunRef     *ref = &out->refs[out->first[i] + fill[i]++];
            uint64     *rows = NULL;
            uint32     *frames = NULL;

            if ((k - lo[r]) % 256 == 255)
                CHECK_FOR_INTERRUPTS();
            ref->run = r;
            ref->list.count = 0;
            ref->list.decoded = LANDMARK_NOT_DECODED;
            if (pool != NULL && pool->used + LANDMARK_DECODE_AT_LOOKUP <= DECODED_POOL_MAX)
            {
                if (pool->used + LANDMARK_DECODE_AT_LOOKUP > pool->capacity)
                {
                    pool->capacity = Min(Max(pool->capacity * 2, (Size) 4096), DECODED_POOL_MAX);
                    pool->rows = pool->rows ? repalloc(pool->rows, pool->capacity * sizeof(uint64))
                        : palloc(pool->capacity * sizeof(uint64));
                    pool->frames = pool->frames ? repalloc(pool->frames, pool->capacity * sizeof(uint32))
                        : palloc(pool->capacity * sizeof(uint32));
                }
                rows = pool->rows + pool->used;
                frames = pool->frames + pool->used;
            }
            if (landmark_run_lookup(&reader, hashes[i], &ref->list, rows, frames))
            {
                estimates[i] += ref->list.count;
                if (ref->list.decoded != LANDMARK_NOT_DECODED)
                {
                    ref->list.decoded = (uint32) pool->used;
                    pool->used += ref->list.count;
                }
            }
            else
            {
                ref->list.count = 0;
                ref->list.decoded = LANDMARK_NOT_DECODED;
            }
            if (reader.stale)
            {
                ok = false;
                break;
            }
        }
        landmark_run_reader_end(&reader);
    }
    pfree(fill);
    return ok;
}

/* A chain posting of a query hash. */
typedef struct ChainPosting
{
    uint32      hash_index;
    uint32      frame;
    uint64      row;
} ChainPosting;

static int
compare_chain_postings(const void *a, const void *b)
{
    uint32      x = ((const ChainPosting *) a)->hash_index;
    uint32      y = ((const ChainPosting *) b)->hash_index;

    return x < y ? -1 : x > y ? 1 : 0;
}

/* Bits of the filter that spares most chain postings a binary search of the query's hashes. */
#define CHAIN_FILTER_BITS 14

static inline uint32
chain_filter_slot(int32 hash)
{
    return ((uint32) hash * 0x9E3779B1U) >> (32 - CHAIN_FILTER_BITS);
}

/*
 * The chains' (pending and merging) postings of query hashes, counted into
 * estimates and returned sorted by hash. False when a chain page was reused.
 */
static bool
read_chains(Relation index, const LandmarkMetaData *meta, const int32 *hashes, uint32 nhashes,
            uint64 *estimates, ChainPosting **out, Size *nout)
{
    const LandmarkChain *chains[3] = {&meta->sealed, &meta->flushing, &meta->pending};
    uint8       filter[(1 << CHAIN_FILTER_BITS) / 8] = {0};
    LandmarkPosting *postings = NULL;
    Size        n = 0;
    Size        capacity = 0;
    Size        kept = 0;
    Size        sealed_n = 0;   /* the first postings read are the merging chain's */
    ChainPosting *list;

    *out = NULL;
    *nout = 0;
    for (int c = 0; c < 3; c++)
    {
        bool        stale;

        if (!BlockNumberIsValid(chains[c]->head))
            continue;
        landmark_read_chain(index, chains[c], &postings, &n, &capacity, &stale, NULL, NULL);
        if (stale)
        {
            if (postings)
                pfree(postings);
            return false;
        }
        if (c == 0)
            sealed_n = n;
    }
    if (n == 0)
        return true;
    for (uint32 i = 0; i < nhashes; i++)
    {
        uint32      slot = chain_filter_slot(hashes[i]);

        filter[slot / 8] |= (uint8) (1 << (slot % 8));
    }
    list = palloc_extended(n * sizeof(ChainPosting), MCXT_ALLOC_HUGE);
    for (Size k = 0; k < n; k++)
    {
        const LandmarkPosting *p = &postings[k];
        uint32      slot = chain_filter_slot(p->hash);
        uint32      lo = 0;
        uint32      hi = nhashes;

        if (!(filter[slot / 8] & (1 << (slot % 8))) || !BlockNumberIsValid(p->block))
            continue;
        /* The merging chain's postings below its mix_lo are in a run already (a full merge's slices). */
        if (k < sealed_n && meta->sealed.mix_lo > 0 && landmark_mix(p->hash) < meta->sealed.mix_lo)
            continue;
        while (lo < hi)
        {
            uint32      mid = (lo + hi) / 2;

            if (hashes[mid] < p->hash)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo >= nhashes || hashes[lo] != p->hash)
            continue;
        list[kept].hash_index = lo;
        list[kept].row = landmark_posting_row(p);
        list[kept].frame = landmark_posting_frame(p);
        estimates[lo]++;
        kept++;
    }
    pfree(postings);
    qsort(list, kept, sizeof(ChainPosting), compare_chain_postings);
    *out = list;
    *nout = kept;
    return true;
}

/*
 * Exact postings per hash, over every run and chain. The plan and the
 * coordinator of a sharded catalogue count with these, so a catalogue is
 * planned the same whatever state its index is in (pending, in several runs,
 * merged) and shards' counts add up to one index's.
 */
void
landmark_estimates(Relation index, const int32 *hashes, uint32 nhashes, uint64 *estimates)
{
    for (int attempt = 0;; attempt++)
    {
        LandmarkMetaData meta;
        RunRefs     refs = {0};
        ChainPosting *chain;
        Size        nchain;
        bool        ok;

        landmark_read_meta(index, &meta);
        memset(estimates, 0, sizeof(uint64) * nhashes);
        ok = lookup_runs(index, &meta, RelationGetNumberOfBlocks(index), hashes, nhashes, estimates,
                         &refs, NULL) &&
            read_chains(index, &meta, hashes, nhashes, estimates, &chain, &nchain);
        free_refs(&refs);
        if (ok)
        {
            if (chain)
                pfree(chain);
            return;
        }
        if (attempt >= LANDMARK_SCAN_ATTEMPTS)
            landmark_page_corrupted(index, LANDMARK_META_BLKNO, "run list");
    }
}

static void
free_pool(DecodedPool *pool)
{
    if (pool->rows)
        pfree(pool->rows);
    if (pool->frames)
        pfree(pool->frames);
    memset(pool, 0, sizeof(*pool));
}

/*
 * One attempt at the vote: plan with the exact counts, read the planned hashes'
 * postings from every run and chain, hash by hash, rank. False when a merge
 * reused a page the attempt needed (the caller starts again).
 *
 * The planned hashes are read in mix order, the runs' own order: each run is
 * read front to back, neighbouring hashes share its pages, and a run whose range
 * the mix has passed gives its pins back. A merged index is a few dozen runs of
 * disjoint ranges; read in hash order, every one of them kept pages pinned to the
 * end, and past 8 pins PostgreSQL counts a backend's pins in a hash table that
 * every later pin and unpin searches.
 */
static bool
vote_once(Relation index, LandmarkScanOpaque so, const AfpDatum *query)
{
    LandmarkMetaData meta;
    AfpStatus   status;
    const int32 *hashes;
    uint32      nhashes;
    uint64     *estimates;
    RunRefs     refs = {0};
    ChainPosting *chain = NULL;
    Size        nchain = 0;
    Size       *chain_first;
    const uint32 *order;
    uint32      nplanned;
    uint64     *rows = NULL;
    uint32     *frames = NULL;
    uint64      room = 0;
    bool        ok = true;
    uint64     *planned_by_mix;
    bool       *planned;
    DecodedPool pool = {0};
    BlockNumber nblocks;

    landmark_read_meta(index, &meta);
    nblocks = RelationGetNumberOfBlocks(index);
    so->search = afp_core_search_new(&query->header, so->max_postings, so->min_votes, &status);
    if (so->search == NULL)
        afp_raise(&status);
    nhashes = afp_core_search_hashes(so->search, &hashes);
    estimates = palloc0(sizeof(uint64) * Max(nhashes, 1));
    if (!lookup_runs(index, &meta, nblocks, hashes, nhashes, estimates, &refs, &pool) ||
        !read_chains(index, &meta, hashes, nhashes, estimates, &chain, &nchain))
    {
        pfree(estimates);
        free_refs(&refs);
        free_pool(&pool);
        return false;
    }
    if (!afp_core_search_plan(so->search, estimates, &order, &nplanned, &status))
        afp_raise(&status);

    /* The planned hashes in mix order: lookup_runs' order of every hash, the planned ones kept. */
    planned = palloc0(sizeof(bool) * Max(nhashes, 1));
    for (uint32 k = 0; k < nplanned; k++)
        planned[order[k]] = true;
    planned_by_mix = palloc(sizeof(uint64) * Max(nplanned, 1));
    for (uint32 k = 0, n = 0; k < nhashes; k++)
        if (planned[(uint32) refs.by_mix[k]])
            planned_by_mix[n++] = refs.by_mix[k];
    pfree(planned);
    /* The chains' postings of hash i are chain[chain_first[i]] up to chain[chain_first[i + 1]] (sorted by hash). */
    chain_first = palloc0(sizeof(Size) * ((Size) nhashes + 1));
    for (Size c = 0; c < nchain; c++)
        chain_first[chain[c].hash_index + 1]++;
    for (uint32 i = 0; i < nhashes; i++)
        chain_first[i + 1] += chain_first[i];
    for (uint32 k = 0; k < nplanned; k++)
    {
        uint32      i = (uint32) planned_by_mix[k];

        for (uint32 e = refs.first[i]; e < refs.first[i + 1]; e++)
            if (refs.refs[e].list.decoded == LANDMARK_NOT_DECODED)
                room = Max(room, refs.refs[e].list.count);
    }
    if (nchain > 0)
        room = Max(room, 1);
    if (room > 0)
    {
        rows = palloc_extended(sizeof(uint64) * room, MCXT_ALLOC_HUGE);
        frames = palloc_extended(sizeof(uint32) * room, MCXT_ALLOC_HUGE);
    }
    {
        LandmarkRunReader *readers = palloc(sizeof(LandmarkRunReader) * Max(meta.nruns, 1));
        uint32     *open = palloc(sizeof(uint32) * Max(meta.nruns, 1));    /* runs whose readers hold pins */
        uint32      nopen = 0;

        for (uint32 r = 0; r < meta.nruns; r++)
        {
            landmark_run_reader_begin(&readers[r], index, &meta.runs[r]);
            readers[r].nblocks = nblocks;
        }
        for (uint32 k = 0; k < nplanned && ok; k++)
        {
            uint32      i = (uint32) planned_by_mix[k];
            uint32      mix = (uint32) (planned_by_mix[k] >> 32);
            uint32      still = 0;

            if (k % 64 == 63)
                CHECK_FOR_INTERRUPTS();
            /* Runs the mix has passed are done with: their pins go. */
            for (uint32 o = 0; o < nopen; o++)
            {
                if (meta.runs[open[o]].mix_hi < mix)
                    landmark_run_reader_end(&readers[open[o]]);
                else
                    open[still++] = open[o];
            }
            nopen = still;
            for (uint32 e = refs.first[i]; e < refs.first[i + 1]; e++)
            {
                const LandmarkListRef *ref = &refs.refs[e].list;
                uint32      r = refs.refs[e].run;
                uint32      got;
                bool        was_open;

                if (ref->count == 0)
                    continue;
                if (ref->decoded != LANDMARK_NOT_DECODED)
                {
                    if (!afp_core_search_add(so->search, i, pool.rows + ref->decoded, pool.frames + ref->decoded,
                                             (size_t) ref->count, &status))
                        afp_raise(&status);
                    continue;
                }
                was_open = BufferIsValid(readers[r].data_buf);
                got = landmark_run_read_list(&readers[r], ref, rows, frames);
                if (!was_open && BufferIsValid(readers[r].data_buf))
                    open[nopen++] = r;
                if (readers[r].stale)
                {
                    ok = false;
                    break;
                }
                if (got > 0 && !afp_core_search_add(so->search, i, rows, frames, got, &status))
                    afp_raise(&status);
            }
            /* the chains' postings of this hash, after its runs' */
            for (Size c = chain_first[i]; ok && c < chain_first[i + 1]; c++)
            {
                rows[0] = chain[c].row;
                frames[0] = chain[c].frame;
                if (!afp_core_search_add(so->search, i, rows, frames, 1, &status))
                    afp_raise(&status);
            }
        }
        for (uint32 r = 0; r < meta.nruns; r++)
            landmark_run_reader_end(&readers[r]);
        pfree(open);
        pfree(readers);
    }
    if (ok)
    {
        if (!afp_core_search_rank(so->search, &so->ranked, &so->nranked, &status))
            afp_raise(&status);
        elog(DEBUG1, "afp_landmark \"%s\": %u of %u query hashes planned, %llu postings read in %u runs and %zu chain postings, %u rows ranked",
             RelationGetRelationName(index), nplanned, nhashes,
             (unsigned long long) afp_core_search_postings_read(so->search), meta.nruns, nchain, so->nranked);
    }
    pfree(estimates);
    free_refs(&refs);
    free_pool(&pool);
    pfree(planned_by_mix);
    pfree(chain_first);
    if (chain)
        pfree(chain);
    if (rows)
    {
        pfree(rows);
        pfree(frames);
    }
    return ok;
}

/* The vote, started again when a concurrent merge reused a page it was reading. */
static void
vote(IndexScanDesc scan, LandmarkScanOpaque so)
{
    Relation    index = scan->indexRelation;
    ScanKey     key = &scan->orderByData[0];
    AfpDatum   *query;

    so->voted = true;
    if (scan->numberOfOrderBys < 1 || (key->sk_flags & SK_ISNULL))
        return;
    query = afp_detoast(key->sk_argument);
    /* The plan sorts and looks up every query hash: a crafted 1 M-hash query cost 4.4 s. */
    afp_check_query_landmarks(query);
    for (int attempt = 0; !vote_once(scan->indexRelation, so, query); attempt++)
    {
        release_search(so);
        if (attempt >= LANDMARK_SCAN_ATTEMPTS)
            landmark_page_corrupted(index, LANDMARK_META_BLKNO, "run list");
        CHECK_FOR_INTERRUPTS();
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
