// fuzz_fingerprint.cpp — libFuzzer target: arbitrary bytes through decode + fingerprint, as
// fingerprint() and match_clip() receive them. Every outcome must be a status, never a crash,
// a sanitizer report or a hang.
#include <cstddef>
#include <cstdint>

#include "facade.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Small caps keep each run fast; the caps themselves are part of what is exercised.
    const AfpAudioLimits limits{30.0, 4u << 20, uint64_t{30} * 48000 * 8};
    AfpBuffer out;
    AfpBuffer reference;
    AfpStatus status;
    if (afp_core_fingerprint(data, size, &limits, false, nullptr, &out, &status)) {
        if (!afp_core_validate(out.data, out.size, &status)) __builtin_trap();  // output must be a valid datum
        afp_core_free(&out);
    }
    if (afp_core_fingerprint_clip(data, size, &limits, nullptr, &out, &reference, &status)) {
        afp_core_free(&out);
        afp_core_free(&reference);
    }
    return 0;
}
