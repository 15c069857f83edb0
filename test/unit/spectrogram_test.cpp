// spectrogram_test.cpp — frames, window and FFT: a sinusoid lands in its bin.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "params.hpp"
#include "spectrogram.hpp"
#include "synth.hpp"

using namespace afp;

namespace {

struct Recorder : ColumnSink {
    std::vector<std::vector<float>> columns;
    std::vector<uint32_t> frames;
    void column(uint32_t frame, const float* power) override {
        frames.push_back(frame);
        columns.emplace_back(power, power + 513);
    }
};

}  // namespace

TEST(Spectrogram, FrameCountFollowsHop) {
    const ParamSet& p = default_params();
    EXPECT_EQ(Spectrogram::frames_for(p, 0), 0u);
    EXPECT_EQ(Spectrogram::frames_for(p, p.fft_size - 1), 0u);
    EXPECT_EQ(Spectrogram::frames_for(p, p.fft_size), 1u);
    EXPECT_EQ(Spectrogram::frames_for(p, p.fft_size + p.hop), 2u);
    EXPECT_EQ(Spectrogram::frames_for(p, 8000), (8000u - 1024u) / 128u + 1u);
}

TEST(Spectrogram, SineAtBinCentrePeaksInThatBin) {
    const ParamSet& p = default_params();
    for (uint32_t bin : {40u, 128u, 300u, 480u}) {
        const double hz = bin * static_cast<double>(p.sample_rate) / p.fft_size;
        auto tone = test::sine(hz, 1.0, static_cast<int>(p.sample_rate), 0.5);
        Recorder rec;
        Spectrogram spec(p, rec);
        spec.push(tone.samples.data(), tone.samples.size());
        ASSERT_EQ(rec.columns.size(), Spectrogram::frames_for(p, tone.samples.size()));
        for (const auto& col : rec.columns) {
            const auto top = std::max_element(col.begin(), col.end()) - col.begin();
            EXPECT_EQ(static_cast<uint32_t>(top), bin);
        }
        // Hann window: a full-scale-relative amplitude A gives |X| = A * N / 4 at the centre bin.
        const double expected = std::pow(0.5 * p.fft_size / 4.0, 2.0);
        EXPECT_NEAR(rec.columns[3][bin], expected, expected * 0.01);
    }
}

TEST(Spectrogram, SplitPushesGiveTheSameColumns) {
    const ParamSet& p = default_params();
    auto song = test::to_mono(test::synth_song(4, 2.0, 8000, 1));
    Recorder whole;
    Recorder split;
    {
        Spectrogram s(p, whole);
        s.push(song.samples.data(), song.samples.size());
    }
    {
        Spectrogram s(p, split);
        for (size_t i = 0; i < song.samples.size(); i += 333)
            s.push(song.samples.data() + i, std::min<size_t>(333, song.samples.size() - i));
    }
    ASSERT_EQ(whole.columns.size(), split.columns.size());
    for (size_t f = 0; f < whole.columns.size(); ++f) {
        EXPECT_EQ(whole.frames[f], f);
        ASSERT_EQ(whole.columns[f], split.columns[f]) << "frame " << f;
    }
}
