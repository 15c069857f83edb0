// fuzz_binary_input.cpp — libFuzzer target: the afp binary receive path. afp_recv hands the
// bytes after the message header to afp_core_parse_binary, which this drives directly; valid
// values must print as text.
#include <cstddef>
#include <cstdint>

#include "facade.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    AfpBuffer body;
    AfpStatus status;
    if (!afp_core_parse_binary(data, size, &body, &status)) return 0;
    AfpBuffer text;
    if (!afp_core_format_text(body.data, body.size, &text, &status)) __builtin_trap();
    afp_core_free(&text);
    afp_core_free(&body);
    return 0;
}
