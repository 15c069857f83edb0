// fingerprint.cpp — streams audio through the pipeline block by block, so memory stays bounded by
// the peak list rather than by the input length, and cancellation is checked every block.
#include "fingerprint.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "errors.hpp"
#include "peaks.hpp"
#include "resampler.hpp"
#include "spectrogram.hpp"

namespace afp {

namespace {

// Source frames decoded per block: ~93 ms at 44.1 kHz, small enough to cancel promptly.
constexpr size_t kBlockFrames = 4096;

// Feeds analysis-rate samples to the spectrogram and counts them.
class AnalysisStream {
public:
    explicit AnalysisStream(const ParamSet& params) : params_(params), picker_(params), spectrogram_(params, picker_) {}

    void push(const float* samples, size_t n) {
        n_samples_ += n;
        spectrogram_.push(samples, n);
    }

    Fingerprint finish() { return finish_as(params_); }

    // Density limit and pairing of the peaks found so far, with another set's density and fan-out
    // (the peak picking itself is the same for a set and its query analysis).
    Fingerprint finish_as(const ParamSet& params) {
        if (!finished_) picker_.finish();
        finished_ = true;
        Fingerprint fp;
        fp.n_samples = static_cast<uint32_t>(std::min<uint64_t>(n_samples_, UINT32_MAX));
        std::vector<Peak> peaks = limit_density(picker_.candidates(), params);
        fp.landmarks = make_landmarks(peaks, params);
        return fp;
    }

    uint64_t n_samples() const noexcept { return n_samples_; }

private:
    const ParamSet& params_;
    PeakPicker picker_;
    Spectrogram spectrogram_;
    uint64_t n_samples_ = 0;
    bool finished_ = false;
};


// What analysing an input found out besides its peaks.
struct Analysis {
    double seconds;  // decoded duration, at the source rate
    bool silent;     // no sample rose above params.silence_level (only returned with silent_ok)
};

// Decodes, resamples and analyses the whole input into stream. Silence throws Error(Silent) unless
// silent_ok.
Analysis analyse(const uint8_t* data, size_t size, const AudioLimits& limits, bool silent_ok, CancelFn cancel,
               const ParamSet& params, AnalysisStream& stream) {
    if (size > limits.max_bytes) {
        throw Error(ErrorKind::TooLarge, "The input has " + std::to_string(size) + " bytes; the limit is " +
                                             std::to_string(limits.max_bytes) + " bytes.");
    }
    MemoryDecoder decoder(data, size, limits.max_seconds, limits.max_samples);
    Resampler resampler(decoder.info().sample_rate, params.sample_rate);
    std::vector<float> mono;
    std::vector<float> resampled;
    mono.reserve(kBlockFrames);
    float peak_level = 0.0f;  // of the decoded audio, before resampling can smear a short input away
    for (;;) {
        if (cancel != nullptr && cancel()) throw Error(ErrorKind::Cancelled, "The call was cancelled.");
        mono.clear();
        const size_t n = decoder.read_mono(mono, kBlockFrames);
        if (n == 0) break;
        for (float v : mono) peak_level = std::max(peak_level, std::fabs(v));
        resampled.clear();
        resampler.push(mono.data(), n, resampled);
        stream.push(resampled.data(), resampled.size());
    }
    resampled.clear();
    resampler.flush(resampled);
    stream.push(resampled.data(), resampled.size());

    if (decoder.frames_read() == 0) throw Error(ErrorKind::NoSamples, "The container holds no audio frames.");
    const double seconds = static_cast<double>(decoder.frames_read()) / decoder.info().sample_rate;
    if (peak_level < params.silence_level) {
        if (!silent_ok) {
            char level[32];
            std::snprintf(level, sizeof level, "%.0f", 20.0 * std::log10(params.silence_level));
            throw Error(ErrorKind::Silent, "No sample of the " + std::to_string(decoder.frames_read()) +
                                               " decoded frames rises above " + level + " dBFS.");
        }
        return Analysis{seconds, true};
    }
    return Analysis{seconds, false};
}

// The fingerprint of silence: no landmark, the length of the input.
Fingerprint empty_fingerprint(const AnalysisStream& stream) {
    Fingerprint empty;
    empty.n_samples = static_cast<uint32_t>(std::min<uint64_t>(stream.n_samples(), UINT32_MAX));
    return empty;
}

}  // namespace

Fingerprint fingerprint_audio(const uint8_t* data, size_t size, const AudioLimits& limits, bool silent_ok,
                              CancelFn cancel, const ParamSet& params) {
    AnalysisStream stream(params);
    if (analyse(data, size, limits, silent_ok, cancel, params, stream).silent) return empty_fingerprint(stream);
    return stream.finish();
}

ClipFingerprints fingerprint_clip(const uint8_t* data, size_t size, const AudioLimits& limits, CancelFn cancel,
                                  const ParamSet& reference) {
    const ParamSet& query = query_params(reference);
    AnalysisStream stream(query);
    ClipFingerprints fps;
    if (analyse(data, size, limits, true, cancel, query, stream).silent) {
        fps.query = empty_fingerprint(stream);
        fps.reference = fps.query;
        return fps;
    }
    fps.query = stream.finish_as(query);
    fps.reference = stream.finish_as(reference);
    return fps;
}

}  // namespace afp
