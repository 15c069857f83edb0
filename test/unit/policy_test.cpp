// policy_test.cpp — the stages of the index search and the comparisons confidence counts.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "policy.hpp"

using namespace afp;

TEST(Policy, AsRecordedFirstThenSpeedsClosestFirstAsOneRound) {
    auto st = index_stages(0.05, 200000, 20, 3, false);
    ASSERT_EQ(st.size(), 21u);
    EXPECT_EQ(st[0].speed, 1.0);
    EXPECT_FALSE(st[0].probe_reference);
    EXPECT_EQ(st[0].probe_keys, 0u);
    EXPECT_EQ(st[0].max_postings, 200000u);
    EXPECT_EQ(st[0].candidates, 20u);
    EXPECT_EQ(st[0].min_votes, 3u);
    EXPECT_FALSE(st[0].new_round);
    EXPECT_NEAR(st[1].speed, 0.995, 1e-12);
    EXPECT_NEAR(st[2].speed, 1.005, 1e-12);
    EXPECT_NEAR(st[20].speed, 1.05, 1e-12);
    EXPECT_TRUE(st[1].new_round);
    for (size_t i = 2; i < st.size(); ++i) EXPECT_FALSE(st[i].new_round) << i;
    for (size_t i = 1; i < st.size(); ++i) {
        EXPECT_TRUE(st[i].probe_reference);
        EXPECT_EQ(st[i].probe_keys, kSpeedProbeKeys);
        EXPECT_EQ(st[i].max_postings, 200000u / kSpeedBudgetShare);
        EXPECT_EQ(st[i].candidates, kSpeedCandidates);
        EXPECT_EQ(st[i].min_votes, kSpeedMinVotes);
    }
}

TEST(Policy, NoSpeedSearchBelowOneStepOrForNaN) {
    EXPECT_EQ(index_stages(0.0, 200000, 20, 3, false).size(), 1u);
    EXPECT_EQ(index_stages(0.004, 200000, 20, 3, false).size(), 1u);
    EXPECT_EQ(index_stages(std::nan(""), 200000, 20, 3, false).size(), 1u);
    EXPECT_EQ(index_stages(0.2, 200000, 20, 3, false).size(), 81u);
}

TEST(Policy, BudgetsHaveAFloor) {
    auto st = index_stages(0.01, 10, 0, 0, false);
    EXPECT_EQ(st[0].max_postings, kMinStageBudget);
    EXPECT_EQ(st[0].candidates, 1u);
    EXPECT_EQ(st[0].min_votes, 1u);
    EXPECT_EQ(index_stages(0.01, 1000, 1, 9, false)[1].min_votes, 9u);   // a stricter setting wins
    EXPECT_EQ(st[1].max_postings, kMinStageBudget);
}

TEST(Policy, RenditionsCountWholeRounds) {
    auto st = index_stages(0.05, 200000, 20, 3, false);
    EXPECT_EQ(renditions_tried(st.data(), st.size(), 0), 1u);
    EXPECT_EQ(renditions_tried(st.data(), st.size(), 1), 21u);
    EXPECT_EQ(renditions_tried(st.data(), st.size(), 20), 21u);
}

TEST(Policy, ComparisonsAreEveryRowTimesRenditions) {
    EXPECT_EQ(comparisons(1000.0, 20, 1), 1000u);
    EXPECT_EQ(comparisons(1000.0, 20, 21), 21000u);
    EXPECT_EQ(comparisons(0.0, 20, 1), 20u);    // a never-analysed table: the rows voted
    EXPECT_EQ(comparisons(0.0, 0, 0), 1u);
    EXPECT_EQ(comparisons(1e12, 1, 21), std::numeric_limits<uint32_t>::max());
}

TEST(Policy, AClipWithReferenceLandmarksGetsAFastStageFirst) {
    auto st = index_stages(0.05, 200000, 20, 3, true);
    ASSERT_EQ(st.size(), 22u);
    EXPECT_TRUE(st[0].probe_reference);
    EXPECT_EQ(st[0].probe_keys, 0u);
    EXPECT_EQ(st[0].max_postings, 200000u / kFastBudgetShare);
    EXPECT_EQ(st[0].candidates, kFastCandidates);
    EXPECT_FALSE(st[0].new_round);
    EXPECT_FALSE(st[1].probe_reference);
    EXPECT_EQ(st[1].max_postings, 200000u);
    EXPECT_TRUE(st[1].new_round);
    EXPECT_TRUE(st[2].new_round);
    // The fast and the direct stage probe the same rendition: one for confidence, until the speeds.
    EXPECT_EQ(renditions_tried(st.data(), st.size(), 0), 1u);
    EXPECT_EQ(renditions_tried(st.data(), st.size(), 1), 1u);
    EXPECT_EQ(renditions_tried(st.data(), st.size(), 2), 21u);
}

TEST(Policy, TempoAndPitchRenditionsJoinTheSpeedRound) {
    auto st = index_stages(0.01, 200000, 20, 3, false, 0.01, 1.0);
    // as recorded, 2 x 2 speeds, 2 x 2 tempos, 2 x 2 pitches (half and whole semitones)
    ASSERT_EQ(st.size(), 13u);
    EXPECT_TRUE(st[1].new_round);
    for (size_t i = 2; i < st.size(); ++i) EXPECT_FALSE(st[i].new_round) << i;
    EXPECT_NEAR(st[5].tempo, 0.995, 1e-12);
    EXPECT_EQ(st[5].speed, 1.0);
    EXPECT_EQ(st[5].pitch, 1.0);
    EXPECT_NEAR(st[5].time_scale(), 0.995, 1e-12);
    EXPECT_NEAR(st[5].freq_scale(), 1.0, 1e-12);
    EXPECT_NEAR(st[12].pitch, std::exp2(1.0 / 12.0), 1e-12);
    EXPECT_NEAR(st[12].time_scale(), 1.0, 1e-12);
    EXPECT_NEAR(st[12].freq_scale(), std::exp2(-1.0 / 12.0), 1e-12);
    EXPECT_NEAR(st[1].time_scale() * st[1].freq_scale(), 1.0, 1e-12);   // a speed warps both
    EXPECT_EQ(renditions_tried(st.data(), st.size(), 1), 13u);
    // Without speed search the tempo renditions open the round.
    auto only_tempo = index_stages(0.0, 200000, 20, 3, false, 0.005, 0.0);
    ASSERT_EQ(only_tempo.size(), 3u);
    EXPECT_TRUE(only_tempo[1].new_round);
    EXPECT_EQ(index_stages(0.0, 200000, 20, 3, false, std::nan(""), std::nan("")).size(), 1u);
}

TEST(Policy, TempoRenditionsProbeMoreCheaplyThanSpeedsAndPitches) {
    auto st = index_stages(0.005, 200000, 20, 3, false, 0.005, 0.5);
    ASSERT_EQ(st.size(), 7u);
    for (size_t i : {1, 2, 5, 6}) {
        EXPECT_EQ(st[i].probe_keys, kSpeedProbeKeys);
        EXPECT_EQ(st[i].max_postings, 200000u / kSpeedBudgetShare);
        EXPECT_EQ(st[i].candidates, kSpeedCandidates);
    }
    for (size_t i : {3, 4}) {
        EXPECT_EQ(st[i].probe_keys, kShapeProbeKeys) << i;
        EXPECT_EQ(st[i].max_postings, 200000u / kShapeBudgetShare) << i;
        EXPECT_EQ(st[i].candidates, kShapeCandidates) << i;
        EXPECT_EQ(st[i].min_votes, kSpeedMinVotes) << i;
    }
}
