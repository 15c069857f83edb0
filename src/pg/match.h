/*
 * match.h — what match.c shares with the sharded search: the catalogue's
 * columns, the renditions of a clip, the scored rows and their SRF output.
 * A shard (shard.c) and a coordinator (coordinator.c) run the same stages as
 * one node, so they score and emit rows with the same code.
 */
#ifndef AFP_MATCH_H
#define AFP_MATCH_H

#include "afp_pg.h"

#include "access/attnum.h"

/* The columns of a catalogue that matching reads. */
typedef struct CatalogColumns
{
    char       *relation;   /* schema-qualified, quoted */
    char       *id;         /* quoted column names */
    char       *fp;
    char       *title;      /* NULL when the catalogue has no title column */
    bool        landmark_index; /* the afp column has a valid afp_landmark index */
    Oid         direct_index;   /* that index, when match_* may scan it directly (see collect_ranked) */
    Oid         relid;
    AttrNumber  id_attnum;
    AttrNumber  fp_attnum;
    AttrNumber  title_attnum;   /* InvalidAttrNumber without a title column */
} CatalogColumns;

/*
 * How the clip relates to the track: played faster by speed (tempo and pitch
 * together), time-stretched by tempo (pitch kept), pitch-shifted by pitch
 * (tempo kept); all 1 for a clip that matches as recorded.
 */
typedef struct Rendition
{
    double      speed;
    double      tempo;
    double      pitch;
} Rendition;

extern const Rendition as_recorded;

static inline bool
is_as_recorded(const Rendition *r)
{
    return r->speed == 1.0 && r->tempo == 1.0 && r->pitch == 1.0;
}

/* One scored candidate. */
typedef struct MatchRow
{
    int64       track_id;
    char       *title;
    AfpVote     vote;
    Rendition   rendition;  /* of the clip relative to the track */
    double      confidence;
} MatchRow;

/* Scored candidates of one search. */
typedef struct MatchList
{
    MatchRow   *rows;
    int         nrows;
    int         capacity;
    uint32      candidates;
} MatchList;

/*
 * Where a row stands in an index vote's ranking as match_* take it: most votes
 * first, then the lowest id (rows without one last), never the heap position,
 * so one node and the shards of a sharded catalogue take the same rows.
 */
typedef struct RankKey
{
    int32       votes;
    bool        id_null;
    int64       id;
} RankKey;

extern int compare_rank_keys(const RankKey *x, const RankKey *y);

/* Calls fn for every row of a candidate query (columns id int8, fp afp, title text; NULL title: 0). */
typedef void (*CandidateRowFn) (int64 id, Datum fp, Datum title, void *arg);
extern void scan_candidate_rows(const char *sql, int nargs, Oid *argtypes, Datum *args, CandidateRowFn fn,
                                void *arg);

extern Oid afp_type_oid(FunctionCallInfo fcinfo, Oid *namespace_out);
extern CatalogColumns find_catalog_columns(Oid relid, Oid afp_type);
extern void check_max_results(int32 max_results);
extern void check_clip_query(const AfpDatum *query);
extern AfpDatum *match_warped(const AfpDatum *fp, const Rendition *r);
extern AfpDatum *match_sampled(const AfpDatum *fp, uint32 max_keys);
extern void match_list_add(MatchList *list, int64 id, char *title, const AfpVote *vote, const Rendition *rendition);
extern int compare_matches(const void *a, const void *b);
extern void keep_best_per_track(MatchList *list);
extern int score_matches(MatchList *list, uint32 renditions, double compared_tracks);
extern AfpSearchStage *match_index_stages(bool has_reference, uint32 *nstages);
extern bool vote_beats(const AfpVote *vote, const AfpVote *best);
extern int drift_renditions(const AfpSearchStage *stages, uint32 nstages, Rendition *out);
extern bool needs_drift_refinement(const MatchRow *row, const AfpDatum *query);
extern void emit_matches(FunctionCallInfo fcinfo, MatchList *list, const AfpDatum *query, int32 max_results);

#endif /* AFP_MATCH_H */
