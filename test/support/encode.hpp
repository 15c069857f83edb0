// encode.hpp — writes test audio into real containers in memory (libsndfile virtual I/O).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "synth.hpp"

namespace afp::test {

// A container and encoding, as libsndfile SF_FORMAT_* flags, with a file extension.
struct Container {
    int sf_format;
    const char* extension;
    const char* name;
};

// The containers fingerprint() promises to read.
extern const Container kWavPcm16, kWavPcm24, kWavPcm32, kWavPcmU8, kWavFloat, kWavDouble, kWavUlaw, kWavAlaw,
    kFlac, kOggVorbis, kOggOpus, kMp3;

// Encodes audio in the container; throws std::runtime_error if libsndfile refuses.
std::vector<uint8_t> encode(const Audio& audio, const Container& container);

// Writes bytes to a file; throws std::runtime_error on failure.
void write_file(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace afp::test
