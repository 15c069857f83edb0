// search_test.cpp — the index search policy: the plan spends the budget on the rarest hashes, the
// vote finds the row whose postings align, and neither a repeated hash nor scattered postings
// can make a row rank.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>

#include "errors.hpp"
#include "bodies.hpp"
#include "format.hpp"
#include "landmarks.hpp"
#include "search.hpp"
#include "synth.hpp"

using namespace afp;
using afp::test::body_with;
using afp::test::header;

namespace {

uint32_t u(int v) { return static_cast<uint32_t>(v); }

int32_t hash_n(uint32_t n) { return pack_hash({1, n % 512, static_cast<int32_t>(n / 512 % 200) - 100, 1 + n / 102400 % 60}); }

// A toy index: hash -> postings (row, frame).
struct ToyIndex {
    std::map<int32_t, std::vector<std::pair<uint64_t, uint32_t>>> postings;

    void add_row(uint64_t row, const std::vector<Landmark>& lm) {
        for (const Landmark& l : lm) postings[l.hash].push_back({row, l.frame});
    }

    // Drives a search the way the glue does: estimates, plan, postings of each planned hash, rank.
    // reorder, when given, permutes the planned hashes first (the glue reads them in its layout's order).
    std::vector<RankedRow> search(const AfpHeader& query, SearchLimits limits, uint64_t* read = nullptr,
                                  const std::function<void(std::vector<uint32_t>&)>& reorder = {}) {
        IndexSearch s(query, limits);
        std::vector<uint64_t> estimates;
        for (int32_t h : s.hashes()) estimates.push_back(postings.count(h) ? postings[h].size() : 0);
        std::vector<uint32_t> planned = s.plan(estimates.data());
        if (reorder) reorder(planned);
        for (uint32_t i : planned) {
            auto it = postings.find(s.hashes()[i]);
            if (it == postings.end()) continue;
            std::vector<uint64_t> rows;
            std::vector<uint32_t> frames;
            for (auto& p : it->second) {
                rows.push_back(p.first);
                frames.push_back(p.second);
            }
            s.add(i, rows.data(), frames.data(), rows.size());
        }
        if (read) *read = s.postings_read();
        return s.rank();
    }
};

}  // namespace

TEST(IndexSearch, FindsTheRowWhoseLandmarksAlignAmongRowsSharingHashesByChance) {
    test::Rng rng(11);
    ToyIndex index;
    std::vector<Landmark> target;
    for (int i = 0; i < 600; ++i) target.push_back({hash_n(u(rng.below(50000))), u(rng.below(3000))});
    index.add_row(42, target);
    // 200 rows made of the same hashes at random times: they share hashes, not alignment.
    for (uint64_t row = 100; row < 300; ++row) {
        std::vector<Landmark> lm;
        for (int i = 0; i < 600; ++i) lm.push_back({target[u(rng.below(600))].hash, u(rng.below(3000))});
        index.add_row(row, lm);
    }
    // The clip: target landmarks between frames 1000 and 1300, moved to start at 0, half of them lost.
    std::vector<Landmark> clip;
    for (const Landmark& l : target)
        if (l.frame >= 1000 && l.frame < 1300 && rng.below(2) == 0) clip.push_back({l.hash, l.frame - 1000});
    auto cb = body_with(clip, 300 * 128);
    auto ranked = index.search(header(cb), SearchLimits{});
    ASSERT_FALSE(ranked.empty());
    EXPECT_EQ(ranked[0].row, 42u);
    EXPECT_NEAR(ranked[0].offset_frames, 1000, kOffsetBinFrames);
    EXPECT_GE(ranked[0].votes, clip.size() / 2);
    for (size_t k = 1; k < ranked.size(); ++k) EXPECT_LT(ranked[k].votes, ranked[0].votes / 4);
}

