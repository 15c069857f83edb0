// peaks_test.cpp — local maxima in time and frequency, the adaptive floor and the density limit.
#include <gtest/gtest.h>

#include <vector>

#include "params.hpp"
#include "peaks.hpp"

using namespace afp;

namespace {

// A flat spectrogram with chosen cells raised.
struct Field {
    uint32_t frames;
    std::vector<std::vector<float>> cols;
    explicit Field(uint32_t n, float floor = 1.0f) : frames(n), cols(n, std::vector<float>(513, floor)) {}
    void set(uint32_t frame, uint32_t bin, float v) { cols[frame][bin] = v; }
    std::vector<Peak> pick(const ParamSet& p) {
        PeakPicker picker(p);
        for (uint32_t t = 0; t < frames; ++t) picker.column(t, cols[t].data());
        picker.finish();
        return picker.candidates();
    }
};

}  // namespace

TEST(PeakPicker, FindsIsolatedMaxima) {
    const ParamSet& p = default_params();
    Field f(100);
    f.set(20, 100, 50.0f);
    f.set(50, 300, 80.0f);
    f.set(90, 450, 60.0f);
    auto peaks = f.pick(p);
    ASSERT_EQ(peaks.size(), 3u);
    EXPECT_EQ(peaks[0].frame, 20u);
    EXPECT_EQ(peaks[0].bin, 100u);
    EXPECT_EQ(peaks[1].frame, 50u);
    EXPECT_EQ(peaks[1].bin, 300u);
    EXPECT_EQ(peaks[2].frame, 90u);
    EXPECT_EQ(peaks[2].bin, 450u);
    EXPECT_GT(peaks[1].strength, peaks[0].strength);
}

TEST(PeakPicker, SuppressesWeakerNeighbourWithinTheRegion) {
    const ParamSet& p = default_params();
    Field f(60);
    f.set(30, 200, 80.0f);
    f.set(30 + p.peak_time_radius, 200 + p.peak_freq_radius, 70.0f);       // inside: suppressed
    f.set(30 + p.peak_time_radius + 1, 200, 70.0f);                        // just outside in time: kept
    auto peaks = f.pick(p);
    ASSERT_EQ(peaks.size(), 2u);
    EXPECT_EQ(peaks[0].frame, 30u);
    EXPECT_EQ(peaks[1].frame, 30u + p.peak_time_radius + 1);
}

TEST(PeakPicker, IgnoresCellsBelowTheAbsoluteFloorOrOutsideTheBand) {
    const ParamSet& p = default_params();
    Field f(40, 0.0f);
    f.set(10, 200, p.power_floor / 2);  // a local maximum, but below the floor
    f.set(20, p.min_bin - 1, 100.0f);   // below the band
    f.set(30, p.max_bin + 1, 100.0f);   // above the band
    EXPECT_TRUE(f.pick(p).empty());
}

TEST(PeakPicker, RequiresProminenceOverTheLocalMean) {
    const ParamSet& p = default_params();
    Field f(40, 10.0f);
    f.set(20, 200, 10.0f * p.min_prominence * 0.9f);  // a maximum, not prominent enough
    f.set(20, 400, 10.0f * p.min_prominence * 2.0f);
    auto peaks = f.pick(p);
    ASSERT_EQ(peaks.size(), 1u);
    EXPECT_EQ(peaks[0].bin, 400u);
}

TEST(DensityLimit, KeepsTheStrongestPerWindow) {
    ParamSet p = default_params();
    p.peaks_per_window = 2;
    p.density_radius = 5;
    // Four peaks in one window: the two strongest survive. A lone far peak survives too.
    std::vector<Peak> in = {{10, 100, 1.0f}, {11, 200, 4.0f}, {12, 300, 3.0f}, {13, 400, 2.0f}, {100, 100, 0.5f}};
    auto kept = limit_density(in, p);
    ASSERT_EQ(kept.size(), 3u);
    EXPECT_EQ(kept[0].bin, 200u);
    EXPECT_EQ(kept[1].bin, 300u);
    EXPECT_EQ(kept[2].frame, 100u);
}
