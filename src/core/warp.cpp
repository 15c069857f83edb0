// warp.cpp — speed-change search works on landmarks, not audio: re-decoding and re-analysing a
// clip for every candidate speed would cost a full fingerprint each, warping costs microseconds.
#include "warp.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "errors.hpp"
#include "params.hpp"

namespace afp {

std::vector<Landmark> warp_landmarks(const AfpHeader& clip, double time_scale, double freq_scale) {
    const ParamSet* params = find_params(clip.param_set);
    if (params == nullptr) throw Error(ErrorKind::Malformed, "The value uses an unknown parameter set.");
    if (!(time_scale > 0.5 && time_scale < 2.0) || !(freq_scale > 0.5 && freq_scale < 2.0)) {
        throw std::invalid_argument("The warp factors are out of range.");
    }
    const int32_t* hashes = afp_body_hashes(&clip);
    const uint32_t* frames = afp_body_frames(&clip);
    std::vector<Landmark> out;
    out.reserve(clip.count);
    for (uint32_t i = 0; i < clip.count; ++i) {
        const HashFields f = unpack_hash(hashes[i]);
        const long t1 = std::lround(frames[i] * time_scale);
        const long t2 = std::lround((static_cast<double>(frames[i]) + f.dt) * time_scale);
        const long f1 = std::lround(f.f1 * freq_scale);
        const long f2 = std::lround((static_cast<double>(f.f1) + f.df) * freq_scale);
        const long dt = t2 - t1;
        const long df = f2 - f1;
        if (dt < static_cast<long>(params->min_dt) || dt > static_cast<long>(params->max_dt)) continue;
        if (std::labs(df) > params->max_df) continue;
        // A hash whose anchor or target leaves the band is one no reference holds (format.cpp refuses it).
        if (f1 < static_cast<long>(params->min_bin) || f1 > static_cast<long>(params->max_bin)) continue;
        if (f2 < static_cast<long>(params->min_bin) || f2 > static_cast<long>(params->max_bin)) continue;
        out.push_back(Landmark{pack_hash(HashFields{f.param_set, static_cast<uint32_t>(f1), static_cast<int32_t>(df),
                                                    static_cast<uint32_t>(dt)}),
                               static_cast<uint32_t>(t1)});
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace afp
