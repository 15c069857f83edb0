// policy.cpp — the stage list and the comparison count of the index search.
#include "policy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace afp {

std::vector<SearchStage> index_stages(double max_speed_change, uint64_t max_postings, uint32_t candidates,
                                      uint32_t min_votes, bool has_reference) {
    std::vector<SearchStage> stages;
    min_votes = std::max(min_votes, 1u);
    if (has_reference) {
        stages.push_back(SearchStage{1.0, true, 0, std::max(max_postings / kFastBudgetShare, kMinStageBudget),
                                     std::min(std::max(candidates, 1u), kFastCandidates), min_votes, false});
    }
    stages.push_back(SearchStage{1.0, false, 0, std::max(max_postings, kMinStageBudget), std::max(candidates, 1u),
                                 min_votes, has_reference});
    if (!(max_speed_change >= kSpeedStep)) return stages;  // also false for NaN
    const int steps = static_cast<int>(std::floor(max_speed_change / kSpeedStep + 1e-9));
    const uint64_t budget = std::max(max_postings / kSpeedBudgetShare, kMinStageBudget);
    for (int k = 1; k <= steps; ++k) {
        for (int sign = -1; sign <= 1; sign += 2) {
            stages.push_back(SearchStage{1.0 + sign * k * kSpeedStep, true, kSpeedProbeKeys, budget, kSpeedCandidates,
                                         std::max(min_votes, kSpeedMinVotes), k == 1 && sign == -1});
        }
    }
    return stages;
}

uint32_t renditions_tried(const SearchStage* stages, size_t n, size_t last_stage) {
    // Every stage of every round up to and including the one last_stage belongs to...
    size_t end = std::min(last_stage + 1, n);
    while (end < n && !stages[end].new_round) ++end;
    // ... counted once per speed.
    std::vector<double> speeds;
    for (size_t i = 0; i < end; ++i) speeds.push_back(stages[i].speed);
    std::sort(speeds.begin(), speeds.end());
    return static_cast<uint32_t>(std::unique(speeds.begin(), speeds.end()) - speeds.begin());
}

uint32_t comparisons(double catalogue_rows, uint32_t rows_voted, uint32_t renditions) {
    const double rows = std::max({catalogue_rows, static_cast<double>(rows_voted), 1.0});
    const double n = rows * std::max(renditions, 1u);
    return n >= std::numeric_limits<uint32_t>::max() ? std::numeric_limits<uint32_t>::max() : static_cast<uint32_t>(n);
}

}  // namespace afp
