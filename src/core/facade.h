/*
 * facade.h — the only door from the PostgreSQL glue into the C++ core.
 *
 * Every function here is noexcept on the C++ side: it catches everything and
 * reports through AfpStatus, so no C++ exception ever unwinds into C frames
 * and the glue can ereport() once the call has returned and every C++ object
 * is gone. Buffers handed out are malloc()ed by the core; the caller copies
 * them into palloc()ed memory and releases them with afp_core_free().
 */
#ifndef AFP_FACADE_H
#define AFP_FACADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "afp_format.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Defaults of the search settings, written once for both zones: the afp.* settings the glue
 * registers (module.c) and reads into AfpSearchSettings, and the core's SearchSettings and
 * SearchLimits.
 */
#define AFP_DEFAULT_MAX_SPEED_CHANGE 0.05       /* afp.max_speed_change, a fraction */
#define AFP_DEFAULT_MAX_TEMPO_CHANGE 0.08       /* afp.max_tempo_change, a fraction */
#define AFP_DEFAULT_MAX_PITCH_SEMITONES 2.0     /* afp.max_pitch_change, semitones */
#define AFP_DEFAULT_INDEX_MAX_POSTINGS 50000    /* afp.index_max_postings, postings */
#define AFP_DEFAULT_INDEX_CANDIDATES 10         /* afp.index_candidates, rows */
#define AFP_DEFAULT_INDEX_MIN_VOTES 3           /* afp.index_min_votes, distinct hashes */
#define AFP_DEFAULT_MIN_SHARED_HASHES 5         /* afp.min_shared_hashes, distinct hashes */
#define AFP_DEFAULT_MIN_CONFIDENCE 0.5          /* afp.min_confidence */

/* What went wrong, one value per kind of error the glue reports differently. */
typedef enum AfpStatusCode
{
    AFP_OK = 0,
    AFP_E_EMPTY_AUDIO,      /* zero bytes of input */
    AFP_E_UNDECODABLE,      /* not a supported container, or corrupt */
    AFP_E_BAD_AUDIO_HEADER, /* channels or sample rate out of range */
    AFP_E_TRUNCATED,        /* fewer frames than the header declares */
    AFP_E_NO_SAMPLES,       /* a valid container with no audio in it */
    AFP_E_NON_FINITE,       /* NaN or infinite samples */
    AFP_E_SILENT,           /* nothing above the silence floor */
    AFP_E_TOO_LONG,         /* longer than the duration cap */
    AFP_E_TOO_MANY_SAMPLES, /* more frames x channels than the sample cap */
    AFP_E_TOO_LARGE,        /* more bytes than the size cap */
    AFP_E_MALFORMED,        /* an afp value that fails validation */
    AFP_E_PARAM_MISMATCH,   /* two afp values from different parameter sets */
    AFP_E_CANCELLED,        /* the cancel callback asked us to stop */
    AFP_E_OUT_OF_MEMORY,
    AFP_E_INTERNAL
} AfpStatusCode;

/* Outcome of a facade call; detail is a full sentence or empty. */
typedef struct AfpStatus
{
    AfpStatusCode code;
    char          detail[512];
} AfpStatus;

/* A malloc()ed byte buffer owned by the caller until afp_core_free(). */
typedef struct AfpBuffer
{
    uint8_t *data;
    size_t   size;
} AfpBuffer;

/* Returns true when the current call should stop as soon as possible. */
typedef bool (*AfpCancelFn)(void);

/* Caps applied while decoding untrusted audio. */
typedef struct AfpAudioLimits
{
    double max_seconds;  /* decoded duration cap, seconds */
    size_t max_bytes;    /* encoded size cap, bytes */
    uint64_t max_samples; /* decoded frames x channels cap */
} AfpAudioLimits;

/*
 * Decodes audio bytes and returns the datum body of its fingerprint.
 * With silent_ok, all-silent audio yields an empty fingerprint instead of
 * AFP_E_SILENT (match_clip treats silence as "no match", not as an error).
 */
