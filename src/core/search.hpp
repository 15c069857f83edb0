// search.hpp — the search policy of a landmark index: which of a query's hashes to read, how their
// postings vote on (row, time offset), and which rows are worth a full vote (matcher.hpp).
//
// The index stores one posting per landmark of every row: hash -> (row, anchor frame). A row that
// contains the query's audio has many postings whose frame minus the query landmark's frame is the
// same offset; a row that shares hashes by chance has them scattered over every offset. So the
// vote counts, per (row, offset bin), the distinct query hashes that land there, and ranks rows by
// their best pair of neighbouring bins.
//
// The work is bounded by a budget of postings, not by the catalogue: the glue reports how many
// postings each query hash has (from the index directory, before reading any), and the plan reads
// the rarest hashes first until the budget is spent. Rare hashes are the informative ones (a hash
// held by 10,000 rows aligns with some of them by chance anyway), so a bigger catalogue spends the
// same budget on fewer, rarer hashes instead of spending more time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "afp_format.h"
#include "facade.h"

namespace afp {

// Bits of a row id (opaque to the core: the glue packs a heap TID into them).
inline constexpr int kRowIdBits = 43;

// Half-range of the offsets a vote can hold, in frames (track frame - query frame).
inline constexpr int32_t kMaxVoteOffset = 1 << 21;

// Frames per offset bin. Two neighbouring bins (4 frames) cover the matcher's +-1 frame window
// wherever the true offset falls.
inline constexpr int32_t kOffsetBinFrames = 2;

// Votes (posting x query frame of its hash) a search may cast per posting of its budget. A clip's
// hashes occur a few times each, so the postings bound its work; a crafted query that repeats a
// few common hashes at every frame would otherwise cast postings x frames votes (13 hashes at
// 3,686 frames against 10,000 h: 73 s and 8.5 GB).
inline constexpr uint64_t kVotesPerPosting = 8;

struct SearchLimits {
    uint64_t max_postings = AFP_DEFAULT_INDEX_MAX_POSTINGS;  // postings read per search, at most (hashes with none are free)
    uint32_t min_votes = AFP_DEFAULT_INDEX_MIN_VOTES;        // distinct hashes in two neighbouring bins for a row to rank
};

// A row the index vote puts forward for a full vote.
struct RankedRow {
    uint64_t row;           // the glue's row id
    uint32_t votes;         // distinct query hashes in the row's best two neighbouring offset bins
    int32_t offset_frames;  // track frame - query frame at those bins (their start)
};

class IndexSearch {
public:
    // Reads the distinct hashes of the query (a validated datum body) and the frames they occur at.
    IndexSearch(const AfpHeader& query, SearchLimits limits);

    // The distinct hashes of the query, ascending.
    const std::vector<int32_t>& hashes() const noexcept { return hashes_; }

    // Chooses the hashes to read given estimates[i], the postings the index holds for hashes()[i]
    // (an upper bound is fine): ascending estimate, while the sum stays within the budget; hashes
    // with no postings are always taken (they cost nothing and may be in the index's recent
    // insertions, which estimates do not count). Returns hash indices in reading order.
    const std::vector<uint32_t>& plan(const uint64_t* estimates);

    // The index of hash in hashes() when the plan chose it, else -1.
    int64_t planned_index(int32_t hash) const noexcept;

    // Votes with postings of hashes()[hash_index]: rows[k] holds it at frames[k]. Hashes may come
    // in any order; postings of one hash may come in several calls, one after another (a posting
    // of another hash between them would let the hash vote twice); rows must be < 2^kRowIdBits.
    void add(uint32_t hash_index, const uint64_t* rows, const uint32_t* frames, size_t n);

    // Rows with at least min_votes, most votes first (ties: lower row id first), each at its
    // window with the most votes (ties: the earliest). The same whatever order hashes came in.
    const std::vector<RankedRow>& rank();

    // Postings voted so far.
    uint64_t postings_read() const noexcept { return postings_read_; }

private:
    struct Slot {
        uint64_t key;        // row << 21 | bin, or kEmpty
        uint32_t count;      // distinct hashes that voted here
        uint32_t last_hash;  // the last hash index that voted here, so a hash votes once per slot
    };
    static constexpr uint64_t kEmpty = ~uint64_t{0};

    Slot& slot_for(uint64_t key);
    uint32_t count_at(uint64_t key) const noexcept;
    void grow();

    SearchLimits limits_;
    std::vector<int32_t> hashes_;          // distinct, ascending
    std::vector<uint32_t> first_frame_;    // CSR: frames of hashes_[i] are frames_[first_frame_[i] .. first_frame_[i+1])
    std::vector<uint32_t> frames_;
    std::vector<uint32_t> order_;          // the plan
    std::vector<uint8_t> planned_;         // per hash index
    std::vector<Slot> table_;              // open addressing, power-of-two size
    std::vector<uint64_t> repeated_;       // keys of slots that reached two votes: where rank() looks
    size_t used_ = 0;
    uint64_t postings_read_ = 0;
    std::vector<RankedRow> ranked_;
};

}  // namespace afp
