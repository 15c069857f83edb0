// resampler.cpp — libsoxr in streaming mode; output depends only on the input samples and rates.
#include "resampler.hpp"

#include <soxr.h>

#include <cmath>
#include <string>

#include "errors.hpp"

namespace afp {

Resampler::Resampler(double in_rate, double out_rate) : ratio_(out_rate / in_rate) {
    if (in_rate == out_rate) return;
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    // Medium quality: -100 dB stop band, far below what peak picking can see.
    soxr_quality_spec_t quality = soxr_quality_spec(SOXR_MQ, 0);
    // One thread: a PostgreSQL backend must not grow worker threads.
    soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
    soxr_error_t error = nullptr;
    soxr_ = soxr_create(in_rate, out_rate, 1, &error, &io, &quality, &runtime);
    if (error != nullptr) {
        soxr_ = nullptr;
        throw std::runtime_error(std::string("soxr_create failed: ") + error);
    }
}

Resampler::~Resampler() {
    if (soxr_ != nullptr) soxr_delete(soxr_);
}

void Resampler::push(const float* in, size_t n, std::vector<float>& out) {
    if (soxr_ == nullptr) {
        out.insert(out.end(), in, in + n);
        return;
    }
    drain(in, n, out);
}

void Resampler::flush(std::vector<float>& out) {
    if (soxr_ != nullptr) drain(nullptr, 0, out);
}

// Feeds n samples (or, with in == nullptr, the end-of-input mark) and collects all output.
void Resampler::drain(const float* in, size_t n, std::vector<float>& out) {
    size_t consumed_total = 0;
    for (;;) {
        size_t room = static_cast<size_t>(std::ceil((n - consumed_total) * ratio_)) + 1024;
        size_t base = out.size();
        out.resize(base + room);
        size_t consumed = 0;
        size_t produced = 0;
        soxr_error_t error = soxr_process(soxr_, in == nullptr ? nullptr : in + consumed_total,
                                          n - consumed_total, &consumed, out.data() + base, room, &produced);
        if (error != nullptr) throw std::runtime_error(std::string("soxr_process failed: ") + error);
        out.resize(base + produced);
        consumed_total += consumed;
        if (consumed_total >= n && produced < room) return;
    }
}

}  // namespace afp
