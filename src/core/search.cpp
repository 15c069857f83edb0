// search.cpp — the index vote: a flat open-addressing table of (row, offset bin) counts, sized from
// the plan so that a search allocates once.
#include "search.hpp"

#include <algorithm>
#include <numeric>

#include "errors.hpp"

namespace afp {

namespace {

// Bits of the offset bin in a vote key.
constexpr int kBinBits = 21;
constexpr uint64_t kBinMask = (uint64_t{1} << kBinBits) - 1;

// A bin of track frame - query frame, biased to be non-negative.
inline uint64_t bin_of(int64_t offset) noexcept {
    return static_cast<uint64_t>((offset + kMaxVoteOffset) / kOffsetBinFrames) & kBinMask;
}

// Fibonacci hashing: spreads keys that differ only in low bits (neighbouring bins, rows).
inline size_t spread(uint64_t key, size_t mask) noexcept {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

}  // namespace

IndexSearch::IndexSearch(const AfpHeader& query, SearchLimits limits) : limits_(limits) {
    const int32_t* h = afp_body_hashes(&query);
    const uint32_t* f = afp_body_frames(&query);
    hashes_.reserve(query.count);
    first_frame_.reserve(query.count + 1);
    frames_.reserve(query.count);
    for (uint32_t i = 0; i < query.count; ++i) {
        if (i == 0 || h[i] != h[i - 1]) {
            hashes_.push_back(h[i]);
            first_frame_.push_back(static_cast<uint32_t>(frames_.size()));
        }
        frames_.push_back(f[i]);
    }
    first_frame_.push_back(static_cast<uint32_t>(frames_.size()));
    planned_.assign(hashes_.size(), 0);
}

const std::vector<uint32_t>& IndexSearch::plan(const uint64_t* estimates) {
    order_.resize(hashes_.size());
    std::iota(order_.begin(), order_.end(), 0u);
    std::stable_sort(order_.begin(), order_.end(),
                     [&](uint32_t a, uint32_t b) { return estimates[a] < estimates[b]; });
    uint64_t spent = 0;
    uint64_t expected_votes = 0;
    size_t taken = 0;
    for (size_t k = 0; k < order_.size(); ++k) {
        const uint32_t i = order_[k];
        if (estimates[i] > 0 && spent + estimates[i] > limits_.max_postings) break;
        // A hash the query repeats at many frames is skipped when its votes would pass the bound;
        // rarer hashes of fewer frames may still fit.
        const uint64_t votes = estimates[i] * (first_frame_[i + 1] - first_frame_[i]);
        if (expected_votes + votes > kVotesPerPosting * limits_.max_postings) continue;
        spent += estimates[i];
        expected_votes += votes;
        planned_[i] = 1;
        order_[taken++] = i;
    }
    order_.resize(taken);
    // Room for every vote at a load of at most one half, and for the recent insertions.
    size_t size = 1024;
    while (size < 2 * expected_votes + 1024) size *= 2;
    table_.assign(size, Slot{kEmpty, 0, 0});
    used_ = 0;
    repeated_.clear();
    return order_;
}

int64_t IndexSearch::planned_index(int32_t hash) const noexcept {
    auto it = std::lower_bound(hashes_.begin(), hashes_.end(), hash);
    if (it == hashes_.end() || *it != hash) return -1;
    const auto i = static_cast<size_t>(it - hashes_.begin());
    return planned_[i] ? static_cast<int64_t>(i) : -1;
}

void IndexSearch::grow() {
    std::vector<Slot> old;
    old.swap(table_);
    table_.assign(old.size() * 2, Slot{kEmpty, 0, 0});
    const size_t mask = table_.size() - 1;
    for (const Slot& s : old) {
        if (s.key == kEmpty) continue;
        size_t p = spread(s.key, mask);
        while (table_[p].key != kEmpty) p = (p + 1) & mask;
        table_[p] = s;
    }
}

IndexSearch::Slot& IndexSearch::slot_for(uint64_t key) {
    if (table_.empty()) table_.assign(1024, Slot{kEmpty, 0, 0});
    if (2 * (used_ + 1) > table_.size()) grow();
    const size_t mask = table_.size() - 1;
    size_t p = spread(key, mask);
    while (table_[p].key != kEmpty && table_[p].key != key) p = (p + 1) & mask;
    if (table_[p].key == kEmpty) {
        table_[p] = Slot{key, 0, ~uint32_t{0}};
        ++used_;
    }
    return table_[p];
}

uint32_t IndexSearch::count_at(uint64_t key) const noexcept {
    if (table_.empty()) return 0;
    const size_t mask = table_.size() - 1;
    size_t p = spread(key, mask);
    while (table_[p].key != kEmpty) {
        if (table_[p].key == key) return table_[p].count;
        p = (p + 1) & mask;
    }
    return 0;
}

void IndexSearch::add(uint32_t hash_index, const uint64_t* rows, const uint32_t* frames, size_t n) {
    if (hash_index >= hashes_.size()) throw Error(ErrorKind::Malformed, "A posting names a hash the query does not have.");
    const uint32_t lo = first_frame_[hash_index];
    const uint32_t hi = first_frame_[hash_index + 1];
    for (size_t k = 0; k < n; ++k) {
        if (rows[k] >> kRowIdBits) throw Error(ErrorKind::Malformed, "A posting's row id is out of range.");
        for (uint32_t q = lo; q < hi; ++q) {
            const int64_t offset = static_cast<int64_t>(frames[k]) - frames_[q];
            if (offset <= -kMaxVoteOffset || offset >= kMaxVoteOffset) continue;
            const uint64_t key = rows[k] << kBinBits | bin_of(offset);
            Slot& s = slot_for(key);
            if (s.last_hash != hash_index) {
                s.last_hash = hash_index;
                if (++s.count == 2) repeated_.push_back(key);
            }
        }
    }
    postings_read_ += n;
}

const std::vector<RankedRow>& IndexSearch::rank() {
    ranked_.clear();
    // A window of two neighbouring bins; only bins with two votes or more can start a window that
    // reaches min_votes >= 3, which skips the singletons that chance leaves everywhere.
    // Those bins are listed as they reach two votes, so the table itself is walked only for a
    // min_votes below 3.
    auto consider = [&](uint64_t key, uint32_t count) {
        const uint64_t bin = key & kBinMask;
        const uint32_t below = bin > 0 ? count_at(key - 1) : 0;
        const uint32_t above = bin < kBinMask ? count_at(key + 1) : 0;
        const uint32_t votes = count + std::max(below, above);
        if (votes < limits_.min_votes) return;
        const uint64_t start = above >= below ? bin : bin - 1;
        ranked_.push_back(RankedRow{key >> kBinBits, votes,
                                    static_cast<int32_t>(static_cast<int64_t>(start) * kOffsetBinFrames - kMaxVoteOffset)});
    };
    if (limits_.min_votes >= 3) {
        for (uint64_t key : repeated_) consider(key, count_at(key));
    } else {
        for (const Slot& s : table_)
            if (s.key != kEmpty) consider(s.key, s.count);
    }
    // One entry per row, its best window; of equal windows the earliest, so the answer does not
    // depend on the order postings arrived in (the index's layout, the scan's order of hashes).
    std::sort(ranked_.begin(), ranked_.end(), [](const RankedRow& a, const RankedRow& b) {
        if (a.row != b.row) return a.row < b.row;
        if (a.votes != b.votes) return a.votes > b.votes;
        return a.offset_frames < b.offset_frames;
    });
    ranked_.erase(std::unique(ranked_.begin(), ranked_.end(),
                              [](const RankedRow& a, const RankedRow& b) { return a.row == b.row; }),
                  ranked_.end());
    std::stable_sort(ranked_.begin(), ranked_.end(),
                     [](const RankedRow& a, const RankedRow& b) { return a.votes > b.votes; });
    return ranked_;
}

}  // namespace afp