bool afp_core_fingerprint(const void *audio, size_t size, const AfpAudioLimits *limits,
                          bool silent_ok, AfpCancelFn cancel, AfpBuffer *out, AfpStatus *status);

/*
 * Fingerprints a clip to be matched, like afp_core_fingerprint with silent_ok,
 * from one decode and analysis: *query gets the denser query landmarks (more
 * landmarks, same hashes) that vote, *reference the landmarks a track would
 * have, which probe the index on the fast path.
 */
bool afp_core_fingerprint_clip(const void *audio, size_t size, const AfpAudioLimits *limits,
                               AfpCancelFn cancel, AfpBuffer *query, AfpBuffer *reference, AfpStatus *status);

/* The landmarks of a valid body anchored between from_s and to_s seconds, moved to start at 0. */
bool afp_core_slice(const void *body, double from_s, double to_s, AfpBuffer *out, AfpStatus *status);

/* Seconds from the start of a valid body's audio to the start of its last analysis frame. */
double afp_core_anchored_seconds(const void *body);

/* Checks that size bytes form a well-formed datum body. */
bool afp_core_validate(const void *body, size_t size, AfpStatus *status);

/* Parses the text form into a validated datum body. */
bool afp_core_parse_text(const char *text, AfpBuffer *out, AfpStatus *status);

/* The binary wire form of a valid datum body (what afp_send sends). */
bool afp_core_format_binary(const void *body, size_t size, AfpBuffer *out, AfpStatus *status);

/* Decodes the binary wire form (what afp_send writes) into a validated datum body. */
bool afp_core_parse_binary(const void *data, size_t size, AfpBuffer *out, AfpStatus *status);

/* Renders a validated body as NUL-terminated text (size excludes the NUL). */
bool afp_core_format_text(const void *body, size_t size, AfpBuffer *out, AfpStatus *status);

/* Releases a buffer handed out by the core; safe on an empty buffer. */
void afp_core_free(AfpBuffer *buffer);

/*
 * The clip's fingerprint read in the coordinates of a track it is a rendition
 * of: played faster by speed, time-stretched by tempo, pitch-shifted by pitch
 * (1 for none; see warp.hpp).
 */
bool afp_core_warp(const AfpHeader *clip, double speed, double tempo, double pitch, AfpBuffer *out,
                   AfpStatus *status);

/* Number of distinct hash values present in both ascending arrays. */
uint32_t afp_core_count_shared(const int32_t *a, uint32_t na, const int32_t *b, uint32_t nb);

/* The best time alignment of a clip against one track. */
typedef struct AfpVote
{
    int32_t  score;            /* distinct clip hashes aligned at the best offset */
    int32_t  anchors;          /* distinct clip times among the aligned landmarks */
    int32_t  aligned_pairs;    /* (clip, track) landmark pairs in the best offset window */
    int32_t  total_pairs;      /* all pairs with equal hashes, at any offset */
    int32_t  drift_pairs;      /* pairs near the best window but outside it: the clip drifts there */
    double   offset_frames;    /* track frame minus clip frame, averaged over the window */
    uint32_t clip_first_frame; /* earliest aligned clip landmark */
    uint32_t clip_last_frame;  /* latest aligned clip landmark */
    double   log_chance;       /* natural log of the expected number of chance alignments this good */
} AfpVote;

/* Votes on time offsets between a clip and a track fingerprint. */
bool afp_core_vote(const AfpHeader *clip, const AfpHeader *track, AfpVote *out, AfpStatus *status);

/* Turns a vote into a confidence in [0, 1], given how many tracks were compared. */
double afp_core_confidence(const AfpVote *vote, uint32_t candidates);

