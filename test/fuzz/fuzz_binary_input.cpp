// fuzz_binary_input.cpp — libFuzzer target: the afp binary receive path (afp_recv) — the wire
// format (big-endian header, then (hash, frame) pairs) decoded the way the glue decodes it, then
// the core's validation every received value passes; valid values must survive text output.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "afp_format.h"
#include "facade.h"

namespace {
uint32_t be32(const uint8_t* p) { return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]; }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 16) return 0;  // afp_recv reports a short message before this point
    AfpHeader h{};
    h.version = data[0];
    h.param_set = data[1];
    h.hop = static_cast<uint16_t>((data[2] << 8) | data[3]);
    h.sample_rate = be32(data + 4);
    h.n_samples = be32(data + 8);
    h.count = be32(data + 12);
    if (uint64_t{h.count} * 8 != size - 16) return 0;  // afp_recv's count check
    std::vector<uint8_t> body(afp_body_size(h.count));
    auto* hp = reinterpret_cast<AfpHeader*>(body.data());
    *hp = h;
    auto* hashes = const_cast<int32_t*>(afp_body_hashes(hp));
    auto* frames = const_cast<uint32_t*>(afp_body_frames(hp));
    for (uint32_t i = 0; i < h.count; ++i) {
        hashes[i] = static_cast<int32_t>(be32(data + 16 + 8 * i));
        frames[i] = be32(data + 20 + 8 * i);
    }
    AfpStatus status;
    if (!afp_core_validate(body.data(), body.size(), &status)) return 0;
    AfpBuffer text;
    if (!afp_core_format_text(body.data(), body.size(), &text, &status)) __builtin_trap();
    afp_core_free(&text);
    return 0;
}
