// matcher_test.cpp — offset voting recovers a known offset; the null model behaves.
#include <gtest/gtest.h>

#include <cmath>

#include "bodies.hpp"
#include "format.hpp"
#include "landmarks.hpp"
#include "matcher.hpp"
#include "synth.hpp"

using namespace afp;
using afp::test::body_with;
using afp::test::header;

namespace {

// n landmarks of hashes anywhere in the band, at frames below `frames`: unrelated music.
std::vector<Landmark> random_landmarks(test::Rng& rng, int n, int frames) {
    std::vector<Landmark> out;
    for (int i = 0; i < n; ++i) {
        // One field at a time: the draws stay in this order whatever the compiler does.
        const auto f1 = static_cast<uint32_t>(rng.below(480));
        const int32_t df = rng.below(200) - 100;
        const auto dt = static_cast<uint32_t>(1 + rng.below(60));
        const auto frame = static_cast<uint32_t>(rng.below(frames));
        out.push_back({pack_hash({1, f1, df, dt}), frame});
    }
    return out;
}

}  // namespace

TEST(Vote, RecoversAKnownOffsetAmongDistractors) {
    test::Rng rng(5);
    std::vector<Landmark> track;
    std::vector<Landmark> clip;
    for (int i = 0; i < 400; ++i) {
        const int32_t h = pack_hash({1, static_cast<uint32_t>(rng.below(512)), rng.below(200) - 100,
                                     static_cast<uint32_t>(1 + rng.below(60))});
        const uint32_t t = static_cast<uint32_t>(rng.below(1800));
        track.push_back({h, t});
        // The clip starts 700 frames into the track and keeps about half of the landmarks in its range.
        if (t >= 700 && t < 1000 && rng.below(2) == 0) clip.push_back({h, t - 700});
    }
    for (int i = 0; i < 50; ++i)  // noise landmarks in the clip
        clip.push_back({pack_hash({1, static_cast<uint32_t>(rng.below(512)), 3, 9}), static_cast<uint32_t>(rng.below(300))});
    auto tb = body_with(track, 240000);
    auto cb = body_with(clip, 40000);
    Vote v = vote(header(cb), header(tb));
    EXPECT_NEAR(v.offset_frames, 700.0, 0.01);
    EXPECT_GE(v.score, 20);
    EXPECT_LE(v.score, v.aligned_pairs);
    EXPECT_LE(v.aligned_pairs, v.total_pairs);
    EXPECT_GT(confidence(v, 10), 0.99);
}

TEST(Vote, ScoreNeverExceedsDistinctSharedHashes) {
    // One hash repeated at many clip times aligns many pairs but counts once.
    const int32_t h = pack_hash({1, 50, 1, 1});
    std::vector<Landmark> track;
    std::vector<Landmark> clip;
    for (uint32_t t = 0; t < 20; ++t) {
        track.push_back({h, 100 + t * 10});
        clip.push_back({h, t * 10});
    }
    auto tb = body_with(track, 80000);
    auto cb = body_with(clip, 40000);
    Vote v = vote(header(cb), header(tb));
    EXPECT_EQ(v.score, 1);
    EXPECT_EQ(v.anchors, 20);
    EXPECT_EQ(v.aligned_pairs, 20);
    EXPECT_NEAR(v.offset_frames, 100.0, 1e-9);
}

TEST(Vote, ManyHashesAtOneInstantAreWeakEvidence) {
    // Eight equal hashes, all anchored at one clip frame: a shared chord onset, not a match.
    std::vector<Landmark> track;
    std::vector<Landmark> clip;
    for (uint32_t k = 0; k < 8; ++k) {
        const int32_t h = pack_hash({1, 100 + k * 20, 5, 7});
        track.push_back({h, 300});
        clip.push_back({h, 40});
    }
    test::Rng rng(9);
    for (int i = 0; i < 30; ++i) {  // some unrelated shared hashes at scattered offsets
        const int32_t h = pack_hash({1, 7, static_cast<int32_t>(i), 3});
        track.push_back({h, static_cast<uint32_t>(rng.below(1200))});
        clip.push_back({h, static_cast<uint32_t>(rng.below(300))});
    }
    auto tb = body_with(track, 160000);
    auto cb = body_with(clip, 40000);
    Vote v = vote(header(cb), header(tb));
    // The burst is one frame of evidence: its eight pairs do not outweigh two frames of rare
    // hashes, and whichever window the vote takes proves little.
    EXPECT_LE(v.anchors, 2);
    EXPECT_LT(confidence(v, 6), 0.5);
}

