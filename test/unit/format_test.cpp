// format_test.cpp — the datum body: building, the one validation routine, and the text form.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "errors.hpp"
#include "format.hpp"
#include "landmarks.hpp"
#include "params.hpp"
#include "spectrogram.hpp"

using namespace afp;

namespace {

std::vector<Landmark> sample_landmarks() {
    const ParamSet& p = default_params();
    std::vector<Landmark> lm = {{pack_hash({p.id, 20, 3, 4}), 7}, {pack_hash({p.id, 20, 3, 4}), 9},
                                {pack_hash({p.id, 200, -5, 1}), 0}};
    std::sort(lm.begin(), lm.end());
    return lm;
}

std::string malformed_detail(const std::vector<uint8_t>& body) {
    try {
        validate_body(body.data(), body.size());
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Malformed);
        return e.what();
    }
    ADD_FAILURE() << "accepted a malformed body";
    return "";
}

std::string malformed_text(const char* text) {
    try {
        parse_text(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Malformed);
        return e.what();
    }
    ADD_FAILURE() << "accepted malformed text: " << text;
    return "";
}

AfpHeader header_of(const std::vector<uint8_t>& body) {
    AfpHeader h;
    std::memcpy(&h, body.data(), sizeof h);
    return h;
}

void set_header(std::vector<uint8_t>& body, const AfpHeader& h) { std::memcpy(body.data(), &h, sizeof h); }

}  // namespace

TEST(Format, BodyLayoutIsHeaderThenHashesThenFrames) {
    auto lm = sample_landmarks();
    auto body = encode_body(default_params(), 16000, lm);
    ASSERT_EQ(body.size(), 16u + 3u * 8u);
    const AfpHeader h = header_of(body);
    EXPECT_EQ(h.version, AFP_FORMAT_VERSION);
    EXPECT_EQ(h.param_set, 1);
    EXPECT_EQ(h.sample_rate, 8000u);
    EXPECT_EQ(h.hop, 128);
    EXPECT_EQ(h.n_samples, 16000u);
    EXPECT_EQ(h.count, 3u);
    const auto* hp = reinterpret_cast<const AfpHeader*>(body.data());
    EXPECT_EQ(afp_body_hashes(hp)[0], lm[0].hash);
    EXPECT_EQ(afp_body_frames(hp)[2], lm[2].frame);
    EXPECT_NO_THROW(validate_body(body.data(), body.size()));
}

// afp_slice(fp, 10, 20) holds exactly the frames its landmarks can start in, so that its last
// frame starts before 20 s: a slice as long as afp.max_clip_seconds passes that limit (it used to
// claim one frame more, and afp_slice(fp, 0, 60) lasted 60.128 s).
TEST(Format, SliceHoldsTheFramesItsLandmarksStartIn) {
    const ParamSet& p = default_params();
    const uint32_t n = 60 * p.sample_rate;
    const uint32_t frames = Spectrogram::frames_for(p, n);
    std::vector<Landmark> lm;
    for (uint32_t f = 0; f < frames; f += 10) lm.push_back({pack_hash({p.id, 20, 3, 4}), f});
    const auto body = encode_body(p, n, lm);
    const double fps = static_cast<double>(p.sample_rate) / p.hop;
    EXPECT_LE(anchored_seconds(body.data()), 60.0);
    for (double from : {0.0, 10.0, 12.3}) {
        const double to = from + 10.0;
        const auto first = static_cast<uint32_t>(std::ceil(from * fps));
        const auto end = static_cast<uint32_t>(std::ceil(to * fps));
        const auto slice = slice_body(body.data(), first, end);
        EXPECT_NO_THROW(validate_body(slice.data(), slice.size()));
        EXPECT_EQ(Spectrogram::frames_for(p, header_of(slice).n_samples), end - first) << from;
        EXPECT_LE(anchored_seconds(slice.data()), 10.0) << from;
        EXPECT_GT(anchored_seconds(slice.data()), 10.0 - 2.0 / fps) << from;
    }
    // An empty stretch, and one past the end.
    EXPECT_EQ(header_of(slice_body(body.data(), 100, 100)).count, 0u);
    const auto tail = slice_body(body.data(), frames - 5, frames + 100);
    EXPECT_EQ(header_of(tail).n_samples, n - (frames - 5) * p.hop);
}

TEST(Format, TextRoundTrips) {
    auto body = encode_body(default_params(), 16000, sample_landmarks());
    const std::string text = format_text(body.data(), body.size());
    EXPECT_EQ(text.rfind("1:1:8000:128:16000:", 0), 0u) << text;
    EXPECT_EQ(parse_text(text.c_str()), body);
    EXPECT_EQ(parse_text(("  " + text + "\n").c_str()), body);
}

