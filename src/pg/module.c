/*
 * module.c — module magic, GUCs and the interrupt probe the core polls.
 */
#include "afp_pg.h"
#include "landmark.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include <limits.h>
#include "utils/memutils.h"

PG_MODULE_MAGIC;

int    afp_max_audio_seconds = AFP_DEFAULT_MAX_AUDIO_SECONDS;
int    afp_max_audio_bytes = AFP_DEFAULT_MAX_AUDIO_BYTES;
int    afp_max_audio_samples = AFP_DEFAULT_MAX_AUDIO_SAMPLES;
int    afp_max_clip_seconds = AFP_DEFAULT_MAX_CLIP_SECONDS;
int    afp_max_query_hashes = AFP_DEFAULT_MAX_QUERY_HASHES;
int    afp_min_shared_hashes = AFP_DEFAULT_MIN_SHARED_HASHES;
double afp_min_confidence = AFP_DEFAULT_MIN_CONFIDENCE;
double afp_max_speed_change = AFP_DEFAULT_MAX_SPEED_CHANGE;
double afp_max_tempo_change = AFP_DEFAULT_MAX_TEMPO_CHANGE;
double afp_max_pitch_change = AFP_DEFAULT_MAX_PITCH_SEMITONES;
int    afp_index_max_postings = AFP_DEFAULT_INDEX_MAX_POSTINGS;
int    afp_index_min_votes = AFP_DEFAULT_INDEX_MIN_VOTES;
int    afp_index_candidates = AFP_DEFAULT_INDEX_CANDIDATES;
bool   afp_use_landmark_index = true;
bool   afp_shard_allow_partial = false;

PGDLLEXPORT void _PG_init(void);