TEST(IndexSearch, PlanReadsTheRarestHashesWithinTheBudget) {
    std::vector<Landmark> clip;
    for (uint32_t n = 0; n < 10; ++n) clip.push_back({hash_n(n), n});
    auto cb = body_with(clip, 10 * 128);
    IndexSearch s(header(cb), SearchLimits{100, 3});
    // hash i holds 10 * (10 - i) postings, except hash 7, which holds none.
    std::vector<uint64_t> estimates;
    for (size_t i = 0; i < s.hashes().size(); ++i) estimates.push_back(i == 7 ? 0 : 10 * (10 - i));
    const auto& order = s.plan(estimates.data());
    // Free first, then 10 (i=9), 20 (i=8), 40 (i=6): 70; the next (50) would pass 100.
    ASSERT_EQ(order.size(), 4u);
    EXPECT_EQ(order[0], 7u);
    EXPECT_EQ(order[1], 9u);
    EXPECT_EQ(order[2], 8u);
    EXPECT_EQ(order[3], 6u);
    EXPECT_EQ(s.planned_index(s.hashes()[6]), 6);
    EXPECT_EQ(s.planned_index(s.hashes()[5]), -1);
    EXPECT_EQ(s.planned_index(hash_n(999)), -1);
}

TEST(IndexSearch, PlanBoundsVotesWhenAQueryRepeatsAHashAtManyFrames) {
    // Hash 0 at 1,000 frames: each of its postings pairs with every one of them.
    std::vector<Landmark> clip;
    for (uint32_t f = 0; f < 1000; ++f) clip.push_back({hash_n(0), f});
    clip.push_back({hash_n(1), 5});
    std::sort(clip.begin(), clip.end());
    auto cb = body_with(clip, 1000 * 128);
    IndexSearch s(header(cb), SearchLimits{100, 3});
    // 10 postings of hash 0 would be within the posting budget but cast 10,000 votes, more than
    // kVotesPerPosting x 100; hash 1 (20 postings, 20 votes) is read.
    const uint64_t estimates[] = {10, 20};
    const auto& order = s.plan(estimates);
    ASSERT_EQ(order.size(), 1u);
    EXPECT_EQ(order[0], 1u);
    EXPECT_EQ(s.planned_index(hash_n(0)), -1);
}

TEST(IndexSearch, BudgetBoundsThePostingsReadWhateverTheCatalogue) {
    test::Rng rng(3);
    ToyIndex index;
    std::vector<Landmark> clip;
    for (uint32_t n = 0; n < 300; ++n) clip.push_back({hash_n(n), u(rng.below(600))});
    for (uint64_t row = 0; row < 2000; ++row) {
        std::vector<Landmark> lm;
        for (int i = 0; i < 50; ++i) lm.push_back({hash_n(u(rng.below(300))), u(rng.below(10000))});
        index.add_row(row, lm);
    }
    auto cb = body_with(clip, 600 * 128);
    uint64_t read = 0;
    index.search(header(cb), SearchLimits{5000, 3}, &read);
    EXPECT_LE(read, 5000u);
    EXPECT_GT(read, 4000u);
}

TEST(IndexSearch, AHashVotesOncePerOffsetAndLonePostingsDoNotRank) {
    // One hash repeated at 20 clip frames and 20 track frames, all at offset 100: one vote.
    std::vector<Landmark> clip;
    std::vector<Landmark> row;
    const int32_t h = hash_n(7);
    for (uint32_t t = 0; t < 20; ++t) {
        clip.push_back({h, t * 5});
        row.push_back({h, 100 + t * 5});
    }
    ToyIndex index;
    index.add_row(1, row);
    auto cb = body_with(clip, 100 * 128);
    EXPECT_TRUE(index.search(header(cb), SearchLimits{}).empty());
    // Three distinct hashes aligned at one offset rank; with min_votes 4 they do not.
    ToyIndex three;
    three.add_row(5, {{hash_n(1), 501}, {hash_n(2), 520}, {hash_n(3), 540}});
    auto qb = body_with({{hash_n(1), 1}, {hash_n(2), 20}, {hash_n(3), 40}}, 50 * 128);
    auto ranked = three.search(header(qb), SearchLimits{});
    ASSERT_EQ(ranked.size(), 1u);
    EXPECT_EQ(ranked[0].row, 5u);
    EXPECT_EQ(ranked[0].votes, 3u);
    EXPECT_TRUE(three.search(header(qb), SearchLimits{200000, 4}).empty());
}

