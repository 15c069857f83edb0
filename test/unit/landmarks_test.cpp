// landmarks_test.cpp — hash packing and target-zone pairing.
#include <gtest/gtest.h>

#include "landmarks.hpp"
#include "params.hpp"

using namespace afp;

TEST(HashPacking, RoundTripsEveryFieldAtItsLimits) {
    for (uint32_t f1 : {0u, 1u, 255u, 511u})
        for (int32_t df : {-128, -1, 0, 1, 127})
            for (uint32_t dt : {1u, 63u, 127u}) {
                const int32_t h = pack_hash(HashFields{1, f1, df, dt});
                const HashFields back = unpack_hash(h);
                EXPECT_EQ(back.param_set, 1);
                EXPECT_EQ(back.f1, f1);
                EXPECT_EQ(back.df, df);
                EXPECT_EQ(back.dt, dt);
                EXPECT_GE(h, 0);
                EXPECT_EQ(static_cast<uint32_t>(h) >> kHashBits, 1u);
            }
}

TEST(HashPacking, DifferentFieldsGiveDifferentHashes) {
    const int32_t a = pack_hash(HashFields{1, 100, 5, 10});
    EXPECT_NE(a, pack_hash(HashFields{1, 101, 5, 10}));
    EXPECT_NE(a, pack_hash(HashFields{1, 100, 6, 10}));
    EXPECT_NE(a, pack_hash(HashFields{1, 100, 5, 11}));
    EXPECT_NE(a, pack_hash(HashFields{2, 100, 5, 10}));
}

TEST(Landmarks, PairsWithinTheTargetZoneUpToFanOut) {
    ParamSet p = default_params();
    p.fan_out = 2;
    p.max_dt = 10;
    p.max_df = 50;
    // Anchor at frame 0 bin 100; targets at various distances.
    std::vector<Peak> peaks = {
        {0, 100, 1}, {0, 140, 1},   // same frame as anchor: dt = 0 is outside the zone
        {3, 120, 1},                 // in zone
        {5, 300, 1},                 // |df| too large for the first anchor
        {8, 90, 1},                  // in zone
        {9, 110, 1},                 // in zone but fan-out already reached
        {20, 100, 1},                // dt too large
    };
    auto lm = make_landmarks(peaks, p);
    std::vector<HashFields> from_first;
    for (const auto& l : lm) {
        const HashFields f = unpack_hash(l.hash);
        if (l.frame == 0 && f.f1 == 100) from_first.push_back(f);
        EXPECT_GE(f.dt, 1u);
        EXPECT_LE(f.dt, 10u);
        EXPECT_LE(std::abs(f.df), 50);
    }
    ASSERT_EQ(from_first.size(), 2u);
    // Sorted by hash: same f1, so by df: -10 (frame 8) before +20 (frame 3).
    EXPECT_EQ(from_first[0].df, -10);
    EXPECT_EQ(from_first[0].dt, 8u);
    EXPECT_EQ(from_first[1].df, 20);
    EXPECT_EQ(from_first[1].dt, 3u);
    EXPECT_TRUE(std::is_sorted(lm.begin(), lm.end()));
    EXPECT_EQ(std::adjacent_find(lm.begin(), lm.end()), lm.end());
}
