/*
 * search.h — the one search of match_clip() and match_afp(), and the candidate sources it runs on.
 *
 * The search itself (stages, rounds, which rows get the full vote, scoring, confidence, drift
 * refinement) is the core's Searcher (src/core/searcher.hpp). The glue only answers what it asks,
 * through a CandidateSource: a catalogue of this database (localsource.c: its afp_landmark index
 * scanned directly, or through SQL for views, partitioned tables and row-level security, or its
 * GIN index through the % operator) or the shards of a sharded catalogue (coordinator.c). One
 * node's answer equals the coordinator's because both run this one search.
 */
#ifndef AFP_SEARCH_H
#define AFP_SEARCH_H

#include "afp_pg.h"

#include "access/attnum.h"
#include "access/htup.h"
#include "executor/tuptable.h"
#include "utils/relcache.h"

/* The columns of a catalogue that matching reads. */
typedef struct CatalogColumns
{
    char       *relation;   /* schema-qualified, quoted */
    char       *id;         /* quoted column names */
    char       *fp;
    char       *title;      /* NULL when the catalogue has no title column the caller may read */
    bool        landmark_index; /* the afp column has a valid afp_landmark index */
    Oid         direct_index;   /* that index, when match_* may scan it directly (localsource.c) */
    Oid         relid;
    AttrNumber  id_attnum;
    AttrNumber  fp_attnum;
    AttrNumber  title_attnum;   /* InvalidAttrNumber without a title column */
} CatalogColumns;

/*
 * Where candidates come from. Each callback answers the Searcher's current step (facade.h) by
 * calling its afp_core_searcher_add_* functions; the driver moves it on.
 */
typedef struct CandidateSource CandidateSource;

struct CandidateSource
{
    /* AFP_STEP_ESTIMATE: postings per distinct hash of each probe (only when plans_reads). */
    void        (*estimate) (CandidateSource *source, AfpSearcher *searcher);
    /* AFP_STEP_RANK: the rows each probe ranks, each with a handle the source can vote it by. */
    void        (*rank) (CandidateSource *source, AfpSearcher *searcher);
    /* AFP_STEP_VOTE: the full vote of each item. */
    void        (*vote) (CandidateSource *source, AfpSearcher *searcher);
    /* The title of a matched row, palloc'd, or NULL. */
    char       *(*title) (CandidateSource *source, const AfpMatch *match);
    bool        landmark_index; /* ranks with afp_landmark index votes; else rows sharing hashes (GIN) */
    bool        plans_reads;    /* several indexes: the Searcher plans from summed estimates */
    double      catalogue_rows; /* what confidence counts as compared (an estimate may update it) */
    const char *what;           /* for the log: "index", "shards", ... */
};

/* Runs the whole search on a source; returns the accepted matches, best first (palloc'd). */
extern AfpMatch *afp_search_run(CandidateSource *source, const AfpDatum *query, const AfpDatum *reference,
                                uint32 *nmatches);

/* Writes at most max_results matches to the SRF result (InitMaterializedSRF done). */
extern void afp_search_emit(FunctionCallInfo fcinfo, CandidateSource *source, const AfpMatch *matches,
                            uint32 nmatches, const AfpDatum *query, int32 max_results);

/* The bounds of what a match_* query may cost, checked before any search. */
extern void afp_check_clip_query(const AfpDatum *query);
extern void afp_check_max_results(int32 max_results);

/* A core-made body (searcher probes, renditions) as a palloc'd afp datum. */
extern AfpDatum *afp_datum_from_body(const AfpHeader *body, size_t size);

/* The catalogue: match.c. */
extern Oid afp_type_oid(FunctionCallInfo fcinfo, Oid *namespace_out);
extern CatalogColumns afp_catalog_columns_of(Oid relid, Oid afp_type);

/* A source over a catalogue of this database (localsource.c); ext_nsp holds the operators. */
extern CandidateSource *afp_local_source(const CatalogColumns *cols, Oid ext_nsp, Oid afp_type);

/*
 * The index vote of one probe, read directly from an afp_landmark index: fn gets the first
 * `limit` visible rows and every later row with as many votes as the last of them (the tie rule
 * needs them all), with the slot holding the row. Used by the local source and by a shard.
 */
typedef void (*RankedRowFn) (TupleTableSlot *slot, uint32 votes, void *arg);
extern void afp_rank_by_index(Relation heap, Relation index, Datum probe, uint64 max_postings, uint32 min_votes,
                              uint32 limit, RankedRowFn fn, void *arg);

/* Calls fn for every row of a candidate query (columns id int8, fp afp, title text), with its tuple. */
typedef void (*CandidateRowFn) (HeapTuple tuple, TupleDesc desc, void *arg);
extern void afp_scan_candidate_rows(const char *sql, int nargs, Oid *argtypes, Datum *args, CandidateRowFn fn,
                                    void *arg);

/* An integer id column's value as int64. */
extern int64 afp_id_value(Datum d, Oid typid);

#endif /* AFP_SEARCH_H */
