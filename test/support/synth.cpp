// synth.cpp — additive synthesis; every random choice comes from Rng, so output is reproducible.
#include "synth.hpp"

#include <algorithm>
#include <cmath>

namespace afp::test {

namespace {

constexpr double kTwoPi = 6.283185307179586;

double midi_hz(int note) { return 440.0 * std::pow(2.0, (note - 69) / 12.0); }

// Adds a note with a few harmonics and an attack/decay envelope to a mono buffer.
void add_note(std::vector<double>& out, int rate, double start_s, double length_s, double hz, double amp,
              int harmonics, double decay) {
    const size_t start = static_cast<size_t>(start_s * rate);
    const size_t n = static_cast<size_t>(length_s * rate);
    for (size_t i = 0; i < n && start + i < out.size(); ++i) {
        const double t = static_cast<double>(i) / rate;
        const double env = std::min(1.0, t / 0.01) * std::exp(-decay * t);
        double v = 0.0;
        for (int h = 1; h <= harmonics; ++h) v += std::sin(kTwoPi * hz * h * t) / h;
        out[start + i] += amp * env * v;
    }
}

// The sound of one song's drums: every song gets its own kit, as produced music does.
struct DrumKit {
    double kick_hz;      // resting pitch of the kick sweep
    double kick_decay;   // 1/s
    double snare_lp;     // one-pole low-pass coefficient of the snare noise
    double hat_lp;       // one-pole low-pass coefficient subtracted from the hat noise
};

// Adds a drum hit: a pitch-swept sine (kick) or filtered noise burst (snare, hat).
void add_drum(std::vector<double>& out, int rate, double start_s, int kind, const DrumKit& kit, Rng& rng) {
    const size_t start = static_cast<size_t>(start_s * rate);
    const double length = kind == 0 ? 0.25 : kind == 1 ? 0.18 : 0.05;
    const size_t n = static_cast<size_t>(length * rate);
    double lp = 0.0;
    double phase = 0.0;
    for (size_t i = 0; i < n && start + i < out.size(); ++i) {
        const double t = static_cast<double>(i) / rate;
        double v;
        if (kind == 0) {
            phase += kTwoPi * (kit.kick_hz + 2.0 * kit.kick_hz * std::exp(-t * 30.0)) / rate;
            v = 0.9 * std::sin(phase) * std::exp(-t * kit.kick_decay);
        } else {
            const double noise = rng.uniform() * 2.0 - 1.0;
            lp += (kind == 1 ? kit.snare_lp : kit.hat_lp) * (noise - lp);
            const double band = kind == 1 ? lp : noise - lp;  // snare: low-passed, hat: high-passed
            v = (kind == 1 ? 0.5 : 0.25) * band * std::exp(-t * (kind == 1 ? 20.0 : 60.0));
        }
        out[start + i] += v;
    }
}

}  // namespace

Audio synth_song(uint64_t seed, double seconds, int rate, int channels, double tempo, double pitch) {
    Rng rng(seed);
    const size_t frames = static_cast<size_t>(seconds * rate);
    std::vector<double> left(frames, 0.0);
    std::vector<double> right(frames, 0.0);

    const double bpm = 90.0 + rng.below(50);
    const double beat = 60.0 / (bpm * tempo);
    const int key = 48 + rng.below(12);
    static const int kMajor[] = {0, 2, 4, 5, 7, 9, 11};
    int progression[4];
    for (int& degree : progression) degree = rng.below(7);
    const int beats = static_cast<int>(seconds / beat) + 1;
    DrumKit kit{40.0 + 40.0 * rng.uniform(), 8.0 + 10.0 * rng.uniform(), 0.15 + 0.35 * rng.uniform(),
                0.6 + 0.35 * rng.uniform()};
    kit.kick_hz *= pitch;

    for (int b = 0; b < beats; ++b) {
        const double t = b * beat;
        // Chords: a triad per bar, re-struck every two beats, in the left-leaning channel.
        if (b % 2 == 0) {
            const int degree = progression[(b / 4) % 4];
            for (int k = 0; k < 3; ++k) {
                const int step = degree + 2 * k;
                const int note = key + kMajor[step % 7] + 12 * (step / 7);
                add_note(left, rate, t, 2.0 * beat, pitch * midi_hz(note), 0.06, 3, 1.5 * tempo);
                add_note(right, rate, t, 2.0 * beat, pitch * midi_hz(note), 0.04, 3, 1.5 * tempo);
            }
        }
        // Melody: two eighth notes per beat, a random walk on the scale, right-leaning.
        for (int e = 0; e < 2; ++e) {
            if (rng.uniform() < 0.2) continue;
            const int step = 7 + rng.below(10);
            const int note = key + 12 + kMajor[step % 7] + 12 * (step / 7 - 1);
            const double start = t + e * beat / 2.0;
            add_note(left, rate, start, beat / 2.0, pitch * midi_hz(note), 0.05, 5, 4.0 * tempo);
            add_note(right, rate, start, beat / 2.0, pitch * midi_hz(note), 0.08, 5, 4.0 * tempo);
        }
        // Drums: kick on 1 and 3, snare on 2 and 4, hats on eighths.
        std::vector<double>* both[] = {&left, &right};
        for (auto* ch : both) {
            Rng drum_rng(seed * 1000 + static_cast<uint64_t>(b));
            add_drum(*ch, rate, t, b % 2 == 0 ? 0 : 1, kit, drum_rng);
            add_drum(*ch, rate, t, 2, kit, drum_rng);
            add_drum(*ch, rate, t + beat / 2.0, 2, kit, drum_rng);
        }
    }

    Audio out;
    out.rate = rate;
    out.channels = channels;
    out.samples.resize(frames * static_cast<size_t>(channels));
    for (size_t i = 0; i < frames; ++i) {
        if (channels == 1) {
            out.samples[i] = static_cast<float>(std::tanh(0.5 * (left[i] + right[i])));
        } else {
            for (int c = 0; c < channels; ++c) {
                out.samples[i * channels + c] = static_cast<float>(std::tanh(c % 2 == 0 ? left[i] : right[i]));
            }
        }
    }
    return out;
}

Audio sine(double hz, double seconds, int rate, double amplitude) {
    Audio out;
    out.rate = rate;
    out.channels = 1;
    out.samples.resize(static_cast<size_t>(seconds * rate));
    for (size_t i = 0; i < out.samples.size(); ++i) {
        out.samples[i] = static_cast<float>(amplitude * std::sin(kTwoPi * hz * static_cast<double>(i) / rate));
    }
    return out;
}

Audio cut(const Audio& audio, double start_s, double length_s) {
    Audio out;
    out.rate = audio.rate;
    out.channels = audio.channels;
    const size_t first = static_cast<size_t>(std::llround(start_s * audio.rate));
    const size_t count = static_cast<size_t>(std::llround(length_s * audio.rate));
    const size_t last = std::min(audio.frames(), first + count);
    if (first < last) {
        out.samples.assign(audio.samples.begin() + static_cast<std::ptrdiff_t>(first * audio.channels),
                           audio.samples.begin() + static_cast<std::ptrdiff_t>(last * audio.channels));
    }
    return out;
}

Audio add_noise(const Audio& audio, double snr_db, uint64_t seed) {
    double power = 0.0;
    for (float s : audio.samples) power += static_cast<double>(s) * s;
    power /= std::max<size_t>(1, audio.samples.size());
    const double noise_rms = std::sqrt(power / std::pow(10.0, snr_db / 10.0));
    Rng rng(seed);
    Audio out = audio;
    // Uniform noise on [-a, a] has RMS a / sqrt(3).
    const double a = noise_rms * std::sqrt(3.0);
    for (float& s : out.samples) s = static_cast<float>(s + a * (rng.uniform() * 2.0 - 1.0));
    return out;
}

Audio scale(const Audio& audio, double gain_db) {
    Audio out = audio;
    const double g = std::pow(10.0, gain_db / 20.0);
    for (float& s : out.samples) s = static_cast<float>(s * g);
    return out;
}

Audio to_mono(const Audio& audio) {
    Audio out;
    out.rate = audio.rate;
    out.channels = 1;
    out.samples.resize(audio.frames());
    for (size_t i = 0; i < out.samples.size(); ++i) {
        double sum = 0.0;
        for (int c = 0; c < audio.channels; ++c) sum += audio.samples[i * audio.channels + c];
        out.samples[i] = static_cast<float>(sum / audio.channels);
    }
    return out;
}

Audio resample_linear(const Audio& audio, int rate) {
    Audio out;
    out.rate = rate;
    out.channels = audio.channels;
    const size_t in_frames = audio.frames();
    const size_t frames = static_cast<size_t>(static_cast<double>(in_frames) * rate / audio.rate);
    out.samples.resize(frames * audio.channels);
    for (size_t i = 0; i < frames; ++i) {
        const double pos = static_cast<double>(i) * audio.rate / rate;
        const size_t k = static_cast<size_t>(pos);
        const double frac = pos - k;
        for (int c = 0; c < audio.channels; ++c) {
            const float a = audio.samples[k * audio.channels + c];
            const float b = k + 1 < in_frames ? audio.samples[(k + 1) * audio.channels + c] : a;
            out.samples[i * audio.channels + c] = static_cast<float>(a + (b - a) * frac);
        }
    }
    return out;
}

Audio white_noise(double seconds, int rate, double amplitude, uint64_t seed) {
    Rng rng(seed);
    Audio out;
    out.rate = rate;
    out.channels = 1;
    out.samples.resize(static_cast<size_t>(seconds * rate));
    for (float& s : out.samples) s = static_cast<float>(amplitude * (rng.uniform() * 2.0 - 1.0));
    return out;
}

}  // namespace afp::test
