// fingerprint_test.cpp — the whole pipeline: determinism, recognition of clips, errors, cancellation.
#include <gtest/gtest.h>

#include "encode.hpp"
#include "errors.hpp"
#include "fingerprint.hpp"
#include "format.hpp"
#include "matcher.hpp"
#include "synth.hpp"

using namespace afp;
using namespace afp::test;

namespace {

const AudioLimits kLimits{3600.0, size_t{1} << 30, uint64_t{1} << 40};

Fingerprint fp_of(const Audio& audio, const Container& c = kWavPcm16) {
    auto bytes = encode(audio, c);
    return fingerprint_audio(bytes.data(), bytes.size(), kLimits, false, nullptr);
}

std::vector<uint8_t> body_of(const Fingerprint& fp) { return encode_body(default_params(), fp.n_samples, fp.landmarks); }

Vote vote_of(const Fingerprint& clip, const Fingerprint& track) {
    auto cb = body_of(clip);
    auto tb = body_of(track);
    return vote(*reinterpret_cast<const AfpHeader*>(cb.data()), *reinterpret_cast<const AfpHeader*>(tb.data()));
}

ErrorKind error_of(const std::vector<uint8_t>& bytes, AudioLimits limits = kLimits, CancelFn cancel = nullptr) {
    try {
        fingerprint_audio(bytes.data(), bytes.size(), limits, false, cancel);
    } catch (const Error& e) {
        return e.kind();
    }
    ADD_FAILURE() << "no error";
    return ErrorKind::Malformed;
}

bool always_cancel() { return true; }

}  // namespace

TEST(Fingerprint, IsBitForBitDeterministic) {
    auto bytes = encode(synth_song(21, 10.0), kOggVorbis);
    auto a = fingerprint_audio(bytes.data(), bytes.size(), kLimits, false, nullptr);
    auto b = fingerprint_audio(bytes.data(), bytes.size(), kLimits, false, nullptr);
    EXPECT_EQ(body_of(a), body_of(b));
    EXPECT_GT(a.landmarks.size(), 200u);
}

TEST(Fingerprint, DensityIsInTheDesignedRange) {
    auto fp = fp_of(synth_song(22, 30.0));
    const double per_second = fp.landmarks.size() / 30.0;
    EXPECT_GT(per_second, 20.0);
    EXPECT_LT(per_second, 100.0);
    EXPECT_EQ(fp.n_samples, 240000u);
}

TEST(Fingerprint, FindsACleanClipAtItsOffset) {
    Audio song = synth_song(23, 30.0);
    auto track = fp_of(song);
    auto clip = fp_of(cut(song, 12.34, 5.0), kMp3);
    Vote v = vote_of(clip, track);
    EXPECT_GE(v.score, 40);
    EXPECT_NEAR(v.offset_frames * 128.0 / 8000.0, 12.34, 0.032);
}

TEST(Fingerprint, FindsANoisyClip) {
    Audio song = synth_song(24, 30.0);
    auto track = fp_of(song);
    auto clip = fp_of(add_noise(cut(song, 20.0, 5.0), 0.0, 3));
    Vote v = vote_of(clip, track);
    EXPECT_GE(v.score, 8);
    EXPECT_NEAR(v.offset_frames * 128.0 / 8000.0, 20.0, 0.032);
}

TEST(Fingerprint, UnrelatedSongsShareLittle) {
    auto track = fp_of(synth_song(25, 30.0));
    auto clip = fp_of(cut(synth_song(26, 30.0), 5.0, 5.0));
    EXPECT_LT(vote_of(clip, track).score, 8);
}

TEST(Fingerprint, LevelDoesNotMatter) {
    Audio song = synth_song(27, 10.0);
    auto loud = fp_of(song);
    auto quiet = fp_of(scale(song, -30.0));
    Vote v = vote_of(quiet, loud);
    EXPECT_GT(v.score, static_cast<int32_t>(loud.landmarks.size() / 2));
}

TEST(Fingerprint, SilenceIsAnErrorUnlessAllowed) {
    auto bytes = encode(scale(sine(440, 2.0, 44100), -300.0), kWavPcm16);
    EXPECT_EQ(error_of(bytes), ErrorKind::Silent);
    auto fp = fingerprint_audio(bytes.data(), bytes.size(), kLimits, true, nullptr);
    EXPECT_TRUE(fp.landmarks.empty());
    EXPECT_EQ(fp.n_samples, 16000u);
}

TEST(Fingerprint, TooLargeIsRejectedBeforeDecoding) {
    auto bytes = encode(sine(440, 1.0, 8000), kWavPcm16);
    EXPECT_EQ(error_of(bytes, AudioLimits{3600.0, 100, uint64_t{1} << 40}), ErrorKind::TooLarge);
}

TEST(Fingerprint, CancelStopsTheCall) {
    auto bytes = encode(synth_song(28, 5.0), kWavPcm16);
    EXPECT_EQ(error_of(bytes, kLimits, always_cancel), ErrorKind::Cancelled);
}

TEST(Fingerprint, OneSampleGivesAnEmptyFingerprint) {
    Audio one = sine(440.0, 1.0 / 44100, 44100);
    one.samples.assign(1, 0.5f);
    auto fp = fp_of(one);
    EXPECT_TRUE(fp.landmarks.empty());
}

TEST(Fingerprint, Rf64HeaderClaimingExabytesIsTruncated) {
    // RF64 keeps the real sizes in its ds64 chunk: 2^60 bytes of data declared, 4 kB present.
    std::vector<uint8_t> b;
    auto put = [&](const char* s) { b.insert(b.end(), s, s + 4); };
    auto le = [&](uint64_t v, int n) { for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i))); };
    put("RF64"); le(0xFFFFFFFFu, 4); put("WAVE");
    put("ds64"); le(28, 4); le((uint64_t{1} << 60) + 36, 8); le(uint64_t{1} << 60, 8); le(uint64_t{1} << 59, 8); le(0, 4);
    put("fmt "); le(16, 4); le(1, 2); le(1, 2); le(44100, 4); le(88200, 4); le(2, 2); le(16, 2);
    put("data"); le(0xFFFFFFFFu, 4);
    for (int i = 0; i < 4096; ++i) b.push_back(static_cast<uint8_t>(i * 37));
    EXPECT_EQ(error_of(b), ErrorKind::Truncated);
}
