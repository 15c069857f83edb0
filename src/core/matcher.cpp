// matcher.cpp — voting reads the datum arrays in place; only the list of pairs is allocated,
// in a buffer reused across calls.
#include "matcher.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "params.hpp"
#include "spectrogram.hpp"

namespace afp {

namespace {

// Pairs examined per (clip, track) comparison; past this a pathological track stops adding pairs.
constexpr size_t kMaxPairs = size_t{1} << 20;

struct Pair {
    int32_t offset;       // track frame - clip frame
    uint32_t hash_id;     // index of the hash's first landmark in the clip: one id per distinct hash
    uint32_t clip_frame;

    friend bool operator<(const Pair& a, const Pair& b) noexcept {
        if (a.offset != b.offset) return a.offset < b.offset;
        if (a.hash_id != b.hash_id) return a.hash_id < b.hash_id;
        return a.clip_frame < b.clip_frame;
    }
};

}  // namespace

double log_poisson_tail(int32_t s, double lambda) {
    if (s <= 0) return 0.0;
    if (lambda <= 0.0) return -std::numeric_limits<double>::infinity();
    if (lambda < s) {
        // P(X >= s) = pmf(s) * (1 + l/(s+1) + l^2/((s+1)(s+2)) + ...); the series converges since l < s + 1.
        double term = 1.0;
        double sum = 1.0;
        for (int k = 1; k < 1000 && term > 1e-17 * sum; ++k) {
            term *= lambda / (s + k);
            sum += term;
        }
        return -lambda + s * std::log(lambda) - std::lgamma(s + 1.0) + std::log(sum);
    }
    double cdf = 0.0;
    double pmf = std::exp(-lambda);
    for (int32_t k = 0; k < s; ++k) {
        cdf += pmf;
        pmf *= lambda / (k + 1);
    }
    return std::log(std::max(1.0 - cdf, std::numeric_limits<double>::min()));
}

Vote vote(const AfpHeader& clip, const AfpHeader& track) {
    static std::vector<Pair> pairs;  // reused: one backend, one call at a time
    pairs.clear();
    const int32_t* qh = afp_body_hashes(&clip);
    const uint32_t* qf = afp_body_frames(&clip);
    const int32_t* th = afp_body_hashes(&track);
    const uint32_t* tf = afp_body_frames(&track);
    uint32_t i = 0;
    uint32_t j = 0;
    while (i < clip.count && j < track.count && pairs.size() < kMaxPairs) {
        if (qh[i] < th[j]) {
            ++i;
        } else if (th[j] < qh[i]) {
            ++j;
        } else {
            const int32_t h = qh[i];
            uint32_t i_end = i;
            while (i_end < clip.count && qh[i_end] == h) ++i_end;
            uint32_t j_end = j;
            while (j_end < track.count && th[j_end] == h) ++j_end;
            for (uint32_t a = i; a < i_end; ++a) {
                for (uint32_t b = j; b < j_end && pairs.size() < kMaxPairs; ++b) {
                    pairs.push_back(Pair{static_cast<int32_t>(tf[b]) - static_cast<int32_t>(qf[a]), i, qf[a]});
                }
            }
            i = i_end;
            j = j_end;
        }
    }
    Vote v;
    v.total_pairs = static_cast<int32_t>(pairs.size());
    if (pairs.empty()) return v;
    std::sort(pairs.begin(), pairs.end());

    const int32_t width = 2 * kOffsetTolerance + 1;
    size_t best_lo = 0;
    size_t best_hi = 0;
    size_t hi = 0;
    for (size_t lo = 0; lo < pairs.size(); ++lo) {
        if (lo > 0 && pairs[lo].offset == pairs[lo - 1].offset) continue;
        if (hi < lo) hi = lo;
        while (hi < pairs.size() && pairs[hi].offset < pairs[lo].offset + width) ++hi;
        if (hi - lo > best_hi - best_lo) {
            best_lo = lo;
            best_hi = hi;
        }
    }

    static std::vector<uint32_t> ids;    // reused like pairs: no allocation per candidate
    static std::vector<uint32_t> times;
    ids.clear();
    times.clear();
    double offset_sum = 0.0;
    v.clip_first_frame = std::numeric_limits<uint32_t>::max();
    for (size_t k = best_lo; k < best_hi; ++k) {
        ids.push_back(pairs[k].hash_id);
        times.push_back(pairs[k].clip_frame);
        offset_sum += pairs[k].offset;
        v.clip_first_frame = std::min(v.clip_first_frame, pairs[k].clip_frame);
        v.clip_last_frame = std::max(v.clip_last_frame, pairs[k].clip_frame);
    }
    std::sort(ids.begin(), ids.end());
    v.score = static_cast<int32_t>(std::unique(ids.begin(), ids.end()) - ids.begin());
    std::sort(times.begin(), times.end());
    v.anchors = static_cast<int32_t>(std::unique(times.begin(), times.end()) - times.begin());
    v.aligned_pairs = static_cast<int32_t>(best_hi - best_lo);
    v.offset_frames = offset_sum / static_cast<double>(best_hi - best_lo);

    // Null model: pairs outside the best window fall uniformly on the offsets the two fingerprints
    // allow, so each window sees Poisson(lambda) pairs; E = windows * P(X >= anchors). Using anchors
    // (at most the pairs in the window) keeps the estimate conservative.
    const ParamSet* params = find_params(clip.param_set);
    const double span = params == nullptr
                            ? 1.0
                            : static_cast<double>(Spectrogram::frames_for(*params, clip.n_samples)) +
                                  Spectrogram::frames_for(*params, track.n_samples);
    const double windows = std::max(1.0, span / width);
    const double lambda = std::max(kMinBackground, (v.total_pairs - v.aligned_pairs) / windows);
    v.log_chance = std::log(windows) + log_poisson_tail(v.anchors, lambda);
    return v;
}

double confidence(const Vote& vote, uint32_t candidates) {
    if (vote.score <= 0) return 0.0;
    const double expected = std::max<uint32_t>(candidates, 1) * std::exp(vote.log_chance);
    return std::exp(-expected);
}

}  // namespace afp