/* Registers the afp.* settings. */
void
_PG_init(void)
{
    landmark_init_reloptions();
    DefineCustomIntVariable("afp.max_audio_seconds",
                            "Longest audio fingerprint() and match_clip() will decode.",
                            "Checked against the container header before decoding and again while decoding.",
                            &afp_max_audio_seconds,
                            AFP_DEFAULT_MAX_AUDIO_SECONDS, 1, 86400,
                            PGC_SUSET, GUC_UNIT_S,
                            NULL, NULL, NULL);
    DefineCustomIntVariable("afp.max_audio_bytes",
                            "Largest encoded audio fingerprint() and match_clip() will accept.",
                            "Checked before any decoding starts.",
                            &afp_max_audio_bytes,
                            AFP_DEFAULT_MAX_AUDIO_BYTES, 1, (int) MaxAllocSize,
                            PGC_SUSET, GUC_UNIT_BYTE,
                            NULL, NULL, NULL);
    DefineCustomIntVariable("afp.max_audio_samples",
                            "Most samples (frames times channels) fingerprint() and match_clip() will decode.",
                            "Decoding and resampling cost grows with samples, not seconds: the default is an "
                            "hour of 48 kHz stereo. Checked against the header and again while decoding.",
                            &afp_max_audio_samples,
                            AFP_DEFAULT_MAX_AUDIO_SAMPLES, 1, INT_MAX,
                            PGC_SUSET, 0,
                            NULL, NULL, NULL);
    DefineCustomIntVariable("afp.max_clip_seconds",
                            "Longest clip match_clip() and match_afp() will match.",
                            "Matching cost grows with the clip; long recordings belong to match_segments(), "
                            "whose window_s is capped by this too.",
                            &afp_max_clip_seconds,
                            AFP_DEFAULT_MAX_CLIP_SECONDS, 1, 86400,
                            PGC_SUSET, GUC_UNIT_S,
                            NULL, NULL, NULL);
    DefineCustomIntVariable("afp.max_query_hashes",
                            "Most distinct hashes of an && or % operand in an index scan, and most landmarks of "
                            "a match_* query.",
                            "GIN's scan setup costs the square of the query's keys; a 60 s clip's query "
                            "analysis has about 14,000 landmarks, a fingerprint of an hour about 200,000.",
                            &afp_max_query_hashes,
                            AFP_DEFAULT_MAX_QUERY_HASHES, 1, INT_MAX,
                            PGC_SUSET, 0,
                            NULL, NULL, NULL);
    DefineCustomIntVariable("afp.min_shared_hashes",
                            "Distinct hashes two fingerprints must share for the % operator, "
                            "and the least score match_clip() reports.",
                            "match_clip() asks the GIN index for rows sharing this many hashes with the clip.",
                            &afp_min_shared_hashes,
                            AFP_DEFAULT_MIN_SHARED_HASHES, 1, 1000000,
                            PGC_USERSET, 0,
                            NULL, NULL, NULL);
    DefineCustomRealVariable("afp.min_confidence",
                             "Least confidence match_clip() reports.",
                             NULL,
                             &afp_min_confidence,
                             AFP_DEFAULT_MIN_CONFIDENCE, 0.0, 1.0,
                             PGC_USERSET, 0,
                             NULL, NULL, NULL);
    DefineCustomRealVariable("afp.max_speed_change",
                             "Largest speed change of a clip relative to its track that match_clip() searches for.",
                             "A fraction: 0.05 tries speeds from 0.95 to 1.05 in steps of 0.005 when the clip "
                             "does not match as recorded. 0 turns the search off.",
                             &afp_max_speed_change,
                             AFP_DEFAULT_MAX_SPEED_CHANGE, 0.0, 0.2,
                             PGC_USERSET, 0,
                             NULL, NULL, NULL);
    DefineCustomRealVariable("afp.max_tempo_change",
                             "Largest tempo change (pitch kept) of a clip relative to its track that match_clip() searches for.",
                             "A fraction: 0.08 tries tempos from 0.92 to 1.08 in steps of 0.005, with the speeds, "
                             "when the clip does not match as recorded. 0 turns it off. Needs an afp_landmark index.",
                             &afp_max_tempo_change,
                             AFP_DEFAULT_MAX_TEMPO_CHANGE, 0.0, 0.2,
                             PGC_USERSET, 0,
                             NULL, NULL, NULL);
    DefineCustomRealVariable("afp.max_pitch_change",
                             "Largest pitch shift (tempo kept), in semitones, of a clip relative to its track that "
                             "match_clip() searches for.",
                             "Shifts by whole and half semitones up to this are tried, with the speeds, when the "
                             "clip does not match as recorded. 0 turns it off. Needs an afp_landmark index.",
                             &afp_max_pitch_change,
                             AFP_DEFAULT_MAX_PITCH_SEMITONES, 0.0, 6.0,
                             PGC_USERSET, 0,
                             NULL, NULL, NULL);
    DefineCustomIntVariable("afp.index_max_postings",
                            "Postings an afp_landmark index scan reads at most.",
                            "The scan reads the query's rarest hashes first until this budget is spent, "
                            "so its cost does not grow with the catalogue.",
                            &afp_index_max_postings,
                            AFP_DEFAULT_INDEX_MAX_POSTINGS, 1000, 100000000,
                            PGC_USERSET, 0,
                            NULL, NULL, NULL);
    DefineCustomIntVariable("afp.index_pending_limit",
                            "Pending postings an afp_landmark index keeps before an insert merges them into a run.",
                            "Every scan reads the pending postings whole, so a small limit keeps scans fast; an "
                            "index's pending_limit option overrides it. VACUUM merges them too.",
                            &afp_index_pending_limit,
                            AFP_DEFAULT_INDEX_PENDING_LIMIT, 64, MAX_KILOBYTES,
                            PGC_USERSET, GUC_UNIT_KB,
                            NULL, NULL, NULL);
    DefineCustomBoolVariable("afp.index_background_merge",
                             "Whether an insert that leaves an afp_landmark index far from a build's shape starts a "
                             "background worker to merge it.",
                             "The worker runs full merges while a load goes on and one more once inserts stop, "
                             "so the index answers as a freshly built one without VACUUM or REINDEX. Off: "
                             "autovacuum and afp_index_merge() merge.",
                             &afp_index_background_merge,
                             true,
                             PGC_USERSET, 0,
                             NULL, NULL, NULL);
    DefineCustomIntVariable("afp.index_min_votes",
                            "Aligned hashes a row needs in an afp_landmark index scan to be returned.",
                            NULL,
                            &afp_index_min_votes,
                            AFP_DEFAULT_INDEX_MIN_VOTES, 1, 1000,
                            PGC_USERSET, 0,
                            NULL, NULL, NULL);
    DefineCustomIntVariable("afp.index_candidates",
                            "Rows of an afp_landmark index scan that match_clip() verifies with the full vote.",
                            NULL,
                            &afp_index_candidates,
                            AFP_DEFAULT_INDEX_CANDIDATES, 1, 10000,
                            PGC_USERSET, 0,
                            NULL, NULL, NULL);
    DefineCustomBoolVariable("afp.shard_allow_partial",
                             "Lets match_clip() and match_afp() of afp_shards answer without the shards that fail.",
                             "Off: a shard that fails is an error naming it. On: the other shards' answer, with a warning.",
                             &afp_shard_allow_partial,
                             false,
                             PGC_USERSET,
                             0,
                             NULL, NULL, NULL);
    DefineCustomBoolVariable("afp.use_landmark_index",
                             "Whether match_clip() searches with a catalogue's afp_landmark index when it has one.",
                             "Off, it searches with the GIN index as catalogues without an afp_landmark index do.",
                             &afp_use_landmark_index,
                             true,
                             PGC_USERSET, 0,
                             NULL, NULL, NULL);
    MarkGUCPrefixReserved("afp");
}

/* Reads only the flags the signal handlers set; safe to call from C++ frames. */
bool
afp_interrupt_pending(void)
{
    return QueryCancelPending || ProcDiePending;
}