TEST(Vote, TheOffsetIsThePlaceWithTheMostEvidenceNotTheMostPairs) {
    // Place A (offset 100): three clip frames of four hashes each that the track also holds 29
    // times elsewhere: twelve pairs in one window, of hashes that align anywhere. Place B (offset
    // 700): six clip frames of one hash the track holds once: six pairs of rare hashes. Counting
    // pairs named A (a loop's near-repeat outvoting the true place); the evidence names B.
    std::vector<Landmark> track;
    std::vector<Landmark> clip;
    test::Rng rng(21);
    for (uint32_t f = 0; f < 3; ++f) {
        for (uint32_t k = 0; k < 4; ++k) {
            const int32_t h = pack_hash({1, 40 + f * 60 + k * 10, 3, 5});
            clip.push_back({h, 10 + f * 10});
            track.push_back({h, 110 + f * 10});
            for (int copy = 0; copy < 29; ++copy) track.push_back({h, static_cast<uint32_t>(rng.below(2000))});
        }
    }
    for (uint32_t f = 0; f < 6; ++f) {
        const int32_t h = pack_hash({1, 300 + f * 20, -4, 9});
        clip.push_back({h, 50 + f * 10});
        track.push_back({h, 750 + f * 10});
    }
    auto tb = body_with(track, 2000 * 128);
    auto cb = body_with(clip, 300 * 128);
    Vote v = vote(header(cb), header(tb));
    // (A scattered copy of a common hash may fall into B's window too.)
    EXPECT_NEAR(v.offset_frames, 700.0, 0.5);
    EXPECT_GE(v.anchors, 6);
    EXPECT_GE(v.score, 6);
    EXPECT_LE(v.aligned_pairs, 8);
}

TEST(Vote, AMatcherVotesLikeAFreshOneAfterAnyComparison) {
    // A Matcher keeps its per-frame tables between calls (a long clip, then short ones): every vote
    // must equal the one of a fresh Matcher, whatever came before it.
    test::Rng rng(33);
    auto random_body = [&](int landmarks, uint32_t frames) {
        std::vector<Landmark> lm;
        for (int i = 0; i < landmarks; ++i) {
            lm.push_back({pack_hash({1, static_cast<uint32_t>(rng.below(64)), rng.below(20) - 10, 1 + static_cast<uint32_t>(rng.below(8))}),
                          static_cast<uint32_t>(rng.below(frames))});
        }
        return body_with(lm, frames * 128);
    };
    const auto track = random_body(4000, 3000);
    const std::vector<std::vector<uint8_t>> clips = {random_body(3000, 2900), random_body(200, 300), random_body(50, 40),
                                                     random_body(3000, 2900), random_body(200, 300)};
    Matcher reused;
    for (const auto& clip : clips) {
        const Vote a = reused.vote(header(clip), header(track));
        const Vote b = vote(header(clip), header(track));
        EXPECT_EQ(a.score, b.score);
        EXPECT_EQ(a.anchors, b.anchors);
        EXPECT_EQ(a.aligned_pairs, b.aligned_pairs);
        EXPECT_EQ(a.drift_pairs, b.drift_pairs);
        EXPECT_EQ(a.offset_frames, b.offset_frames);
        EXPECT_EQ(a.log_chance, b.log_chance);
        EXPECT_GT(a.total_pairs, 0);
    }
}

TEST(Vote, HashesTheClipRepeatsAreWeakEvidence) {
    // A metronome: six hashes at every beat of a 30 s clip (a beat every 31 frames). A track of
    // unrelated music that holds the six at a steady beat for a while aligns with the clip at
    // every beat there, twenty frames in one window; the clip's own repeats make that certain, so
    // it proves nothing, also against a single row (1.0 before the chance counted the clip's
    // repeats: a metronome matched a row of a 1,001 h catalogue so).
    std::vector<int32_t> beat;
    for (uint32_t k = 0; k < 6; ++k) beat.push_back(pack_hash({1, 60 + k * 37, 3, 10 + k}));
    std::vector<Landmark> clip;
    for (uint32_t t = 0; t < 1875; t += 31)
        for (int32_t h : beat) clip.push_back({h, t});
    test::Rng rng(11);
    std::vector<Landmark> track = random_landmarks(rng, 12000, 13000);
    for (uint32_t t = 4000; t < 4000 + 20 * 31; t += 31)
        for (int32_t h : beat) track.push_back({h, t});
    auto tb = body_with(track, 13000 * 128);
    auto cb = body_with(clip, 1875 * 128);
    Vote v = vote(header(cb), header(tb));
    EXPECT_EQ(v.score, 6);
    EXPECT_GE(v.anchors, 20);
    EXPECT_LT(confidence(v, 1), 0.01);

    // The same aligned frames made of hashes the clip holds once each are strong evidence.
    std::vector<Landmark> once;
    std::vector<Landmark> track2 = track;
    track2.resize(12000);
    for (uint32_t b = 0; b < 20; ++b) {
        const int32_t h = pack_hash({1, 40 + b * 20, 7, 20});
        once.push_back({h, 100 + b * 31});
        track2.push_back({h, 4000 + b * 31});
    }
    auto tb2 = body_with(track2, 13000 * 128);
    auto cb2 = body_with(once, 1875 * 128);
    EXPECT_GT(confidence(vote(header(cb2), header(tb2)), 1000), 0.99);
}

