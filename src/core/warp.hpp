// warp.hpp — a clip's landmarks as they would read had its audio been played at another speed.
#pragma once

#include <cstdint>
#include <vector>

#include "afp_format.h"
#include "landmarks.hpp"

namespace afp {

// Rewrites each landmark of a valid body for audio sped up by `speed` (1.02 = 2% faster and
// higher): times are multiplied by speed and frequencies divided by it, so a clip recorded from a
// sped-up source reads in the original's coordinates again. Pairs whose warped fields leave the
// target zone are dropped. Returns landmarks sorted by (hash, frame) without duplicates.
std::vector<Landmark> warp_landmarks(const AfpHeader& clip, double speed);

}  // namespace afp
