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

// Little-endian field writer, for patching container headers.
void put_le(std::vector<uint8_t>& b, size_t at, uint32_t v, int bytes);

// Ogg pages (RFC 3533): a 27-byte header ("OggS", version, flags, granule position at 6..13,
// serial number at 14..17, sequence number, CRC at 22..25, segment count at 26), the segment
// table, then a body as long as the sum of the lacing values.
struct OggPage {
    size_t offset;
    size_t size;
};
std::vector<OggPage> ogg_pages(const std::vector<uint8_t>& b);

// Recomputes a page's CRC after its bytes were changed.
void ogg_set_crc(std::vector<uint8_t>& b, const OggPage& page);

}  // namespace afp::test
