// format.hpp — building, validating and printing afp datum bodies (layout in afp_format.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "afp_format.h"
#include "landmarks.hpp"
#include "params.hpp"

namespace afp {

// Builds a body from landmarks already sorted by (hash, frame) without duplicates.
std::vector<uint8_t> encode_body(const ParamSet& params, uint32_t n_samples, const std::vector<Landmark>& landmarks);

// Throws Error(Malformed) with a sentence saying what is wrong unless size bytes form a valid body:
// known version and parameter set, matching rate and hop, exact size for the count, hashes of that
// set, frames inside the audio, and landmarks strictly ascending by (hash, frame).
void validate_body(const uint8_t* body, size_t size);

// Parses "version:param_set:sample_rate:hop:n_samples:hash@frame,hash@frame,..." into a valid body.
std::vector<uint8_t> parse_text(const char* text);

// The landmarks of a valid body anchored in [first_frame, end_frame), moved to start at frame 0:
// the fingerprint of that stretch of the audio, up to the pairs that crossed its start.
std::vector<uint8_t> slice_body(const uint8_t* body, uint32_t first_frame, uint32_t end_frame);

// Seconds from the start of a valid body's audio to the start of its last analysis frame (its
// duration less one FFT window): the span its landmarks can be anchored in.
double anchored_seconds(const uint8_t* body) noexcept;

// Decodes the binary wire form (afp_send: version u8, param_set u8, hop u16, sample_rate, n_samples,
// count u32, then count (hash, frame) pairs, all big-endian) into a valid body.
std::vector<uint8_t> parse_binary(const uint8_t* data, size_t size);

// The binary wire form of a valid body, the one parse_binary reads (afp_send sends it): the only
// writer of that form, used by the glue, the tools and the tests.
std::vector<uint8_t> format_binary(const uint8_t* body, size_t size);

// Prints a valid body in the text form parse_text reads.
std::string format_text(const uint8_t* body, size_t size);

}  // namespace afp
