// params.hpp — analysis parameter sets. A fingerprint records the id of the set that made it,
// and hashes carry that id in their top bits, so fingerprints from different sets never match.
#pragma once

#include <cstdint>

namespace afp {

// Every knob of the analysis, with its unit.
struct ParamSet {
    uint8_t id;                  // stored in the afp header and in bits 24..30 of every hash
    uint32_t sample_rate;        // Hz, the analysis rate audio is resampled to
    uint32_t fft_size;           // samples per STFT frame (Hann window)
    uint32_t hop;                // samples between frames
    uint32_t min_bin;            // lowest FFT bin searched for peaks
    uint32_t max_bin;            // highest FFT bin searched for peaks
    uint32_t peak_freq_radius;   // bins: a peak is the maximum of (2r+1) bins ...
    uint32_t peak_time_radius;   // frames: ... by (2r+1) frames around it
    uint32_t mean_radius;        // bins: half-width of the local mean a peak must stand above
    float min_prominence;        // power ratio a peak must reach over that local mean
    float power_floor;           // absolute power below which nothing is a peak (Hann, full scale = 65536)
    uint32_t density_radius;     // frames: half-width of the window that limits peak density
    uint32_t peaks_per_window;   // peaks kept per density window, strongest first
    uint32_t fan_out;            // targets paired with each anchor peak
    uint32_t min_dt;             // frames: target zone starts this long after the anchor
    uint32_t max_dt;             // frames: target zone ends this long after the anchor
    int32_t max_df;              // bins: target zone spans anchor bin +- max_df
    float silence_level;         // sample magnitude under which the whole input counts as silent
};

// The parameter set fingerprint() uses today.
const ParamSet& default_params() noexcept;

// The analysis of a clip to be matched against fingerprints of `reference`: the same hashes, with
// twice the peaks per density window and twice the fan-out. A noisy clip loses many of the
// reference's peaks; drawing four times the landmarks from it finds more of those that survive,
// at the cost of a bigger index probe (measured in docs/accuracy.md).
const ParamSet& query_params(const ParamSet& reference) noexcept;

// The set with this id, or nullptr when the id is unknown.
const ParamSet* find_params(uint8_t id) noexcept;

// Hash layout inside the low 24 bits: f1 (9 bits) | df + 128 (8 bits) | dt (7 bits).
inline constexpr int kHashBits = 24;
inline constexpr int kF1Bits = 9;
inline constexpr int kDfBits = 8;
inline constexpr int kDtBits = 7;
inline constexpr int32_t kDfBias = 1 << (kDfBits - 1);

}  // namespace afp
