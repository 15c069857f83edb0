// matcher.hpp — offset voting between a clip fingerprint and a track fingerprint.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "afp_format.h"

namespace afp {

// Half-width, in frames, of the offset window that counts as one alignment (+-16 ms).
inline constexpr int32_t kOffsetTolerance = 1;

// Half-width, in frames, of the neighbourhood of the best window whose other pairs are counted as
// drift_pairs (+-0.5 s): a clip 5% off the track's tempo or speed drifts by 0.5 s over 10 s.
inline constexpr int32_t kDriftFrames = 32;

// The chance model treats aligned clip frames as independent; in music they are not (a shared
// tempo, key or instrument makes neighbouring frames align together), so it overstates the
// evidence of weak alignments. This allowance, in nats, was measured on held-out real music
// (docs/accuracy.md): the strongest chance alignments of clips that are not in the catalogue
// reached ln(chance) of about -17 to -20; with the allowance, such an alignment gets a
// confidence below 0.5 against a catalogue of 100 candidates, while true matches of 5 s clips
// mostly lie below -40.
inline constexpr double kDependenceAllowance = 19.0;

// The best alignment of a clip in a track.
struct Vote {
    int32_t score = 0;             // distinct clip hashes with a pair inside the best window
    int32_t anchors = 0;           // distinct clip frames among those pairs: independent moments of evidence
    int32_t aligned_pairs = 0;     // pairs inside the best window
    int32_t total_pairs = 0;       // pairs at any offset
    int32_t drift_pairs = 0;       // pairs within kDriftFrames of the best window but outside it: an
                                   // alignment that drifts (the clip is another rendition of the track)
    double offset_frames = 0.0;    // mean (track frame - clip frame) over the window's pairs
    uint32_t clip_first_frame = 0;
    uint32_t clip_last_frame = 0;
    double log_chance = 0.0;       // ln(expected number of offset windows scoring this well by chance)
};

// Merge-joins the two hash arrays (both ascending), histograms track frame minus clip frame for
// every pair of equal hashes, and scores the (2 * kOffsetTolerance + 1)-frame window holding the
// most evidence. The score counts distinct clip hashes, so it never exceeds the number of distinct
// hashes the two fingerprints share: the bound the GIN threshold relies on.
// The evidence weighs clip frames instead: landmarks sharing an anchor peak are not independent
// (one chord onset common to two songs yields a burst of equal hashes at one instant), so each
// distinct clip time is one piece of evidence, worth more the rarer its hashes are in the track
// and in the clip (see the null model in matcher.cpp). The window is the one with the most
// evidence, not the most pairs, so that the offset names the place that explains the clip best.
Vote vote(const AfpHeader& clip, const AfpHeader& track);

// A place of the clip in the track: an offset window and the evidence it holds, as the vote weighs
// it (distinct clip frames, -ln p each).
struct Place {
    int32_t window_offset = 0;       // the window's first offset (track frame - clip frame)
    double offset_frames = 0.0;      // mean offset over the window's pairs, as Vote::offset_frames
    int32_t anchors = 0;             // distinct clip frames aligned there
    double evidence = 0.0;           // their weight in nats
    double shared_with_first = 0.0;  // the weight of those also aligned at the first place
};

// vote() with its working memory kept between calls: the pair lists of one comparison, reused by
// the next (a search votes dozens of candidates). One Matcher per thread of calls.
class Matcher {
public:
    Vote vote(const AfpHeader& clip, const AfpHeader& track);

    // The max_places places of the clip in the track with the most evidence, strongest first, each
    // each window starting at least its width plus kDriftFrames (35 frames, ~0.5 s) from those
    // of the places before it, outside their drift flanks: the first is where vote() places the clip
    // (its window, the same evidence), the next say how close another place came. For analysis
    // (afp-perf-tool places); a search does not call it.
    std::vector<Place> places(const AfpHeader& clip, const AfpHeader& track, size_t max_places);

private:
    // What the null model needs once the pairs are known: a frame whose hashes make k pairs aligns
    // in a given window by chance with probability of(k).
    struct Chance {
        double span = 1.0;     // offsets a chance alignment can take, in frames
        double windows = 1.0;  // offset windows among them
        double of(uint64_t k) const noexcept {
            return std::min(1.0, static_cast<double>(k) * (2 * kOffsetTolerance + 1) / span);
        }
    };
    // Pairs the clip's landmarks with the track's, sorted by offset, and weighs each clip frame
    // that pairs (frame_nats_, frame_weight_, frame_pairs_).
    Chance prepare(const AfpHeader& clip, const AfpHeader& track);
    template <typename Visit>
    void slide_windows(Visit&& visit);

    struct Pair {
        int32_t offset;       // track frame - clip frame
        uint32_t hash_id;     // index of the hash's first landmark in the clip: one id per distinct hash
        uint32_t clip_frame;
    };
    // A clip landmark whose hash the track holds: its clip frame and the pairs its hash makes (clip
    // landmarks of the hash times track landmarks of it: the chances it had to align).
    struct Shared {
        uint32_t clip_frame;
        uint32_t chance_pairs;
    };
    std::vector<Pair> pairs_;
    std::vector<Shared> shared_;
    std::vector<uint32_t> ids_;
    std::vector<uint32_t> times_;
    std::vector<uint64_t> frame_pairs_;
    std::vector<double> frame_nats_;      // by clip frame: -ln of its chance to align in a window
    std::vector<int64_t> frame_weight_;   // the same in fixed point, to choose the window
    std::vector<uint32_t> frame_hits_;    // by clip frame: its pairs in the sliding window
};

// Confidence that a vote is not chance, given the number of comparisons it competed with
// (candidate tracks times renditions of the clip): exp(-E), where
// E = comparisons * exp(log_chance + kDependenceAllowance) is the expected number of chance
// alignments scoring as well, so 0.5 means E = ln 2.
double confidence(const Vote& vote, uint32_t candidates);

}  // namespace afp
