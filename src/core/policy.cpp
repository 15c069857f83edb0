// policy.cpp — the stage list and the comparison count of the index search.
#include "policy.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace afp {

namespace {

// How many steps of `step` fit in `limit` (0 for NaN or less than one step).
int steps_within(double limit, double step) {
    if (!(limit >= step)) return 0;
    return static_cast<int>(std::floor(limit / step + 1e-9));
}

}  // namespace

std::vector<SearchStage> index_stages(double max_speed_change, uint64_t max_postings, uint32_t candidates,
                                      uint32_t min_votes, bool has_reference, double max_tempo_change,
                                      double max_pitch_semitones) {
    std::vector<SearchStage> stages;
    min_votes = std::max(min_votes, 1u);
    if (has_reference) {
        stages.push_back(SearchStage{1.0, 1.0, 1.0, true, 0, std::max(max_postings / kFastBudgetShare, kMinStageBudget),
                                     std::min(std::max(candidates, 1u), kFastCandidates), min_votes, false, false, 0});
    }
    stages.push_back(SearchStage{1.0, 1.0, 1.0, false, 0, std::max(max_postings, kMinStageBudget),
                                 std::max(candidates, 1u), min_votes, has_reference, false, 0});
    const uint64_t speed_budget = std::max(max_postings / kSpeedBudgetShare, kMinStageBudget);
    const uint64_t shape_budget = std::max(max_postings / kShapeBudgetShare, kMinStageBudget);
    const uint32_t rendition_votes = std::max(min_votes, kSpeedMinVotes);
    bool first = true;
    auto rendition = [&](double speed, double tempo, double pitch) {
        const bool cheap = tempo != 1.0;
        stages.push_back(SearchStage{speed, tempo, pitch, true, cheap ? kShapeProbeKeys : kSpeedProbeKeys,
                                     cheap ? shape_budget : speed_budget,
                                     cheap ? kShapeCandidates : kSpeedCandidates, rendition_votes, first, false, 0});
        first = false;
    };
    for (int k = 1; k <= steps_within(max_speed_change, kSpeedStep); ++k) {
        for (int sign = -1; sign <= 1; sign += 2) rendition(1.0 + sign * k * kSpeedStep, 1.0, 1.0);
    }
    for (int k = 1; k <= steps_within(max_tempo_change, kTempoStep); ++k) {
        for (int sign = -1; sign <= 1; sign += 2) rendition(1.0, 1.0 + sign * k * kTempoStep, 1.0);
    }
    for (int k = 1; k <= steps_within(max_pitch_semitones, kPitchStepSemitones); ++k) {
        for (int sign = -1; sign <= 1; sign += 2) {
            rendition(1.0, 1.0, std::exp2(sign * k * kPitchStepSemitones / 12.0));
        }
    }
    return stages;
}

std::vector<SearchStage> share_stages(double max_speed_change, bool has_reference) {
    std::vector<SearchStage> stages;
    auto share = [&](double speed, bool reference, uint32_t keys, double fraction, bool new_round) {
        stages.push_back(SearchStage{speed, 1.0, 1.0, reference, keys, 0, 0, 0, new_round, true, fraction});
    };
    if (has_reference) share(1.0, true, kShareFastProbeKeys, kShareFastFraction, false);
    share(1.0, false, 0, 0, has_reference);
    if (has_reference) {
        bool first = true;
        for (int k = 1; k <= steps_within(max_speed_change, kSpeedStep); ++k) {
            for (int sign = -1; sign <= 1; sign += 2) {
                share(1.0 + sign * k * kSpeedStep, true, kShareSpeedProbeKeys, kShareSpeedFraction, first);
                first = false;
            }
        }
    }
    return stages;
}

uint32_t renditions_tried(const SearchStage* stages, size_t n, size_t last_stage) {
    // Every stage of every round up to and including the one last_stage belongs to...
    size_t end = std::min(last_stage + 1, n);
    while (end < n && !stages[end].new_round) ++end;
    // ... counted once per rendition.
    std::vector<std::array<double, 3>> renditions;
    for (size_t i = 0; i < end; ++i) renditions.push_back({stages[i].speed, stages[i].tempo, stages[i].pitch});
    std::sort(renditions.begin(), renditions.end());
    return static_cast<uint32_t>(std::unique(renditions.begin(), renditions.end()) - renditions.begin());
}

uint32_t comparisons(double catalogue_rows, uint32_t rows_voted, uint32_t renditions) {
    const double rows = std::max({catalogue_rows, static_cast<double>(rows_voted), 1.0});
    const double n = rows * std::max(renditions, 1u);
    return n >= std::numeric_limits<uint32_t>::max() ? std::numeric_limits<uint32_t>::max() : static_cast<uint32_t>(n);
}

}  // namespace afp