TEST(IndexSearch, NeighbouringBinsCountTogether) {
    // Offsets 500 and 501 fall in neighbouring bins or the same one; either way they are one window.
    ToyIndex index;
    index.add_row(9, {{hash_n(1), 500}, {hash_n(2), 511}, {hash_n(3), 521}, {hash_n(4), 531}});
    auto qb = body_with({{hash_n(1), 0}, {hash_n(2), 10}, {hash_n(3), 20}, {hash_n(4), 31}}, 40 * 128);
    auto ranked = index.search(header(qb), SearchLimits{});
    ASSERT_EQ(ranked.size(), 1u);
    EXPECT_EQ(ranked[0].votes, 4u);
}

TEST(IndexSearch, TheRankingDoesNotDependOnTheOrderHashesArriveIn) {
    // Row 3 holds the clip twice, at frames 1000 and 2000: two windows of equal votes. Row 4 holds
    // it once at 500, row 5 half of it. The index's layouts read the planned hashes in different
    // orders (a built index in hash order, a merged one in mix order): the same rows, votes and
    // windows (of equal ones, the earliest) come out of every order.
    test::Rng rng(5);
    std::vector<Landmark> clip;
    for (int i = 0; i < 80; ++i) clip.push_back({hash_n(u(rng.below(50000))), u(rng.below(300))});
    ToyIndex index;
    std::vector<Landmark> twice, once, half;
    for (const Landmark& l : clip) {
        // The two windows' postings in either order within a hash's list, so the window that
        // reaches two votes first depends on which hash is read second.
        const bool later_first = rng.below(2) == 0;
        twice.push_back({l.hash, l.frame + (later_first ? 2000u : 1000u)});
        twice.push_back({l.hash, l.frame + (later_first ? 1000u : 2000u)});
        once.push_back({l.hash, l.frame + 500});
        if (rng.below(2) == 0) half.push_back({l.hash, l.frame + 700});
    }
    index.add_row(3, twice);
    index.add_row(4, once);
    index.add_row(5, half);
    auto cb = body_with(clip, 300 * 128);
    auto as_planned = index.search(header(cb), SearchLimits{});
    auto reversed = index.search(header(cb), SearchLimits{}, nullptr,
                                 [](std::vector<uint32_t>& v) { std::reverse(v.begin(), v.end()); });
    std::vector<std::vector<RankedRow>> others{reversed};
    for (uint64_t seed = 1; seed <= 8; ++seed)
        others.push_back(index.search(header(cb), SearchLimits{}, nullptr, [seed](std::vector<uint32_t>& v) {
            test::Rng r(seed);
            for (size_t k = v.size(); k > 1; --k) std::swap(v[k - 1], v[static_cast<size_t>(r.below(static_cast<int>(k)))]);
        }));
    ASSERT_EQ(as_planned.size(), 3u);
    EXPECT_EQ(as_planned[0].row, 3u);
    EXPECT_NEAR(as_planned[0].offset_frames, 1000, kOffsetBinFrames);
    EXPECT_EQ(as_planned[1].row, 4u);
    EXPECT_EQ(as_planned[2].row, 5u);
    for (const auto& other : others) {
        ASSERT_EQ(other.size(), as_planned.size());
        for (size_t k = 0; k < as_planned.size(); ++k) {
            EXPECT_EQ(other[k].row, as_planned[k].row);
            EXPECT_EQ(other[k].votes, as_planned[k].votes);
            EXPECT_EQ(other[k].offset_frames, as_planned[k].offset_frames);
        }
    }
}

TEST(IndexSearch, RejectsRowIdsPastTheirBits) {
    auto qb = body_with({{hash_n(1), 0}}, 128);
    IndexSearch s(header(qb), SearchLimits{});
    uint64_t est = 1;
    s.plan(&est);
    uint64_t row = uint64_t{1} << kRowIdBits;
    uint32_t frame = 0;
    EXPECT_THROW(s.add(0, &row, &frame, 1), Error);
    EXPECT_THROW(s.add(5, &row, &frame, 0), Error);
}
