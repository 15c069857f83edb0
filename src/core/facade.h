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

/*
 * A probe of at most max_keys distinct hashes, evenly spaced over the body's sorted distinct
 * hashes (so spread over the whole band), with their landmarks: a cheaper index probe that a
 * recording of a track still clears at the same fraction of shared hashes.
 */
bool afp_core_sample_keys(const AfpHeader *body, uint32_t max_keys, AfpBuffer *out, AfpStatus *status);

/*
 * The landmarks of the body's distinct hashes i (in ascending order, as afp_core_search_hashes
 * lists them) with keep[i] != 0, every frame of each: a search plan made elsewhere (a sharded
 * catalogue's coordinator) handed to an index as a probe it reads whole.
 */
bool afp_core_keep_hashes(const AfpHeader *body, const uint8_t *keep, uint32_t n_distinct, AfpBuffer *out,
                          AfpStatus *status);

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

/* One stage of match_clip's index search (policy.hpp). */
typedef struct AfpSearchStage
{
    double   speed;            /* 1, or the playback speed (tempo and pitch together) of the rendition */
    double   tempo;            /* 1, or its tempo factor with the pitch kept */
    double   pitch;            /* 1, or its pitch factor with the tempo kept */
    bool     probe_reference;  /* probe with the reference landmarks warped to speed */
    uint32_t probe_keys;       /* at most this many distinct probe hashes (0: all) */
    uint64_t max_postings;     /* the index vote's budget */
    uint32_t candidates;       /* rows voted in full */
    uint32_t min_votes;        /* index votes a row needs to be returned */
    bool     new_round;        /* run only when the stages before accepted nothing */
} AfpSearchStage;

/* The stages for a clip; out->data holds out->size / sizeof(AfpSearchStage) of them. */
bool afp_core_index_stages(double max_speed_change, double max_tempo_change, double max_pitch_semitones,
                           uint64_t max_postings, uint32_t candidates, uint32_t min_votes, bool has_reference,
                           AfpBuffer *out, AfpStatus *status);


/* Renditions tried by the rounds up to the one stage `last` belongs to. */
uint32_t afp_core_renditions_tried(const AfpSearchStage *stages, uint32_t n, uint32_t last);

/* What a confidence is computed against: max(catalogue rows, rows voted) x renditions. */
uint32_t afp_core_comparisons(double catalogue_rows, uint32_t rows_voted, uint32_t renditions);

/* Releases a search; safe on NULL. */
void afp_core_search_free(AfpSearch *search);

#ifdef __cplusplus
}
#endif

#endif /* AFP_FACADE_H */
