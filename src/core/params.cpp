// params.cpp — the table of known parameter sets.
#include "params.hpp"

namespace afp {

namespace {

// Parameter set 1: 8 kHz analysis, 128 ms frames every 16 ms, ~12 peaks and ~60 landmarks per second.
constexpr ParamSet kParamSet1{
    /* id */ 1,
    /* sample_rate */ 8000,
    /* fft_size */ 1024,
    /* hop */ 128,
    /* min_bin */ 16,            // 125 Hz
    /* max_bin */ 496,           // 3875 Hz
    /* peak_freq_radius */ 10,   // +-78 Hz
    /* peak_time_radius */ 6,    // +-96 ms
    /* mean_radius */ 32,        // +-250 Hz
    /* min_prominence */ 2.0f,   // 3 dB
    /* power_floor */ 6.5e-6f,   // -100 dB below a full-scale sine
    /* density_radius */ 31,     // ~1 s window
    /* peaks_per_window */ 12,
    /* fan_out */ 5,
    /* min_dt */ 1,
    /* max_dt */ 63,             // ~1 s
    /* max_df */ 127,            // +-992 Hz
    /* silence_level */ 2.5e-4f, // -72 dBFS
};

// Set 1 analysed for a query; see query_params().
constexpr ParamSet dense(const ParamSet& p) {
    ParamSet q = p;
    q.peaks_per_window = 2 * p.peaks_per_window;
    q.fan_out = 2 * p.fan_out;
    return q;
}
constexpr ParamSet kParamSet1Query = dense(kParamSet1);

}  // namespace

const ParamSet& default_params() noexcept { return kParamSet1; }

const ParamSet& query_params(const ParamSet& reference) noexcept {
    return reference.id == kParamSet1.id ? kParamSet1Query : reference;
}

const ParamSet* find_params(uint8_t id) noexcept { return id == kParamSet1.id ? &kParamSet1 : nullptr; }

}  // namespace afp
