// matcher.cpp — voting reads the datum arrays in place; only the list of pairs is allocated,
// in a Matcher's buffers, reused across the calls of one caller.
#include "matcher.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include "params.hpp"
#include "spectrogram.hpp"

namespace afp {

namespace {

// Pairs examined per (clip, track) comparison; past this a pathological track stops adding pairs.
constexpr size_t kMaxPairs = size_t{1} << 20;

// Evidence in fixed point (2^-20 nats) to choose the best window by an exact sliding sum.
constexpr double kEvidenceScale = 1 << 20;

int64_t evidence_units(double nats) { return std::llround(nats * kEvidenceScale); }

}  // namespace

Vote vote(const AfpHeader& clip, const AfpHeader& track) {
    Matcher matcher;
    return matcher.vote(clip, track);
}

// Calls visit(lo, hi, evidence) for each window of pairs [lo, hi) starting at a distinct offset,
// in offset order: the pairs within the window's width of its first, and the fixed-point evidence
// of their distinct clip frames, summed as the window slides. Leaves frame_hits_ all zero.
template <typename Visit>
void Matcher::slide_windows(Visit&& visit) {
    const std::vector<Pair>& pairs = pairs_;
    std::vector<uint32_t>& frame_hits = frame_hits_;
    const std::vector<int64_t>& frame_weight = frame_weight_;
    const int32_t width = 2 * kOffsetTolerance + 1;
    int64_t window_evidence = 0;
    size_t hi = 0;
    for (size_t lo = 0; lo < pairs.size(); ++lo) {
        if (lo > 0) {
            if (--frame_hits[pairs[lo - 1].clip_frame] == 0) window_evidence -= frame_weight[pairs[lo - 1].clip_frame];
            if (pairs[lo].offset == pairs[lo - 1].offset) continue;
        }
        while (hi < pairs.size() && pairs[hi].offset < pairs[lo].offset + width) {
            if (frame_hits[pairs[hi].clip_frame]++ == 0) window_evidence += frame_weight[pairs[hi].clip_frame];
            ++hi;
        }
        visit(lo, hi, window_evidence);
    }
    // The last window's pairs are still counted (every earlier pair was taken out): take them out.
    if (!pairs.empty()) {
        for (size_t k = pairs.size() - 1; k < hi; ++k) --frame_hits[pairs[k].clip_frame];
    }
}

Matcher::Chance Matcher::prepare(const AfpHeader& clip, const AfpHeader& track) {
    std::vector<Pair>& pairs = pairs_;
    std::vector<Shared>& shared = shared_;
    pairs.clear();
    shared.clear();
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
            // Every clip landmark of the hash could have paired with every track landmark of it:
            // a hash the clip repeats (a tone, a loop, a metronome) aligns somewhere by chance
            // as many times more often as the clip repeats it.
            const uint64_t chance_pairs = static_cast<uint64_t>(i_end - i) * (j_end - j);
            for (uint32_t a = i; a < i_end; ++a) {
                shared.push_back(Shared{qf[a], static_cast<uint32_t>(std::min<uint64_t>(chance_pairs, UINT32_MAX))});
            }
            for (uint32_t a = i; a < i_end; ++a) {
                for (uint32_t b = j; b < j_end && pairs.size() < kMaxPairs; ++b) {
                    pairs.push_back(Pair{static_cast<int32_t>(tf[b]) - static_cast<int32_t>(qf[a]), i, qf[a]});
                }
            }
            i = i_end;
            j = j_end;
        }
    }
    Chance chance;
    if (pairs.empty()) return chance;
    std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
        if (a.offset != b.offset) return a.offset < b.offset;
        if (a.hash_id != b.hash_id) return a.hash_id < b.hash_id;
        return a.clip_frame < b.clip_frame;
    });

    // The null model below weighs each clip frame by how easily its hashes align by chance, so
    // its weights are known before any window is chosen.
    const int32_t width = 2 * kOffsetTolerance + 1;
    const ParamSet* params = find_params(clip.param_set);
    const double span = params == nullptr
                            ? 1.0
                            : static_cast<double>(Spectrogram::frames_for(*params, clip.n_samples)) +
                                  Spectrogram::frames_for(*params, track.n_samples);
    chance.span = span;
    chance.windows = std::max(1.0, span / width);
    const auto chance_of = [&](uint64_t k) { return chance.of(k); };

    // Pairs per clip frame (frame_pairs, for the bound) and each frame's weight -ln p (by frame).
    std::sort(shared.begin(), shared.end(),
              [](const Shared& a, const Shared& b) { return a.clip_frame < b.clip_frame; });
    std::vector<uint64_t>& frame_pairs = frame_pairs_;
    std::vector<double>& frame_nats = frame_nats_;
    std::vector<int64_t>& frame_weight = frame_weight_;
    std::vector<uint32_t>& frame_hits = frame_hits_;
    frame_pairs.clear();
    // Sized by the last clip frame that pairs, never cleared: a frame's weight is written before it
    // is read, and every count the window raises it lowers again (afp_vote_distance and <~> can
    // vote a whole track, hundreds of thousands of frames, against many rows).
    const size_t frames = static_cast<size_t>(shared.back().clip_frame) + 1;
    if (frame_nats.size() < frames) {
        frame_nats.resize(frames);
        frame_weight.resize(frames);
        frame_hits.resize(frames, 0);
    }
    for (size_t k = 0; k < shared.size();) {
        size_t run = k;
        uint64_t total = 0;
        while (run < shared.size() && shared[run].clip_frame == shared[k].clip_frame) total += shared[run++].chance_pairs;
        frame_pairs.push_back(total);
        frame_nats[shared[k].clip_frame] = -std::log(chance_of(total));
        frame_weight[shared[k].clip_frame] = evidence_units(frame_nats[shared[k].clip_frame]);
        k = run;
    }
    return chance;
}

