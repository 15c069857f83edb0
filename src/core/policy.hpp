// policy.hpp — the stages match_clip() runs on a catalogue with an afp_landmark index, and how
// many chances to be fooled its confidence accounts for. The glue runs the stages (each is an
// index query and full votes); what they are is decided here, where GoogleTest sees it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "warp.hpp"

namespace afp {

// Spacing of the speeds tried when a clip does not match as recorded (0.5%): warped hashes
// survive a residual speed error of about half of it.
inline constexpr double kSpeedStep = 0.005;

// The fast stage: the clip's reference landmarks (a quarter of the query's hashes) probe the index
// with this share of the budget, and this many rows get the full vote. A recording of a catalogue
// track is settled there at a quarter of the cost; anything else goes on to the query's own hashes.
inline constexpr uint32_t kFastBudgetShare = 4;
inline constexpr uint32_t kFastCandidates = 3;

// Each speed rendition's index vote reads this share of the budget and puts forward this many
// rows for the full vote (measured in docs/accuracy.md: fewer rows lost recall at 2% off speed).
inline constexpr uint32_t kSpeedBudgetShare = 8;
inline constexpr uint32_t kSpeedCandidates = 3;

// Index votes a row needs in a speed rendition's vote to be voted in full. At a wrong speed, rows
// collect the few chance votes any rendition gets; at the right one, the track collects many.
inline constexpr uint32_t kSpeedMinVotes = 6;

// Distinct hashes of a speed rendition's probe, sampled evenly from its reference landmarks: every
// probe hash costs a directory and a data page lookup, and 20 renditions with all ~580 hashes of
// a 10 s clip cost more than the clip's whole direct search.
inline constexpr uint32_t kSpeedProbeKeys = 128;

// Spacing of the tempo changes (pitch kept) tried: the time warp is the speed search's, so the
// same step keeps the residual drift of a 10 s clip within the vote's neighbouring bins.
inline constexpr double kTempoStep = 0.005;

// Spacing of the pitch shifts (tempo kept) tried, in semitones: shifts by whole and half
// semitones (karaoke keys, pitch correction) land on a rendition exactly; a shift between them
// leaves up to a quarter semitone (1.5%), which only hashes in the lower bins survive.
inline constexpr double kPitchStepSemitones = 0.5;

// Tempo renditions (32 at the defaults) probe with half the keys and half the budget of a speed
// rendition and put forward 2 rows: every probe key costs a directory and a data page lookup, and
// a clip not in the catalogue runs every rendition. Pitch renditions (8) probe like speeds: with
// these cheaper probes, recall of clips a semitone off fell from 95% to 75-90% (docs/accuracy.md).
inline constexpr uint32_t kShapeProbeKeys = 64;
inline constexpr uint32_t kShapeBudgetShare = 16;
inline constexpr uint32_t kShapeCandidates = 2;

// The least budget a stage gets, postings.
inline constexpr uint64_t kMinStageBudget = 1000;

struct SearchStage {
    double speed;             // 1: the clip as recorded; else the playback speed (tempo and pitch together)
    double tempo;             // 1, or the tempo factor with the pitch kept (1.05: 5% faster)
    double pitch;             // 1, or the frequency factor with the tempo kept (2^(1/12): a semitone up)
    bool probe_reference;     // probe the index with the reference landmarks (warped to speed)
    uint32_t probe_keys;      // at most this many of the probe's distinct hashes (0: all)
    uint64_t max_postings;    // the index vote's budget
    uint32_t candidates;      // rows of the index vote voted in full
    uint32_t min_votes;       // index votes a row needs to be returned
    bool new_round;           // the stages from here on are tried only when the earlier ones accepted nothing
    bool shares = false;      // a share stage (no afp_landmark index): every row sharing enough hashes is voted
    double share_fraction = 0;  // share stages: the share of the probe's hashes a row must hold (0: min_score)

