// landmarks.hpp — pairs of peaks hashed to 32-bit keys.
#pragma once

#include <cstdint>
#include <vector>

#include "params.hpp"
#include "peaks.hpp"

namespace afp {

// One (hash, anchor frame) landmark.
struct Landmark {
    int32_t hash;
    uint32_t frame;

    friend bool operator<(const Landmark& a, const Landmark& b) noexcept {
        return a.hash != b.hash ? a.hash < b.hash : a.frame < b.frame;
    }
    friend bool operator==(const Landmark& a, const Landmark& b) noexcept {
        return a.hash == b.hash && a.frame == b.frame;
    }
};

// The fields a hash is built from.
struct HashFields {
    uint8_t param_set;
    uint32_t f1;  // anchor bin
    int32_t df;   // target bin minus anchor bin
    uint32_t dt;  // target frame minus anchor frame
};

// Packs (param set, f1, df, dt) into a non-negative int32: set in bits 24..30, then f1 | df | dt.
int32_t pack_hash(const HashFields& fields) noexcept;

// The inverse of pack_hash.
HashFields unpack_hash(int32_t hash) noexcept;

// Pairs each peak with up to fan_out later peaks in its target zone, nearest in time first,
// and returns the landmarks sorted by (hash, frame) without duplicates.
std::vector<Landmark> make_landmarks(const std::vector<Peak>& peaks, const ParamSet& params);

}  // namespace afp
