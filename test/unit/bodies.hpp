// bodies.hpp — datum bodies built from landmarks, for the unit tests of the matcher and the search.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "afp_format.h"
#include "format.hpp"
#include "landmarks.hpp"
#include "params.hpp"

namespace afp::test {

// A valid body of parameter set 1 holding these landmarks (sorted, duplicates dropped).
inline std::vector<uint8_t> body_with(const std::vector<Landmark>& lm, uint32_t n_samples) {
    std::vector<Landmark> sorted = lm;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    return encode_body(default_params(), n_samples, sorted);
}

// The header at the front of a body.
inline const AfpHeader& header(const std::vector<uint8_t>& body) {
    return *reinterpret_cast<const AfpHeader*>(body.data());
}

}  // namespace afp::test