    // The warp that reads the clip's landmarks in the track's coordinates (warp.hpp).
    double time_scale() const noexcept { return Rendition{speed, tempo, pitch}.time_scale(); }
    double freq_scale() const noexcept { return Rendition{speed, tempo, pitch}.freq_scale(); }
};

// Share stages (a catalogue without an afp_landmark index, searched through the % operator and
// its GIN index): a probe of kShareFastProbeKeys reference hashes at kShareFastFraction of them, which
// a recording of the track clears and few other tracks do; then the clip's own hashes at min_score;
// then each speed with kShareSpeedProbeKeys of its warped reference hashes at kShareSpeedFraction.
// A fractional stage whose threshold does not exceed min_score is skipped (it would test nothing).
// GIN's cost grows with the keys of a query times the postings it walks: all 520 keys of a 10 s
// clip spent ~12 ms in gingetbitmap at 1,000 h, 128 keep the share test for ~3 ms; 64 let chance
// tracks through. Clean recordings share 60-90% of a clip's reference hashes with their track,
// other tracks of the development corpus at most 36%; a warped hash survives only when rounding
// lands on the track's bin, so fewer are shared at a speed.
inline constexpr uint32_t kShareFastProbeKeys = 128;
inline constexpr double kShareFastFraction = 0.4;
inline constexpr uint32_t kShareSpeedProbeKeys = 256;
inline constexpr double kShareSpeedFraction = 0.15;

// The best explanation, not the first good one. A clip time-stretched by a few percent can be
// accepted as recorded: its offsets drift by (tempo - 1) x its length, the vote's two neighbouring
// bins hold the part where they stay put, and offset_s lands up to half the drift off (150-200 ms
// for a 10 s clip at 2%; the accuracy benchmark counted 31 of 240 such 10 s clips). A clip 2% fast
// can be accepted as recorded at a passage of its track that a few seconds of it resemble. So an
// accepted row is voted again in every other rendition of the stages, and keeps the one with the
// most evidence, when its alignment is partial (over less than kDriftSpan of the clip) or drifts
// (the pairs within kDriftFrames of its best window but outside it are at least kDriftPairsShare of
// those inside: 0-1% for clean 10 s recordings of the development corpus, 3-6 times for 10 s clips
// 5% off the tempo read as recorded).
inline constexpr double kDriftSpan = 0.6;
inline constexpr double kDriftPairsShare = 0.5;

// The stages for a clip, each round run only when the rounds before accepted nothing: the fast
// stage (reference landmarks, when the clip has them); the query as recorded; then, as one round,
// the speed renditions 1 +- k * kSpeedStep up to max_speed_change, the tempo renditions
// 1 +- k * kTempoStep up to max_tempo_change and the pitch renditions 2^(+-k * kPitchStepSemitones
// / 12) up to max_pitch_semitones, each kind closest first. Speed and pitch renditions probe with
// kSpeedProbeKeys, kSpeedBudgetShare and kSpeedCandidates, tempo renditions with the kShape*
// ones; all need kSpeedMinVotes.
std::vector<SearchStage> index_stages(double max_speed_change, uint64_t max_postings, uint32_t candidates,
                                      uint32_t min_votes, bool has_reference, double max_tempo_change = 0,
                                      double max_pitch_semitones = 0);

// The share stages for a clip (see kShareFastProbeKeys): the fast stage and the speeds only with
// reference landmarks.
std::vector<SearchStage> share_stages(double max_speed_change, bool has_reference);

// The renditions (distinct speed, tempo and pitch) the rounds up to the one last_stage belongs to
// tried: the confidence model's multiplier for them. Two probes of the clip in one rendition vote
// the same query against the same tracks, so they are one.
uint32_t renditions_tried(const SearchStage* stages, size_t n, size_t last_stage);

// The comparisons a confidence is computed against: every row of the catalogue (each could have
// aligned by chance, whether or not the index read its postings), at least the rows voted, times
// the renditions tried; saturated to uint32.
uint32_t comparisons(double catalogue_rows, uint32_t rows_voted, uint32_t renditions);

}  // namespace afp
