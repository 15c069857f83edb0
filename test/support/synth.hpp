// synth.hpp — deterministic synthetic "songs" (chords, melody, drums) and degradations for tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace afp::test {

// A small deterministic PRNG (xorshift64*), identical on every platform.
class Rng {
public:
    explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
    uint64_t next() {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545F4914F6CDD1Dull;
    }
    double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
    int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }

private:
    uint64_t state_;
};

// Interleaved float audio.
struct Audio {
    int rate = 0;
    int channels = 0;
    std::vector<float> samples;  // frames * channels
    size_t frames() const { return channels == 0 ? 0 : samples.size() / static_cast<size_t>(channels); }
};

// A song of the given length: tempo, key, chords, melody and drum pattern all follow from seed.
// tempo != 1 plays the same song that much faster with its pitch kept (every event and duration
// divided by it, as a time-stretch would), pitch != 1 with every tone's frequency multiplied by it
// and its timing kept (a pitch shift); the drums' noise has no pitch to shift.
Audio synth_song(uint64_t seed, double seconds, int rate = 44100, int channels = 2, double tempo = 1.0,
                 double pitch = 1.0);

// A pure sine of the given frequency and amplitude.
Audio sine(double hz, double seconds, int rate, double amplitude = 0.5);

// Frames [start_s, start_s + length_s) of audio.
Audio cut(const Audio& audio, double start_s, double length_s);

// Audio with white noise added at the given signal-to-noise ratio in dB.
Audio add_noise(const Audio& audio, double snr_db, uint64_t seed);

// Audio scaled by gain_db.
Audio scale(const Audio& audio, double gain_db);

// Mono downmix.
Audio to_mono(const Audio& audio);

// Linear-interpolation resampling (a crude degradation, not the analysis resampler).
Audio resample_linear(const Audio& audio, int rate);

// White noise of the given amplitude.
Audio white_noise(double seconds, int rate, double amplitude, uint64_t seed);

}  // namespace afp::test
