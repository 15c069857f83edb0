// landmarks.cpp — Shazam-style anchor/target-zone pairing.
#include "landmarks.hpp"

#include <algorithm>
#include <cstdlib>

namespace afp {

int32_t pack_hash(const HashFields& f) noexcept {
    const uint32_t f1 = f.f1 & ((1u << kF1Bits) - 1);
    const uint32_t df = static_cast<uint32_t>(f.df + kDfBias) & ((1u << kDfBits) - 1);
    const uint32_t dt = f.dt & ((1u << kDtBits) - 1);
    const uint32_t low = (f1 << (kDfBits + kDtBits)) | (df << kDtBits) | dt;
    return static_cast<int32_t>((static_cast<uint32_t>(f.param_set & 0x7f) << kHashBits) | low);
}

HashFields unpack_hash(int32_t hash) noexcept {
    const uint32_t h = static_cast<uint32_t>(hash);
    HashFields f;
    f.param_set = static_cast<uint8_t>((h >> kHashBits) & 0x7f);
    f.f1 = (h >> (kDfBits + kDtBits)) & ((1u << kF1Bits) - 1);
    f.df = static_cast<int32_t>((h >> kDtBits) & ((1u << kDfBits) - 1)) - kDfBias;
    f.dt = h & ((1u << kDtBits) - 1);
    return f;
}

std::vector<Landmark> make_landmarks(const std::vector<Peak>& peaks, const ParamSet& params) {
    std::vector<Landmark> out;
    out.reserve(peaks.size() * params.fan_out);
    for (size_t i = 0; i < peaks.size(); ++i) {
        const Peak& anchor = peaks[i];
        uint32_t paired = 0;
        for (size_t j = i + 1; j < peaks.size() && paired < params.fan_out; ++j) {
            const Peak& target = peaks[j];
            const uint32_t dt = target.frame - anchor.frame;
            if (dt > params.max_dt) break;
            if (dt < params.min_dt) continue;
            const int32_t df = static_cast<int32_t>(target.bin) - static_cast<int32_t>(anchor.bin);
            if (std::abs(df) > params.max_df) continue;
            out.push_back(Landmark{pack_hash(HashFields{params.id, anchor.bin, df, dt}), anchor.frame});
            ++paired;
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace afp