TEST(Format, EmptyFingerprintIsValid) {
    auto body = parse_text("1:1:8000:128:0:");
    EXPECT_EQ(header_of(body).count, 0u);
    EXPECT_EQ(format_text(body.data(), body.size()), "1:1:8000:128:0:");
}

TEST(Format, RejectsWrongVersionParamsAndCount) {
    auto body = encode_body(default_params(), 16000, sample_landmarks());
    AfpHeader h = header_of(body);

    auto v = body;
    h.version = 9;
    set_header(v, h);
    EXPECT_NE(malformed_detail(v).find("version 9"), std::string::npos);

    h = header_of(body);
    auto p = body;
    h.param_set = 42;
    set_header(p, h);
    EXPECT_NE(malformed_detail(p).find("Parameter set 42"), std::string::npos);

    h = header_of(body);
    auto r = body;
    h.sample_rate = 16000;
    set_header(r, h);
    EXPECT_NE(malformed_detail(r).find("16000 Hz"), std::string::npos);

    h = header_of(body);
    auto c = body;
    h.count = 4;
    set_header(c, h);
    EXPECT_NE(malformed_detail(c).find("declares 4 landmarks"), std::string::npos);

    EXPECT_NE(malformed_detail(std::vector<uint8_t>(5, 0)).find("header"), std::string::npos);
}

TEST(Format, RejectsUnsortedDuplicateForeignAndOutOfRangeLandmarks) {
    EXPECT_NE(malformed_text("1:1:8000:128:16000:23341697@5,23335297@5").find("out of order"), std::string::npos);
    EXPECT_NE(malformed_text("1:1:8000:128:16000:23341697@5,23341697@5").find("repeats"), std::string::npos);
    EXPECT_NE(malformed_text("1:1:8000:128:16000:33554433@5").find("cannot produce"), std::string::npos);
    // Hashes in the parameter set's id space that its analysis cannot make: dt = 0, an anchor
    // outside the band, a target outside the band, dt beyond the target zone.
    const uint8_t id = default_params().id;
    for (HashFields f : {HashFields{id, 200, 5, 0}, HashFields{id, 10, 5, 4}, HashFields{id, 490, 20, 4},
                         HashFields{id, 200, 5, 64}}) {
        const std::string text = "1:1:8000:128:16000:" + std::to_string(pack_hash(f)) + "@5";
        EXPECT_NE(malformed_text(text.c_str()).find("cannot produce"), std::string::npos) << text;
    }
    const std::string ok = "1:1:8000:128:16000:" + std::to_string(pack_hash({id, 200, 5, 4})) + "@5";
    EXPECT_NO_THROW(parse_text(ok.c_str()));
    EXPECT_NE(malformed_text("1:1:8000:128:16000:23341697@500").find("frame 500"), std::string::npos);
}

TEST(Format, RejectsSyntaxErrors) {
    malformed_text("");
    malformed_text("1:1:8000:128");
    malformed_text("1:1:8000:128:16000:23341697");
    malformed_text("1:1:8000:128:16000:23341697@5,");
    malformed_text("1:1:8000:128:16000:23341697@5 trailing");
    malformed_text("-1:1:8000:128:16000:");
    malformed_text("1:1:8000:128:99999999999:");
    malformed_text("1:1:8000:128:16000:4294967296@1");
}

TEST(Format, BinaryWireFormRoundTripsAndIsChecked) {
    auto body = encode_body(default_params(), 16000, sample_landmarks());
    const AfpHeader h = header_of(body);
    std::vector<uint8_t> wire = format_binary(body.data(), body.size());
    ASSERT_EQ(wire.size(), 16 + 8 * size_t{h.count});
    EXPECT_EQ(wire[0], h.version);
    EXPECT_EQ(wire[12] << 24 | wire[13] << 16 | wire[14] << 8 | wire[15], static_cast<int>(h.count));  // big-endian
    EXPECT_EQ(parse_binary(wire.data(), wire.size()), body);

    auto kind_of = [](const std::vector<uint8_t>& bytes) {
        try {
            parse_binary(bytes.data(), bytes.size());
        } catch (const Error& e) {
            return e.kind();
        }
        return ErrorKind::Cancelled;  // "no error"
    };
    EXPECT_EQ(kind_of(std::vector<uint8_t>(wire.begin(), wire.end() - 8)), ErrorKind::Malformed);  // count too large
    EXPECT_EQ(kind_of(std::vector<uint8_t>(wire.begin(), wire.begin() + 10)), ErrorKind::Malformed);  // short header
    std::vector<uint8_t> unsorted = wire;
    std::swap_ranges(unsorted.begin() + 16, unsorted.begin() + 24, unsorted.begin() + 32);
    EXPECT_EQ(kind_of(unsorted), ErrorKind::Malformed);
}
