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

// How a clip relates to its track: played faster by speed (tempo and pitch together), time-stretched
// by tempo (pitch kept), pitch-shifted by pitch (tempo kept); 1 for none. Its scales undo it.
struct Rendition {
    double speed = 1.0;
    double tempo = 1.0;
    double pitch = 1.0;

    double time_scale() const noexcept { return speed * tempo; }
    double freq_scale() const noexcept { return 1.0 / (speed * pitch); }
};

}  // namespace afp
