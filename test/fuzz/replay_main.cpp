// replay_main.cpp — a main() for a libFuzzer target built without libFuzzer: runs
// LLVMFuzzerTestOneInput once on every file named on the command line and on every regular file
// inside the directories named (recursively, in sorted order). scripts/fuzz --valgrind links it
// with test/fuzz/fuzz_fingerprint.cpp and an uninstrumented core, and runs it under memcheck,
// which sees what AddressSanitizer cannot: reads of uninitialised memory.
//   replay INPUT_OR_DIR...
// Prints "replay: PATH" before each input (so a crash names its input) and, under valgrind,
// "replay: PATH: K valgrind errors" after each input that raised any. Ends with
// "replay: N inputs, M with errors" (M is 0 outside valgrind). Exit status: 0, or 1 when an input
// could not be read or no input was given.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define AFP_HAVE_VALGRIND 1
#endif
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;

// Errors memcheck has found so far in this process (0 when not running under valgrind).
unsigned long valgrind_errors() {
#ifdef AFP_HAVE_VALGRIND
    if (RUNNING_ON_VALGRIND) return VALGRIND_COUNT_ERRORS;
#endif
    return 0;
}

bool read_input(const std::string& path, std::vector<uint8_t>& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
    if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
    std::vector<std::string> inputs;
    for (int i = 1; i < argc; ++i) {
        std::error_code ec;
        if (fs::is_directory(argv[i], ec)) {
            std::vector<std::string> found;
            for (auto it = fs::recursive_directory_iterator(argv[i], ec); !ec && it != fs::recursive_directory_iterator();
                 it.increment(ec)) {
                if (it->is_regular_file(ec)) found.push_back(it->path().string());
            }
            std::sort(found.begin(), found.end());
            inputs.insert(inputs.end(), found.begin(), found.end());
        } else {
            inputs.push_back(argv[i]);
        }
    }
    if (inputs.empty()) {
        std::fprintf(stderr, "usage: %s INPUT_OR_DIR...   (no input files found)\n", argv[0]);
        return 1;
    }

    int status = 0;
    size_t with_errors = 0;
    std::vector<uint8_t> bytes;
    for (const std::string& path : inputs) {
        if (!read_input(path, bytes)) {
            std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
            status = 1;
            continue;
        }
        std::fprintf(stderr, "replay: %s\n", path.c_str());
        // An exactly sized heap copy, so that memcheck flags a read one byte past the input.
        std::unique_ptr<uint8_t[]> data(new uint8_t[bytes.empty() ? 1 : bytes.size()]);
        std::copy(bytes.begin(), bytes.end(), data.get());
        const unsigned long before = valgrind_errors();
        LLVMFuzzerTestOneInput(data.get(), bytes.size());
        const unsigned long raised = valgrind_errors() - before;
        if (raised > 0) {
            ++with_errors;
            std::fprintf(stderr, "replay: %s: %lu valgrind errors\n", path.c_str(), raised);
        }
    }
    std::fprintf(stderr, "replay: %zu inputs, %zu with errors\n", inputs.size(), with_errors);
    return status;
}
