// fuzz_search.cpp — libFuzzer target: the index search policy (plan -> postings -> vote -> rank)
// on an arbitrary afp value and arbitrary postings, as landmarkscan.c drives it. The input is a
// text afp value, '|', then bytes read as a budget, per-hash estimates and postings. Checks the
// guarantees the glue relies on: the plan stays within the budget and names real hashes, ranked
// rows are ones that were fed, with at least min_votes, best first.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "facade.h"

namespace {

// Reads little pieces of the tail; zero once it is used up.
struct Bytes {
    const uint8_t* p;
    size_t n;
    template <typename T>
    T take() {
        T v{};
        const size_t k = std::min(sizeof(T), n);
        std::memcpy(&v, p, k);
        p += k;
        n -= k;
        return v;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    const size_t cut = input.find('|');
    if (cut == std::string::npos) return 0;
    AfpBuffer query;
    AfpStatus status;
    if (!afp_core_parse_text(input.substr(0, cut).c_str(), &query, &status)) return 0;
    Bytes rest{data + cut + 1, size - cut - 1};
    const uint64_t budget = 1 + rest.take<uint16_t>();
    const uint32_t min_votes = 1 + rest.take<uint8_t>() % 8;
    AfpSearch* search = afp_core_search_new(reinterpret_cast<const AfpHeader*>(query.data), budget, min_votes, &status);
    if (search == nullptr) __builtin_trap();
    const int32_t* hashes;
    const uint32_t nh = afp_core_search_hashes(search, &hashes);
    std::vector<uint64_t> estimates(nh);
    for (auto& e : estimates) e = rest.take<uint8_t>();
    const uint32_t* order;
    uint32_t nplanned;
    if (!afp_core_search_plan(search, estimates.data(), &order, &nplanned, &status)) __builtin_trap();
    uint64_t spent = 0;
    for (uint32_t k = 0; k < nplanned; ++k) {
        if (order[k] >= nh || afp_core_search_planned_index(search, hashes[order[k]]) != order[k]) __builtin_trap();
        spent += estimates[order[k]];
    }
    if (spent > budget) __builtin_trap();
    std::set<uint64_t> fed;
    while (rest.n > 0 && nplanned > 0) {
        const uint32_t i = order[rest.take<uint8_t>() % nplanned];
        uint64_t row = rest.take<uint16_t>() % 64;  // few rows, so that votes pile up
        uint32_t frame = rest.take<uint16_t>();
        if (!afp_core_search_add(search, i, &row, &frame, 1, &status)) __builtin_trap();
        fed.insert(row);
    }
    const AfpRankedRow* ranked;
    uint32_t nr;
    if (!afp_core_search_rank(search, &ranked, &nr, &status)) __builtin_trap();
    for (uint32_t k = 0; k < nr; ++k) {
        if (!fed.count(ranked[k].row) || ranked[k].votes < min_votes) __builtin_trap();
        if (k > 0 && ranked[k].votes > ranked[k - 1].votes) __builtin_trap();
    }
    afp_core_search_free(search);
    afp_core_free(&query);
    return 0;
}