/*
 * The search of a landmark index (search.hpp), driven step by step by the index scan:
 *   afp_core_search_new      the query's distinct hashes (afp_core_search_hashes)
 *   afp_core_search_plan     which to read, given the postings the index holds for each
 *   afp_core_search_add      the postings of one planned hash vote (any number of calls)
 *   afp_core_search_rank     rows with enough votes, best first
 *   afp_core_search_free     always, also after an error (the glue registers it as a reset callback)
 */
typedef struct AfpSearch AfpSearch;

/* A row put forward by the index vote. */
typedef struct AfpRankedRow
{
    uint64_t row;           /* the glue's row id, < 2^43 */
    uint32_t votes;         /* distinct query hashes in its best two neighbouring offset bins */
    int32_t  offset_frames; /* track frame minus query frame there */
} AfpRankedRow;

/* Starts a search for a validated query body; NULL with *status set on failure. */
AfpSearch *afp_core_search_new(const AfpHeader *query, uint64_t max_postings, uint32_t min_votes,
                               AfpStatus *status);

/* The query's distinct hashes, ascending; returns their number. */
uint32_t afp_core_search_hashes(const AfpSearch *search, const int32_t **hashes);

/* Plans the reads: estimates[i] postings for hash i; *order gets the hash indices to read, in order. */
bool afp_core_search_plan(AfpSearch *search, const uint64_t *estimates, const uint32_t **order,
                          uint32_t *n, AfpStatus *status);

/* The index of hash among the query's hashes when the plan reads it, else -1. */
int64_t afp_core_search_planned_index(const AfpSearch *search, int32_t hash);

/* Votes with n postings of hash hash_index: rows[k] holds it at frames[k]. */
bool afp_core_search_add(AfpSearch *search, uint32_t hash_index, const uint64_t *rows,
                         const uint32_t *frames, size_t n, AfpStatus *status);

/* The ranked rows; *rows stays valid until afp_core_search_free. */
bool afp_core_search_rank(AfpSearch *search, const AfpRankedRow **rows, uint32_t *n, AfpStatus *status);

/* Postings voted so far. */
uint64_t afp_core_search_postings_read(const AfpSearch *search);

/*
 * The whole search of match_clip() and match_afp() (searcher.hpp): the glue is its candidate
 * source and answers what each step asks, then calls afp_core_searcher_next:
 *   AFP_STEP_ESTIMATE  postings per distinct hash of each probe (a source of several indexes)
 *   AFP_STEP_RANK      each probe's ranked rows (afp_core_searcher_add_ranked)
 *   AFP_STEP_VOTE      the full vote of each item (afp_core_searcher_vote_track or _add_vote)
 *   AFP_STEP_DONE      afp_core_searcher_matches
 * afp_core_searcher_free always, also after an error (the glue registers it as a reset callback).
 */
typedef struct AfpSearcher AfpSearcher;

/* What a search may do: the afp.* settings, read once by the glue (SearchSettings). */
typedef struct AfpSearchSettings
{
    double   max_speed_change;
    double   max_tempo_change;
    double   max_pitch_semitones;
    uint64_t max_postings;
    uint32_t candidates;
    uint32_t min_votes;
    int32_t  min_score;
    double   min_confidence;
    bool     landmark_index;   /* false: the share stages (the % operator, GIN) */
    bool     plans_reads;      /* the source is several indexes: plan from summed estimates */
} AfpSearchSettings;

typedef enum AfpSearchStep
{
    AFP_STEP_ESTIMATE,
    AFP_STEP_RANK,
    AFP_STEP_VOTE,
    AFP_STEP_DONE
} AfpSearchStep;

/* One probe of the current round; pointers stay valid until the next afp_core_searcher_next. */
typedef struct AfpSearchProbe
{
    const AfpHeader *body;     /* the probe (planned, at AFP_STEP_RANK of a planning search) */
    size_t   size;             /* bytes of body */
    uint64_t max_postings;     /* index probes: the vote's budget */
    uint32_t min_votes;        /* index probes: votes a row needs */
    uint32_t limit;            /* index probes: rows taken; send every row tied with the last */
    uint32_t min_shared;       /* share probes (> 0): distinct hashes a row must share with body */
    const int32_t *hashes;     /* AFP_STEP_ESTIMATE: its distinct hashes, ascending */
    uint32_t nhashes;
} AfpSearchProbe;

