// peaks.cpp — running-maximum filters (van Herk / Gil-Werman) keep peak picking linear in bins.
#include "peaks.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace afp {

namespace {

constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

// out[i] = max(in[i - r .. i + r]) for i in [0, n), reading -inf beyond the ends.
// padded must hold n + 2r values; fwd and bwd are scratch of the same size.
void running_max(const float* in, uint32_t n, uint32_t r, float* out, std::vector<float>& padded,
                 std::vector<float>& fwd, std::vector<float>& bwd) {
    const uint32_t w = 2 * r + 1;
    const uint32_t m = n + 2 * r;
    std::fill(padded.begin(), padded.begin() + r, kMinusInf);
    std::copy(in, in + n, padded.begin() + r);
    std::fill(padded.begin() + r + n, padded.begin() + m, kMinusInf);
    for (uint32_t i = 0; i < m; ++i) {
        fwd[i] = (i % w == 0) ? padded[i] : std::max(fwd[i - 1], padded[i]);
    }
    for (uint32_t i = m; i-- > 0;) {
        bwd[i] = (i == m - 1 || (i + 1) % w == 0) ? padded[i] : std::max(bwd[i + 1], padded[i]);
    }
    // Window [i, i + w - 1] of padded is centred on in[i].
    for (uint32_t i = 0; i < n; ++i) out[i] = std::max(bwd[i], fwd[i + w - 1]);
}

}  // namespace

PeakPicker::PeakPicker(const ParamSet& params)
    : params_(params),
      band_(params.max_bin - params.min_bin + 1),
      ring_(2 * params.peak_time_radius + 1),
      power_(static_cast<size_t>(ring_) * band_),
      freq_max_(static_cast<size_t>(ring_) * band_),
      prefix_(static_cast<size_t>(ring_) * (band_ + 1)),
      scratch_(band_ + 2 * params.peak_freq_radius),
      block_fwd_(scratch_.size()),
      block_bwd_(scratch_.size()) {}

void PeakPicker::column(uint32_t frame, const float* power) {
    const size_t s = slot(frame);
    float* p = &power_[s * band_];
    std::copy(power + params_.min_bin, power + params_.max_bin + 1, p);
    running_max(p, band_, params_.peak_freq_radius, &freq_max_[s * band_], scratch_, block_fwd_, block_bwd_);
    double* sums = &prefix_[s * (band_ + 1)];
    sums[0] = 0.0;
    for (uint32_t b = 0; b < band_; ++b) sums[b + 1] = sums[b] + p[b];
    received_ = frame + 1;
    // A column is decided once every column within peak_time_radius after it has arrived.
    while (decided_ + params_.peak_time_radius < received_) decide(decided_++);
}

void PeakPicker::finish() {
    while (decided_ < received_) decide(decided_++);
}

// Appends the peaks of one column, looking at the columns around it that exist.
void PeakPicker::decide(uint32_t frame) {
    const uint32_t r = params_.peak_time_radius;
    const uint32_t first = frame >= r ? frame - r : 0;
    const uint32_t last = std::min(frame + r, received_ - 1);
    const size_t s = slot(frame);
    const float* p = &power_[s * band_];
    const float* fmax = &freq_max_[s * band_];
    const double* sums = &prefix_[s * (band_ + 1)];
    const uint32_t mr = params_.mean_radius;
    for (uint32_t b = 0; b < band_; ++b) {
        const float v = p[b];
        if (v < params_.power_floor || v < fmax[b]) continue;
        bool is_max = true;
        for (uint32_t t = first; t <= last && is_max; ++t) {
            if (t != frame && freq_max_[slot(t) * band_ + b] > v) is_max = false;
        }
        if (!is_max) continue;
        const uint32_t lo = b >= mr ? b - mr : 0;
        const uint32_t hi = std::min(b + mr, band_ - 1);
        const double mean = (sums[hi + 1] - sums[lo]) / (hi - lo + 1);
        if (v < mean * params_.min_prominence) continue;
        // Ranked by prominence and loudness together: prominence alone favours faint peaks
        // that noise buries first; weighting in half the log power keeps the peaks that survive
        // noise, band limiting and codecs (docs/accuracy.md, "peak strength").
        candidates_.push_back(Peak{frame, b + params_.min_bin, static_cast<float>(std::log(v / mean) + 0.5 * std::log(v))});
    }
}

std::vector<Peak> limit_density(const std::vector<Peak>& candidates, const ParamSet& params) {
    std::vector<Peak> kept;
    const uint32_t radius = params.density_radius;
    size_t lo = 0;
    size_t hi = 0;
    for (size_t i = 0; i < candidates.size(); ++i) {
        const Peak& me = candidates[i];
        while (candidates[lo].frame + radius < me.frame) ++lo;
        while (hi < candidates.size() && candidates[hi].frame <= me.frame + radius) ++hi;
        uint32_t stronger = 0;
        for (size_t j = lo; j < hi && stronger < params.peaks_per_window; ++j) {
            const float other = candidates[j].strength;
            if (other > me.strength || (other == me.strength && j < i)) ++stronger;
        }
        if (stronger < params.peaks_per_window) kept.push_back(me);
    }
    return kept;
}

}  // namespace afp
