// warp_test.cpp — speed renditions of a clip's landmarks find the track a sped-up clip came from.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "encode.hpp"
#include "fingerprint.hpp"
#include "format.hpp"
#include "landmarks.hpp"
#include "matcher.hpp"
#include "synth.hpp"
#include "warp.hpp"

using namespace afp;
using namespace afp::test;

namespace {

const AudioLimits kLimits{3600.0, size_t{1} << 30, uint64_t{1} << 40};

std::vector<uint8_t> body_of(const Audio& audio, const ParamSet& params = default_params()) {
    auto bytes = encode(audio, kWavFloat);
    Fingerprint fp = fingerprint_audio(bytes.data(), bytes.size(), kLimits, false, nullptr, params);
    return encode_body(params, fp.n_samples, fp.landmarks);
}

const AfpHeader& header(const std::vector<uint8_t>& body) { return *reinterpret_cast<const AfpHeader*>(body.data()); }

// The audio played `speed` times faster: fewer samples at the same declared rate.
Audio sped_up(const Audio& audio, double speed) {
    Audio out = resample_linear(audio, static_cast<int>(std::lround(audio.rate / speed)));
    out.rate = audio.rate;
    return out;
}

}  // namespace

TEST(Warp, RecoversASpedUpClip) {
    const Audio song = synth_song(11, 20.0, 16000, 1);
    const auto track = body_of(song);
    const auto clip = body_of(sped_up(cut(song, 6.0, 6.0), 1.03), query_params(default_params()));

    const Vote direct = vote(header(clip), header(track));
    const std::vector<Landmark> warped = warp_landmarks(header(clip), 1.03, 1.0 / 1.03);
    const auto warped_body = encode_body(default_params(), static_cast<uint32_t>(header(clip).n_samples * 1.03) + 128, warped);
    const Vote corrected = vote(header(warped_body), header(track));

    EXPECT_GT(corrected.score, 4 * std::max(direct.score, 1));
    // Frames of the rendition are in the track's time: the offset is where the clip starts.
    EXPECT_NEAR(corrected.offset_frames * 128.0 / 8000.0, 6.0, 0.05);
}

TEST(Warp, IdentitySpeedKeepsEveryLandmark) {
    const auto clip = body_of(cut(synth_song(12, 20.0, 16000, 1), 2.0, 5.0));
    const std::vector<Landmark> same = warp_landmarks(header(clip), 1.0, 1.0);
    const auto again = encode_body(default_params(), header(clip).n_samples, same);
    EXPECT_EQ(again, clip);
}

TEST(Warp, DropsPairsThatLeaveTheTargetZone) {
    // dt = 63 frames is the zone's edge; slowing the clip stretches it to 66 and the pair goes.
    const int32_t edge = pack_hash({1, 100, 10, 63});
    const int32_t inside = pack_hash({1, 100, 10, 20});
    std::vector<Landmark> lms{{edge, 10}, {inside, 10}};
    std::sort(lms.begin(), lms.end());
    const auto body = encode_body(default_params(), 8000 * 5, lms);
    const std::vector<Landmark> warped = warp_landmarks(header(body), 1.05, 1.0 / 1.05);
    ASSERT_EQ(warped.size(), 1u);
    const HashFields f = unpack_hash(warped[0].hash);
    EXPECT_EQ(f.dt, 21u);
    EXPECT_EQ(f.f1, 95u);  // 100 / 1.05
}

TEST(Warp, TempoKeepsFrequenciesAndPitchKeepsTimes) {
    const std::vector<uint8_t> clip = body_of(synth_song(13, 10.0, 16000, 1));
    const AfpHeader& h = header(clip);
    for (const Landmark& l : warp_landmarks(h, 1.0, std::exp2(-1.0 / 12.0))) {
        EXPECT_GE(unpack_hash(l.hash).dt, 1u);
    }
    // A pure time warp leaves every bin where it was: the anchor bins of the result are a subset
    // of the clip's.
    std::set<uint32_t> bins;
    const int32_t* hashes = afp_body_hashes(&h);
    for (uint32_t i = 0; i < h.count; ++i) bins.insert(unpack_hash(hashes[i]).f1);
    const std::vector<Landmark> stretched = warp_landmarks(h, 1.05, 1.0);
    ASSERT_FALSE(stretched.empty());
    for (const Landmark& l : stretched) EXPECT_TRUE(bins.count(unpack_hash(l.hash).f1)) << l.hash;
    // A pure frequency warp leaves every frame where it was.
    std::set<uint32_t> frames;
    const uint32_t* fr = afp_body_frames(&h);
    for (uint32_t i = 0; i < h.count; ++i) frames.insert(fr[i]);
    const std::vector<Landmark> shifted = warp_landmarks(h, 1.0, std::exp2(1.0 / 12.0));
    ASSERT_FALSE(shifted.empty());
    for (const Landmark& l : shifted) EXPECT_TRUE(frames.count(l.frame)) << l.frame;
}
