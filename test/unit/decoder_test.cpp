// decoder_test.cpp — every promised container decodes from memory; every malformed input gets its error.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "decoder.hpp"
#include "encode.hpp"
#include "errors.hpp"
#include "synth.hpp"

using namespace afp;
using namespace afp::test;

namespace {

// Decodes everything and returns the mono samples.
std::vector<float> decode_all(const std::vector<uint8_t>& bytes, double max_seconds = 3600) {
    MemoryDecoder decoder(bytes.data(), bytes.size(), max_seconds, uint64_t{1} << 40);
    std::vector<float> out;
    while (decoder.read_mono(out, 4096) > 0) {
    }
    return out;
}

ErrorKind error_of(const std::vector<uint8_t>& bytes, double max_seconds = 3600) {
    try {
        decode_all(bytes, max_seconds);
    } catch (const Error& e) {
        return e.kind();
    }
    ADD_FAILURE() << "no error raised";
    return ErrorKind::Cancelled;
}

double rms(const std::vector<float>& x) {
    double s = 0;
    for (float v : x) s += static_cast<double>(v) * v;
    return std::sqrt(s / std::max<size_t>(1, x.size()));
}

}  // namespace

class ContainerTest : public ::testing::TestWithParam<const Container*> {};

TEST_P(ContainerTest, DecodesTwoSecondsOfStereoToMono) {
    const Container& c = *GetParam();
    const int rate = c.sf_format == kOggOpus.sf_format ? 48000 : 44100;
    Audio song = synth_song(11, 2.0, rate, 2);
    std::vector<uint8_t> bytes = encode(song, c);
    MemoryDecoder decoder(bytes.data(), bytes.size(), 3600, uint64_t{1} << 40);
    EXPECT_EQ(decoder.info().channels, 2) << c.name;
    EXPECT_EQ(decoder.info().sample_rate, rate) << c.name;
    std::vector<float> mono;
    while (decoder.read_mono(mono, 4096) > 0) {
    }
    // Lossy codecs add padding; all keep the length within 0.1 s.
    EXPECT_NEAR(static_cast<double>(mono.size()) / rate, 2.0, 0.1) << c.name;
    // The downmix carries the song's energy, not silence or garbage.
    const double expected = rms(to_mono(song).samples);
    EXPECT_NEAR(rms(mono), expected, expected * 0.35) << c.name;
}

INSTANTIATE_TEST_SUITE_P(AllContainers, ContainerTest,
                         ::testing::Values(&kWavPcm16, &kWavPcm24, &kWavPcm32, &kWavPcmU8, &kWavFloat, &kWavDouble,
                                           &kWavUlaw, &kWavAlaw, &kFlac, &kOggVorbis, &kOggOpus, &kMp3),
                         [](const auto& info) {
                             std::string n = info.param->name;
                             for (char& ch : n)
                                 if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return n;
                         });

TEST(Decoder, LosslessPcmIsSampleExact) {
    Audio tone = sine(1000.0, 0.5, 8000, 0.5);
    std::vector<float> mono = decode_all(encode(tone, kWavFloat));
    ASSERT_EQ(mono.size(), tone.samples.size());
    for (size_t i = 0; i < mono.size(); ++i) ASSERT_FLOAT_EQ(mono[i], tone.samples[i]);
}

TEST(Decoder, EmptyInputIsEmptyAudio) { EXPECT_EQ(error_of({}), ErrorKind::EmptyAudio); }

TEST(Decoder, TextIsUndecodable) {
    const std::string text = "definitely not a sound file, only words";
    EXPECT_EQ(error_of(std::vector<uint8_t>(text.begin(), text.end())), ErrorKind::Undecodable);
}

TEST(Decoder, TruncatedWavIsTruncated) {
    std::vector<uint8_t> wav = encode(synth_song(3, 2.0), kWavPcm16);
    wav.resize(wav.size() / 2);
    EXPECT_EQ(error_of(wav), ErrorKind::Truncated);
}

TEST(Decoder, HeaderOnlyWavHasNoSamples) {
    std::vector<uint8_t> wav = encode(synth_song(3, 1.0), kWavPcm16);
    wav.resize(44);
    EXPECT_EQ(error_of(wav), ErrorKind::Truncated);
}

TEST(Decoder, TruncatedFlacOggAndMp3AreTruncated) {
    for (const Container* c : {&kFlac, &kOggVorbis, &kMp3}) {
        std::vector<uint8_t> bytes = encode(synth_song(3, 4.0), *c);
        bytes.resize(bytes.size() / 2);
        EXPECT_EQ(error_of(bytes), ErrorKind::Truncated) << c->name;
    }
}

TEST(Decoder, StreamingWavWithUnknownDataSizeIsAccepted) {
    std::vector<uint8_t> wav = encode(sine(440.0, 1.0, 8000), kWavPcm16);
    for (int i = 40; i < 44; ++i) wav[i] = 0xFF;  // data size "unknown", as written by a pipe
    EXPECT_NEAR(static_cast<double>(decode_all(wav).size()), 8000.0, 1.0);
}

TEST(Decoder, ZeroChannelsIsRejected) {
    std::vector<uint8_t> wav = encode(synth_song(3, 1.0), kWavPcm16);
    wav[22] = 0;
    wav[23] = 0;
    const ErrorKind kind = error_of(wav);
    EXPECT_TRUE(kind == ErrorKind::BadAudioHeader || kind == ErrorKind::Undecodable);
}

TEST(Decoder, NanSampleIsNonFinite) {
    Audio a = sine(440.0, 0.5, 8000);
    a.samples[100] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_EQ(error_of(encode(a, kWavFloat)), ErrorKind::NonFinite);
}

TEST(Decoder, InfiniteSampleIsNonFinite) {
    Audio a = sine(440.0, 0.5, 8000);
    a.samples[10] = std::numeric_limits<float>::infinity();
    EXPECT_EQ(error_of(encode(a, kWavFloat)), ErrorKind::NonFinite);
}

TEST(Decoder, LongerThanCapIsTooLongFromHeader) {
    std::vector<uint8_t> wav = encode(sine(440.0, 3.0, 8000), kWavPcm16);
    EXPECT_EQ(error_of(wav, 2.0), ErrorKind::TooLong);
}

TEST(Decoder, LongerThanCapIsTooLongWhileDecoding) {
    // Ogg Vorbis has no exact length in its header, so the cap is enforced on decoded frames.
    std::vector<uint8_t> ogg = encode(synth_song(5, 3.0), kOggVorbis);
    EXPECT_EQ(error_of(ogg, 2.0), ErrorKind::TooLong);
}
