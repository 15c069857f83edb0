// fuzz_match.cpp — libFuzzer target: the query path of match_afp on arbitrary afp values. The
// input is split in two text values (clip, track); when both validate they are voted, warped
// and sliced as match_afp and match_segments do.
#include <cstddef>
#include <cstdint>
#include <string>

#include "facade.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    const size_t cut = input.find('|');
    if (cut == std::string::npos) return 0;
    const std::string a = input.substr(0, cut);
    const std::string b = input.substr(cut + 1);
    AfpBuffer clip;
    AfpBuffer track;
    AfpStatus status;
    if (!afp_core_parse_text(a.c_str(), &clip, &status)) return 0;
    if (!afp_core_parse_text(b.c_str(), &track, &status)) {
        afp_core_free(&clip);
        return 0;
    }
    const auto* ch = reinterpret_cast<const AfpHeader*>(clip.data);
    const auto* th = reinterpret_cast<const AfpHeader*>(track.data);
    AfpVote vote;
    if (afp_core_vote(ch, th, &vote, &status)) {
        const double c = afp_core_confidence(&vote, 1000);
        if (!(c >= 0.0 && c <= 1.0)) __builtin_trap();
    }
    AfpBuffer warped;
    if (afp_core_warp(ch, 1.035, 1.0, 1.0, &warped, &status)) {
        if (!afp_core_validate(warped.data, warped.size, &status)) __builtin_trap();
        afp_core_free(&warped);
    }
    AfpBuffer slice;
    if (afp_core_slice(th, 0.5, 3.0, &slice, &status)) {
        if (!afp_core_validate(slice.data, slice.size, &status)) __builtin_trap();
        afp_core_free(&slice);
    }
    afp_core_free(&clip);
    afp_core_free(&track);
    return 0;
}
