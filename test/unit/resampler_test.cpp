// resampler_test.cpp — the analysis resampler keeps length, pitch and level.
#include <gtest/gtest.h>

#include <cmath>

#include "resampler.hpp"
#include "synth.hpp"

using namespace afp;

namespace {

// Counts upward zero crossings, a frequency estimate independent of the FFT under test elsewhere.
double estimate_hz(const std::vector<float>& x, double rate) {
    int crossings = 0;
    for (size_t i = 1; i < x.size(); ++i)
        if (x[i - 1] < 0 && x[i] >= 0) ++crossings;
    return crossings * rate / static_cast<double>(x.size());
}

std::vector<float> run(const std::vector<float>& in, double from, double to, size_t block) {
    Resampler r(from, to);
    std::vector<float> out;
    for (size_t i = 0; i < in.size(); i += block) r.push(in.data() + i, std::min(block, in.size() - i), out);
    r.flush(out);
    return out;
}

}  // namespace

TEST(Resampler, DownsamplesToEightKilohertz) {
    auto tone = test::sine(1000.0, 2.0, 44100, 0.5);
    auto out = run(tone.samples, 44100, 8000, 4096);
    EXPECT_NEAR(static_cast<double>(out.size()), 16000.0, 20.0);
    EXPECT_NEAR(estimate_hz(out, 8000), 1000.0, 5.0);
    float peak = 0;
    for (size_t i = 1000; i < out.size() - 1000; ++i) peak = std::max(peak, std::fabs(out[i]));
    EXPECT_NEAR(peak, 0.5f, 0.02f);
}

TEST(Resampler, RemovesContentAboveTheNewNyquist) {
    auto tone = test::sine(6000.0, 1.0, 44100, 0.5);  // above 4 kHz: must not alias into the band
    auto out = run(tone.samples, 44100, 8000, 4096);
    double energy = 0;
    for (size_t i = 500; i < out.size() - 500; ++i) energy += out[i] * out[i];
    EXPECT_LT(std::sqrt(energy / (out.size() - 1000)), 0.005);
}

TEST(Resampler, OutputDoesNotDependOnBlockSize) {
    auto song = test::to_mono(test::synth_song(2, 3.0));
    auto a = run(song.samples, 44100, 8000, 4096);
    auto b = run(song.samples, 44100, 8000, 1000);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-6f) << i;
}

TEST(Resampler, PassesThroughAtTheSameRate) {
    auto tone = test::sine(300.0, 0.5, 8000);
    auto out = run(tone.samples, 8000, 8000, 777);
    EXPECT_EQ(out, tone.samples);
}
