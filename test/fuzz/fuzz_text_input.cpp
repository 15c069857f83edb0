// fuzz_text_input.cpp — libFuzzer target: the afp text input (afp_in). Valid text must print back
// to text that parses to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "facade.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);  // NUL-terminated copy
    AfpBuffer body;
    AfpStatus status;
    if (!afp_core_parse_text(text.c_str(), &body, &status)) return 0;
    AfpBuffer printed;
    if (!afp_core_format_text(body.data, body.size, &printed, &status)) __builtin_trap();
    AfpBuffer again;
    if (!afp_core_parse_text(reinterpret_cast<const char*>(printed.data), &again, &status)) __builtin_trap();
    if (again.size != body.size || std::memcmp(again.data, body.data, body.size) != 0) __builtin_trap();
    afp_core_free(&again);
    afp_core_free(&printed);
    afp_core_free(&body);
    return 0;
}
