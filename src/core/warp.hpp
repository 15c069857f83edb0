// warp.hpp — a clip's landmarks as they would read had its audio been played at another speed.
#pragma once

#include <cstdint>
#include <vector>

#include "afp_format.h"
#include "landmarks.hpp"

namespace afp {

// Rewrites each landmark of a valid body with times multiplied by time_scale and frequencies by
// freq_scale (both in (0.5, 2)), so a clip of a changed source reads in the original's coordinates
// again: audio sped up by s (faster and higher, a turntable) is undone by (s, 1/s), a tempo change
// r with the pitch kept by (r, 1), a pitch shift p with the tempo kept by (1, 1/p). Pairs whose
// warped fields leave the target zone or the band are dropped. Returns landmarks sorted by
// (hash, frame) without duplicates.
std::vector<Landmark> warp_landmarks(const AfpHeader& clip, double time_scale, double freq_scale);

}  // namespace afp