Vote Matcher::vote(const AfpHeader& clip, const AfpHeader& track) {
    const Chance chance = prepare(clip, track);
    const std::vector<Pair>& pairs = pairs_;
    std::vector<uint64_t>& frame_pairs = frame_pairs_;
    const std::vector<double>& frame_nats = frame_nats_;
    const int32_t width = 2 * kOffsetTolerance + 1;
    const auto chance_of = [&](uint64_t k) { return chance.of(k); };
    Vote v;
    v.total_pairs = static_cast<int32_t>(pairs.size());
    if (pairs.empty()) return v;

    // The best window is the one with the most evidence: distinct clip frames, each worth its
    // weight, not the most pairs. Pairs of common hashes, and frames that pair several times,
    // count more than they prove: in looping music, counting pairs named near-repeats of the
    // clip's passage over the true place more often (docs/accuracy.md). Weights are fixed-point
    // so that the sliding sum is exact and the choice does not depend on the order of additions.
    // Ties go to more pairs, then to the earlier offset.
    size_t best_lo = 0;
    size_t best_hi = 0;
    int64_t best_evidence = -1;
    slide_windows([&](size_t lo, size_t hi, int64_t window_evidence) {
        if (window_evidence > best_evidence || (window_evidence == best_evidence && hi - lo > best_hi - best_lo)) {
            best_evidence = window_evidence;
            best_lo = lo;
            best_hi = hi;
        }
    });

    std::vector<uint32_t>& ids = ids_;
    std::vector<uint32_t>& times = times_;
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

    // Pairs near the best window but outside it, of clip frames the window does not hold: many when
    // the clip's offsets drift (other parts of the clip line up a little earlier or later: a
    // rendition other than the one voted), few by chance. The window's own frames pairing again
    // nearby (a sustained note, a fast beat) are not drift and are left out.
    {
        const int32_t lo_offset = pairs[best_lo].offset - kDriftFrames;
        const int32_t hi_offset = pairs[best_lo].offset + width + kDriftFrames;
        const auto by_offset = [](const Pair& p, int32_t o) { return p.offset < o; };
        const auto first = std::lower_bound(pairs.begin(), pairs.end(), lo_offset, by_offset);
        const auto last = std::lower_bound(pairs.begin(), pairs.end(), hi_offset, by_offset);
        const auto window_frames_end = times.begin() + v.anchors;
        const auto others = [&](auto from, auto to) {
            return static_cast<int32_t>(std::count_if(from, to, [&](const Pair& p) {
                return !std::binary_search(times.begin(), window_frames_end, p.clip_frame);
            }));
        };
        // The window is pairs[best_lo, best_hi): its two flanks.
        v.drift_pairs = others(first, pairs.begin() + best_lo) + others(pairs.begin() + best_hi, last);
    }

    // Null model. Landmarks anchored at one clip frame share their anchor peak, so they stand or
    // fall together: the unit of evidence is a clip frame. A frame whose hashes make k pairs
    // with the track, counting every landmark of the clip with those hashes, has one of them
    // inside a given offset window by chance with probability p = min(1, k * width / span): a
    // frame of a drone, a loop or a hum, whose hashes recur all over the track, or of a tone or
    // a metronome, whose hashes recur all over the clip, aligns somewhere almost surely and
    // proves little; a frame of hashes rare in both proves much. The evidence is the sum of -ln p
    // over the frames aligned in the best window.
    // Its tail under the null (independent frames) is bounded with Chernoff,
    //   ln P(E >= e) <= min over theta of  sum_frames ln(1 - p + p^(1 - theta)) - theta * e,
    // and multiplied by the number of offset windows a chance alignment could have picked.
    double evidence = 0.0;
    for (size_t t = 0; t < static_cast<size_t>(v.anchors); ++t) {
        evidence += frame_nats[times[t]];
    }
    // Frames grouped by pair count: most make one or two pairs, so the bound costs a few logs.
    std::sort(frame_pairs.begin(), frame_pairs.end());
    double best_bound = 0.0;
    for (double theta : {0.25, 0.5, 0.75, 0.9}) {
        double log_mgf = 0.0;
        for (size_t k = 0; k < frame_pairs.size();) {
            size_t run = k;
            while (run < frame_pairs.size() && frame_pairs[run] == frame_pairs[k]) ++run;
            const double p = chance_of(frame_pairs[k]);
            log_mgf += static_cast<double>(run - k) * std::log1p(-p + std::pow(p, 1.0 - theta));
            k = run;
        }
        best_bound = std::min(best_bound, log_mgf - theta * evidence);
    }
    v.log_chance = std::log(chance.windows) + best_bound;
    return v;
}

