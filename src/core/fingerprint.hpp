// fingerprint.hpp — the whole analysis: decode, mono, resample, spectrogram, peaks, landmarks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "decoder.hpp"
#include "landmarks.hpp"
#include "params.hpp"

namespace afp {

// Caps on untrusted input.
struct AudioLimits {
    double max_seconds;  // decoded duration
    size_t max_bytes;    // encoded size
    uint64_t max_samples;  // decoded frames x channels: what decoding and resampling cost grows with
};

// A fingerprint before it is laid out as a datum body.
struct Fingerprint {
    uint32_t n_samples = 0;            // at the analysis rate
    std::vector<Landmark> landmarks;   // sorted by (hash, frame), no duplicates
};

// Fingerprints audio bytes with the given parameter set. Polls cancel between blocks of input and
// throws Error(Cancelled) when it returns true. With silent_ok, silence yields no landmarks instead
// of Error(Silent). Deterministic: the same bytes give the same landmarks on every run.
Fingerprint fingerprint_audio(const uint8_t* data, size_t size, const AudioLimits& limits, bool silent_ok,
                              CancelFn cancel, const ParamSet& params = default_params());

// A clip analysed once for two uses: the denser query landmarks (query_params) that vote, and the
// landmarks a track would have (reference params) that probe the index on the fast path.
struct ClipFingerprints {
    Fingerprint query;
    Fingerprint reference;
};

// Like fingerprint_audio with silent_ok, for a clip: one decode and one peak picking, two
// density limits and pairings.
ClipFingerprints fingerprint_clip(const uint8_t* data, size_t size, const AudioLimits& limits, CancelFn cancel,
                                  const ParamSet& reference = default_params());

}  // namespace afp
