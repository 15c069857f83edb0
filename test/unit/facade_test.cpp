// facade_test.cpp — the C entry points report every failure as a status and never throw.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "encode.hpp"
#include "facade.h"
#include "synth.hpp"

using namespace afp::test;

namespace {

const AfpAudioLimits kLimits{3600.0, size_t{1} << 30, uint64_t{1} << 40};

AfpStatusCode fingerprint_status(const std::vector<uint8_t>& bytes, AfpAudioLimits limits = kLimits) {
    AfpBuffer out;
    AfpStatus status;
    afp_core_fingerprint(bytes.data(), bytes.size(), &limits, false, nullptr, &out, &status);
    afp_core_free(&out);
    return status.code;
}

}  // namespace

TEST(Facade, FingerprintsAndValidatesItsOwnOutput) {
    auto bytes = encode(synth_song(31, 5.0), kFlac);
    AfpBuffer out;
    AfpStatus status;
    ASSERT_TRUE(afp_core_fingerprint(bytes.data(), bytes.size(), &kLimits, false, nullptr, &out, &status))
        << status.detail;
    EXPECT_EQ(status.code, AFP_OK);
    const auto* header = reinterpret_cast<const AfpHeader*>(out.data);
    EXPECT_NEAR(static_cast<double>(header->n_samples) / header->sample_rate, 5.0, 0.01);
    EXPECT_TRUE(afp_core_validate(out.data, out.size, &status));

    AfpBuffer text;
    ASSERT_TRUE(afp_core_format_text(out.data, out.size, &text, &status));
    EXPECT_EQ(std::strlen(reinterpret_cast<const char*>(text.data)), text.size);
    AfpBuffer parsed;
    ASSERT_TRUE(afp_core_parse_text(reinterpret_cast<const char*>(text.data), &parsed, &status));
    ASSERT_EQ(parsed.size, out.size);
    EXPECT_EQ(std::memcmp(parsed.data, out.data, out.size), 0);
    afp_core_free(&parsed);
    afp_core_free(&text);
    afp_core_free(&out);
    EXPECT_EQ(out.data, nullptr);
}

TEST(Facade, MapsEachErrorToItsCode) {
    EXPECT_EQ(fingerprint_status({}), AFP_E_EMPTY_AUDIO);
    const std::string junk = "no audio here at all, not even a little";
    EXPECT_EQ(fingerprint_status(std::vector<uint8_t>(junk.begin(), junk.end())), AFP_E_UNDECODABLE);
    EXPECT_EQ(fingerprint_status(encode(scale(sine(300, 1.0, 8000), -300), kWavPcm16)), AFP_E_SILENT);
    EXPECT_EQ(fingerprint_status(encode(sine(300, 3.0, 8000), kWavPcm16), AfpAudioLimits{1.0, 1u << 30, uint64_t{1} << 40}), AFP_E_TOO_LONG);
    EXPECT_EQ(fingerprint_status(encode(sine(300, 3.0, 8000), kWavPcm16), AfpAudioLimits{60.0, 10, uint64_t{1} << 40}), AFP_E_TOO_LARGE);

    AfpStatus status;
    AfpBuffer out;
    EXPECT_FALSE(afp_core_parse_text("garbage", &out, &status));
    EXPECT_EQ(status.code, AFP_E_MALFORMED);
    EXPECT_NE(std::string(status.detail).size(), 0u);
    EXPECT_EQ(out.data, nullptr);
}

TEST(Facade, CountsDistinctSharedHashes) {
    const int32_t a[] = {1, 1, 2, 5, 7, 7, 9};
    const int32_t b[] = {1, 2, 2, 3, 7, 10};
    EXPECT_EQ(afp_core_count_shared(a, 7, b, 6), 3u);
    EXPECT_EQ(afp_core_count_shared(a, 7, b, 0), 0u);
}

TEST(Facade, VoteRefusesDifferentParameterSets) {
    AfpHeader clip{AFP_FORMAT_VERSION, 1, 128, 8000, 8000, 0};
    AfpHeader track{AFP_FORMAT_VERSION, 2, 128, 8000, 8000, 0};
    AfpVote vote;
    AfpStatus status;
    EXPECT_FALSE(afp_core_vote(&clip, &track, &vote, &status));
    EXPECT_EQ(status.code, AFP_E_PARAM_MISMATCH);
}
