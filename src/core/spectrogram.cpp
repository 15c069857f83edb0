// spectrogram.cpp — one FFTW plan per size and process, created with FFTW_ESTIMATE for bit-exact reruns.
#include "spectrogram.hpp"

#include <fftw3.h>

#include <cmath>
#include <cstddef>
#include <map>
#include <new>

namespace afp {

namespace {

// A real-to-complex plan for one size, made once per process and kept: planning is the expensive
// part of FFTW, and FFTW_ESTIMATE (no timing, no wisdom) makes the plan the same on every run.
struct CachedPlan {
    fftwf_plan plan = nullptr;
    float* in = nullptr;
    fftwf_complex* out = nullptr;
};

const CachedPlan& plan_for(uint32_t n) {
    // Never destroyed: the plans live as long as the backend, and a static map's destructor at
    // exit would drop the only pointers to the FFTW buffers (LeakSanitizer calls that a leak).
    static auto* const cache = new std::map<uint32_t, CachedPlan>();
    std::map<uint32_t, CachedPlan>& plans = *cache;
    auto it = plans.find(n);
    if (it != plans.end()) return it->second;
    CachedPlan p;
    p.in = static_cast<float*>(fftwf_malloc(sizeof(float) * n));
    p.out = static_cast<fftwf_complex*>(fftwf_malloc(sizeof(fftwf_complex) * (n / 2 + 1)));
    if (p.in == nullptr || p.out == nullptr) {
        fftwf_free(p.in);
        fftwf_free(p.out);
        throw std::bad_alloc();
    }
    p.plan = fftwf_plan_dft_r2c_1d(static_cast<int>(n), p.in, p.out, FFTW_ESTIMATE);
    if (p.plan == nullptr) {
        fftwf_free(p.in);
        fftwf_free(p.out);
        throw std::bad_alloc();
    }
    return plans.emplace(n, p).first->second;
}

}  // namespace

Spectrogram::Spectrogram(const ParamSet& params, ColumnSink& sink)
    : params_(params), sink_(sink), window_(params.fft_size), power_(params.fft_size / 2 + 1) {
    const double n = params.fft_size;
    for (uint32_t i = 0; i < params.fft_size; ++i) {
        window_[i] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * M_PI * i / n));
    }
    pending_.reserve(params.fft_size * 2);
}

Spectrogram::~Spectrogram() = default;

uint32_t Spectrogram::frames_for(const ParamSet& params, uint64_t n_samples) noexcept {
    if (n_samples < params.fft_size) return 0;
    return static_cast<uint32_t>((n_samples - params.fft_size) / params.hop + 1);
}

void Spectrogram::push(const float* samples, size_t n) {
    // Samples are copied once into pending_, which always starts at the next frame's first sample.
    pending_.insert(pending_.end(), samples, samples + n);
    size_t start = 0;
    while (start + params_.fft_size <= pending_.size()) {
        emit_frame(pending_.data() + start);
        start += params_.hop;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(start));
}

// Windows one frame, transforms it and forwards its power spectrum.
void Spectrogram::emit_frame(const float* start) {
    const CachedPlan& p = plan_for(params_.fft_size);
    const uint32_t size = params_.fft_size;
    for (uint32_t i = 0; i < size; ++i) p.in[i] = start[i] * window_[i];
    fftwf_execute(p.plan);
    const uint32_t bins = size / 2 + 1;
    for (uint32_t k = 0; k < bins; ++k) {
        power_[k] = p.out[k][0] * p.out[k][0] + p.out[k][1] * p.out[k][1];
    }
    sink_.column(frame_++, power_.data());
}

}  // namespace afp