/* A row to vote in full, in rendition `rendition` of the clip. */
typedef struct AfpVoteItem
{
    uint64_t handle;           /* what the source gave with the row (afp_core_searcher_add_ranked) */
    int64_t  id;
    uint32_t rendition;
} AfpVoteItem;

/* How a clip relates to its track (warp.hpp); all 1 as recorded. */
typedef struct AfpRendition
{
    double   speed;
    double   tempo;
    double   pitch;
} AfpRendition;

/* An accepted match. */
typedef struct AfpMatch
{
    uint64_t handle;
    int64_t  id;
    AfpVote  vote;
    AfpRendition rendition;
    double   confidence;
} AfpMatch;

/*
 * Starts a search for a validated clip body; reference may be NULL or the query itself
 * (match_afp). The bodies must outlive the searcher. NULL with *status set on failure.
 */
AfpSearcher *afp_core_searcher_new(const AfpHeader *query, const AfpHeader *reference,
                                   const AfpSearchSettings *settings, AfpStatus *status);
AfpSearchStep afp_core_searcher_step(const AfpSearcher *searcher);
uint32_t afp_core_searcher_nprobes(const AfpSearcher *searcher);
void afp_core_searcher_probe(const AfpSearcher *searcher, uint32_t p, AfpSearchProbe *out);

/* AFP_STEP_ESTIMATE: adds one source's counts for probe p, one per distinct hash. */
bool afp_core_searcher_add_estimates(AfpSearcher *searcher, uint32_t p, const uint64_t *counts, uint32_t n,
                                     AfpStatus *status);

/* The catalogue's rows, which confidence counts as compared. */
void afp_core_searcher_set_catalogue_rows(AfpSearcher *searcher, double rows);

/* AFP_STEP_RANK: a row probe p ranked, with its index votes (0 for share probes). */
bool afp_core_searcher_add_ranked(AfpSearcher *searcher, uint32_t p, uint64_t handle, bool id_null, int64_t id,
                                  uint32_t votes, AfpStatus *status);

/* AFP_STEP_VOTE: the items to vote; valid until the next afp_core_searcher_next. */
uint32_t afp_core_searcher_items(const AfpSearcher *searcher, const AfpVoteItem **items);
AfpRendition afp_core_searcher_rendition(const AfpSearcher *searcher, uint32_t rendition);

/* AFP_STEP_VOTE: item k voted elsewhere (a shard), or against the row's fingerprint here. */
bool afp_core_searcher_add_vote(AfpSearcher *searcher, uint32_t k, const AfpVote *vote, AfpStatus *status);
bool afp_core_searcher_vote_track(AfpSearcher *searcher, uint32_t k, const AfpHeader *track, AfpStatus *status);

/* Consumes the answers of the current step and moves to the next. */
bool afp_core_searcher_next(AfpSearcher *searcher, AfpStatus *status);

/* For the log: rounds scored so far, and the last one's renditions, rows voted and rows accepted. */
void afp_core_searcher_progress(const AfpSearcher *searcher, uint32_t *rounds, uint32_t *renditions,
                                uint32_t *candidates, uint32_t *accepted);

/* AFP_STEP_DONE: the accepted matches, best first, as an array of AfpMatch in out. */
bool afp_core_searcher_matches(const AfpSearcher *searcher, AfpBuffer *out, AfpStatus *status);

/* Releases a searcher; safe on NULL. */
void afp_core_searcher_free(AfpSearcher *searcher);

/* Releases a search; safe on NULL. */
void afp_core_search_free(AfpSearch *search);

#ifdef __cplusplus
}
#endif

#endif /* AFP_FACADE_H */
