// spectrogram.hpp — streaming short-time power spectrum (FFTW, Hann window).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "params.hpp"

namespace afp {

// Receives one power spectrum column (bins 0..fft_size/2) per analysis frame.
class ColumnSink {
public:
    virtual ~ColumnSink() = default;
    virtual void column(uint32_t frame, const float* power) = 0;
};

// Cuts a mono stream into Hann-windowed frames and hands each frame's power spectrum to a sink.
class Spectrogram {
public:
    Spectrogram(const ParamSet& params, ColumnSink& sink);
    ~Spectrogram();
    Spectrogram(const Spectrogram&) = delete;
    Spectrogram& operator=(const Spectrogram&) = delete;

    // Consumes samples; emits every frame that now lies entirely inside the stream.
    void push(const float* samples, size_t n);

    // Number of whole frames in a stream of n samples.
    static uint32_t frames_for(const ParamSet& params, uint64_t n_samples) noexcept;

private:
    void emit_frame(const float* start);

    const ParamSet& params_;
    ColumnSink& sink_;
    std::vector<float> window_;
    std::vector<float> pending_;  // samples from the next frame's start onwards
    std::vector<float> power_;
    uint32_t frame_ = 0;
};

}  // namespace afp