std::vector<Place> Matcher::places(const AfpHeader& clip, const AfpHeader& track, size_t max_places) {
    std::vector<Place> out;
    if (max_places == 0) return out;
    prepare(clip, track);
    const std::vector<Pair>& pairs = pairs_;
    if (pairs.empty()) return out;
    // Every window's evidence; then, strongest first (ties as vote() breaks them: more pairs, then
    // the earlier offset), each window that starts more than kDriftFrames beyond the windows of the
    // places already taken: the best place outside their neighbourhoods (the drift_pairs flanks).
    struct Seen {
        int64_t evidence;
        int32_t offset;
        size_t lo;
        size_t hi;
    };
    std::vector<Seen> seen;
    // Reserved first: nothing may throw while the window slides, or frame_hits_ stays dirty.
    seen.reserve(pairs.size());
    slide_windows([&](size_t lo, size_t hi, int64_t evidence) {
        seen.push_back(Seen{evidence, pairs[lo].offset, lo, hi});
    });
    std::stable_sort(seen.begin(), seen.end(), [](const Seen& a, const Seen& b) {
        if (a.evidence != b.evidence) return a.evidence > b.evidence;
        return a.hi - a.lo > b.hi - b.lo;
    });
    const int32_t apart = 2 * kOffsetTolerance + 1 + kDriftFrames;
    std::vector<uint32_t> first_frames;  // the first place's clip frames, to weigh what others share
    for (const Seen& w : seen) {
        if (out.size() == max_places) break;
        const bool near = std::any_of(out.begin(), out.end(), [&](const Place& p) {
            return std::abs(w.offset - p.window_offset) < apart;
        });
        if (near) continue;
        std::vector<uint32_t> frames;
        double offset_sum = 0.0;
        for (size_t k = w.lo; k < w.hi; ++k) {
            frames.push_back(pairs[k].clip_frame);
            offset_sum += pairs[k].offset;
        }
        std::sort(frames.begin(), frames.end());
        frames.erase(std::unique(frames.begin(), frames.end()), frames.end());
        Place p;
        p.window_offset = w.offset;
        p.offset_frames = offset_sum / static_cast<double>(w.hi - w.lo);
        p.anchors = static_cast<int32_t>(frames.size());
        for (uint32_t t : frames) {
            p.evidence += frame_nats_[t];
            if (out.empty() || std::binary_search(first_frames.begin(), first_frames.end(), t)) {
                p.shared_with_first += frame_nats_[t];
            }
        }
        if (out.empty()) first_frames = frames;
        out.push_back(p);
    }
    return out;
}

double confidence(const Vote& vote, uint32_t candidates) {
    if (vote.score <= 0) return 0.0;
    const double expected = std::max<uint32_t>(candidates, 1) * std::exp(vote.log_chance + kDependenceAllowance);
    return std::exp(-expected);
}

}  // namespace afp