TEST(Vote, DriftPairsTellAClipThatDriftsFromOneThatFits) {
    // A cut of the track aligns in one window; the same cut 5% slower, read as recorded, lines up
    // a stretch at a time: the rest of its frames pair just before or after the best window.
    test::Rng rng(21);
    const std::vector<Landmark> track = random_landmarks(rng, 6000, 12000);
    std::vector<Landmark> exact;
    std::vector<Landmark> slower;
    for (const Landmark& l : track) {
        if (l.frame < 3000 || l.frame >= 3625) continue;  // a 10 s cut at frame 3,000
        exact.push_back({l.hash, l.frame - 3000});
        slower.push_back({l.hash, static_cast<uint32_t>(std::lround((l.frame - 3000) * 1.05))});
    }
    auto tb = body_with(track, 12000 * 128);
    Vote fits = vote(header(body_with(exact, 625 * 128)), header(tb));
    Vote drifts = vote(header(body_with(slower, 660 * 128)), header(tb));
    EXPECT_GE(fits.aligned_pairs, 250);
    EXPECT_LT(fits.drift_pairs, 0.05 * fits.aligned_pairs);
    EXPECT_GE(drifts.drift_pairs, 0.5 * drifts.aligned_pairs);
}

TEST(Vote, NothingSharedScoresZero) {
    auto tb = body_with({{pack_hash({1, 1, 1, 1}), 5}}, 80000);
    auto cb = body_with({{pack_hash({1, 2, 1, 1}), 5}}, 40000);
    Vote v = vote(header(cb), header(tb));
    EXPECT_EQ(v.score, 0);
    EXPECT_EQ(v.total_pairs, 0);
    EXPECT_EQ(confidence(v, 1), 0.0);
}


TEST(Confidence, FallsWithMoreCandidatesAndRisesWithScore) {
    Vote weak;
    weak.score = 3;
    weak.anchors = 3;
    weak.log_chance = std::log(0.3) - kDependenceAllowance;
    Vote strong = weak;
    strong.score = 30;
    strong.log_chance = -60;
    EXPECT_GT(confidence(weak, 1), confidence(weak, 100));
    EXPECT_GT(confidence(strong, 1000), 0.999);
    EXPECT_NEAR(confidence(weak, 1), std::exp(-0.3), 1e-12);
}

TEST(Places, TheFirstPlaceIsTheVotesAndTheOthersSayHowCloseAnotherCame) {
    // A track that plays the clip's passage whole at frame 700 and again, with a third of it
    // missing, at frame 2000 (a repeat played with changes); random landmarks around both.
    test::Rng rng(8);
    std::vector<Landmark> passage = random_landmarks(rng, 120, 300);
    std::vector<Landmark> track = random_landmarks(rng, 600, 3000);
    for (size_t i = 0; i < passage.size(); ++i) {
        track.push_back({passage[i].hash, passage[i].frame + 700});
        if (i % 3 != 0) track.push_back({passage[i].hash, passage[i].frame + 2000});
        // The clip's hashes occur elsewhere too, where they align only by chance.
        track.push_back({passage[i].hash, static_cast<uint32_t>(rng.below(3000))});
    }
    std::sort(track.begin(), track.end());
    track.erase(std::unique(track.begin(), track.end()), track.end());
    std::sort(passage.begin(), passage.end());
    passage.erase(std::unique(passage.begin(), passage.end()), passage.end());
    const auto tb = body_with(track, 3100 * 128);
    const auto cb = body_with(passage, 300 * 128);

    Matcher matcher;
    const std::vector<Place> found = matcher.places(header(cb), header(tb), 3);
    ASSERT_EQ(found.size(), 3u);
    const Vote v = vote(header(cb), header(tb));
    EXPECT_EQ(found[0].offset_frames, v.offset_frames);
    EXPECT_EQ(found[0].anchors, v.anchors);
    EXPECT_EQ(found[0].shared_with_first, found[0].evidence);
    // The repeat comes second, with about two thirds of the evidence, all of it also at the first.
    EXPECT_NEAR(found[1].offset_frames, 2000.0, 1.0);
    EXPECT_GT(found[1].evidence, 0.5 * found[0].evidence);
    EXPECT_LT(found[1].evidence, 0.8 * found[0].evidence);
    EXPECT_NEAR(found[1].shared_with_first, found[1].evidence, 1e-9);
    // Places are apart, strongest first; a chance place is far weaker.
    for (size_t a = 0; a < found.size(); ++a) {
        for (size_t b = a + 1; b < found.size(); ++b) {
            EXPECT_GT(std::abs(found[a].window_offset - found[b].window_offset), kDriftFrames);
            EXPECT_GE(found[a].evidence, found[b].evidence);
        }
    }
    EXPECT_LT(found[2].evidence, 0.25 * found[0].evidence);
    // The search's vote is unchanged by the analysis, and a reused Matcher still votes like a fresh one.
    const Vote again = matcher.vote(header(cb), header(tb));
    EXPECT_EQ(again.offset_frames, v.offset_frames);
    EXPECT_EQ(again.log_chance, v.log_chance);
}
