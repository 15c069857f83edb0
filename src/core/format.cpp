// format.cpp — one validation routine behind every way a fingerprint enters the database.
#include "format.hpp"

#include <cctype>
#include <cstring>
#include <limits>

#include "errors.hpp"
#include "landmarks.hpp"
#include "spectrogram.hpp"

namespace afp {

namespace {

[[noreturn]] void malformed(const std::string& detail) { throw Error(ErrorKind::Malformed, detail); }

// Reads an unsigned decimal at *p (no sign, no spaces) and advances past it.
uint64_t read_number(const char*& p, const char* what) {
    if (!std::isdigit(static_cast<unsigned char>(*p))) malformed(std::string("Expected a number for ") + what + ".");
    uint64_t v = 0;
    while (std::isdigit(static_cast<unsigned char>(*p))) {
        v = v * 10 + static_cast<uint64_t>(*p - '0');
        if (v > std::numeric_limits<uint32_t>::max()) malformed(std::string("The ") + what + " is out of range.");
        ++p;
    }
    return v;
}

void expect(const char*& p, char c, const char* where) {
    if (*p != c) malformed(std::string("Expected \"") + c + "\" " + where + ".");
    ++p;
}

}  // namespace

std::vector<uint8_t> encode_body(const ParamSet& params, uint32_t n_samples, const std::vector<Landmark>& landmarks) {
    const uint32_t count = static_cast<uint32_t>(landmarks.size());
    std::vector<uint8_t> body(afp_body_size(count));
    AfpHeader h{};
    h.version = AFP_FORMAT_VERSION;
    h.param_set = params.id;
    h.hop = static_cast<uint16_t>(params.hop);
    h.sample_rate = params.sample_rate;
    h.n_samples = n_samples;
    h.count = count;
    std::memcpy(body.data(), &h, sizeof h);
    auto* hashes = reinterpret_cast<int32_t*>(body.data() + sizeof h);
    auto* frames = reinterpret_cast<uint32_t*>(hashes + count);
    for (uint32_t i = 0; i < count; ++i) {
        hashes[i] = landmarks[i].hash;
        frames[i] = landmarks[i].frame;
    }
    return body;
}

// Whether the analysis could have paired these peaks: both inside the searched band, the target
// inside the anchor's target zone. The query analysis (query_params) shares these bounds.
static bool producible(const HashFields& f, const ParamSet& params) {
    const int64_t target_bin = static_cast<int64_t>(f.f1) + f.df;
    return f.f1 >= params.min_bin && f.f1 <= params.max_bin && target_bin >= params.min_bin &&
           target_bin <= params.max_bin && f.dt >= params.min_dt && f.dt <= params.max_dt &&
           f.df >= -params.max_df && f.df <= params.max_df;
}

void validate_body(const uint8_t* body, size_t size) {
    if (size < sizeof(AfpHeader)) {
        malformed("The value has " + std::to_string(size) + " bytes, fewer than the " +
                  std::to_string(sizeof(AfpHeader)) + "-byte header.");
    }
    AfpHeader h;
    std::memcpy(&h, body, sizeof h);
    if (h.version != AFP_FORMAT_VERSION) {
        malformed("Format version " + std::to_string(h.version) + " is not supported; this build reads version " +
                  std::to_string(AFP_FORMAT_VERSION) + ".");
    }
    const ParamSet* params = find_params(h.param_set);
    if (params == nullptr) malformed("Parameter set " + std::to_string(h.param_set) + " is unknown.");
    if (h.sample_rate != params->sample_rate || h.hop != params->hop) {
        malformed("Parameter set " + std::to_string(h.param_set) + " analyses at " +
                  std::to_string(params->sample_rate) + " Hz with a hop of " + std::to_string(params->hop) +
                  " samples, not " + std::to_string(h.sample_rate) + " Hz and " + std::to_string(h.hop) + ".");
    }
    if (size != afp_body_size(h.count)) {
        malformed("The header declares " + std::to_string(h.count) + " landmarks, which need " +
                  std::to_string(afp_body_size(h.count)) + " bytes, but the value has " + std::to_string(size) + ".");
    }
    const uint32_t n_frames = Spectrogram::frames_for(*params, h.n_samples);
    const auto* hashes = reinterpret_cast<const int32_t*>(body + sizeof h);
    const auto* frames = reinterpret_cast<const uint32_t*>(hashes + h.count);
    for (uint32_t i = 0; i < h.count; ++i) {
        int32_t hash;
        uint32_t frame;
        std::memcpy(&hash, hashes + i, sizeof hash);
        std::memcpy(&frame, frames + i, sizeof frame);
        if (hash < 0 || (static_cast<uint32_t>(hash) >> kHashBits) != h.param_set || !producible(unpack_hash(hash), *params)) {
            malformed("Landmark " + std::to_string(i + 1) + " has hash " + std::to_string(hash) +
                      ", which parameter set " + std::to_string(h.param_set) + " cannot produce.");
        }
        if (frame >= n_frames) {
            malformed("Landmark " + std::to_string(i + 1) + " is at frame " + std::to_string(frame) + ", but " +
                      std::to_string(h.n_samples) + " samples hold only " + std::to_string(n_frames) + " frames.");
        }
        if (i > 0) {
            int32_t prev_hash;
            uint32_t prev_frame;
            std::memcpy(&prev_hash, hashes + i - 1, sizeof prev_hash);
            std::memcpy(&prev_frame, frames + i - 1, sizeof prev_frame);
            if (hash < prev_hash || (hash == prev_hash && frame < prev_frame)) {
                malformed("Landmark " + std::to_string(i + 1) + " is out of order; landmarks must ascend by hash, then frame.");
            }
            if (hash == prev_hash && frame == prev_frame) {
                malformed("Landmark " + std::to_string(i + 1) + " repeats the landmark before it.");
            }
        }
    }
}

std::vector<uint8_t> parse_text(const char* text) {
    const char* p = text;
    while (std::isspace(static_cast<unsigned char>(*p))) ++p;
    const uint64_t version = read_number(p, "format version");
    expect(p, ':', "after the format version");
    const uint64_t param_set = read_number(p, "parameter set");
    expect(p, ':', "after the parameter set");
    const uint64_t rate = read_number(p, "sample rate");
    expect(p, ':', "after the sample rate");
    const uint64_t hop = read_number(p, "hop");
    expect(p, ':', "after the hop");
    const uint64_t n_samples = read_number(p, "sample count");
    expect(p, ':', "after the sample count");
    if (version > 255 || param_set > 255 || hop > 65535) malformed("A header field is out of range.");

    std::vector<int32_t> hashes;
    std::vector<uint32_t> frames;
    while (*p != '\0' && !std::isspace(static_cast<unsigned char>(*p))) {
        if (!hashes.empty()) expect(p, ',', "between landmarks");
        const uint64_t hash = read_number(p, "landmark hash");
        if (hash > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) malformed("A landmark hash is out of range.");
        expect(p, '@', "between a landmark's hash and its frame");
        const uint64_t frame = read_number(p, "landmark frame");
        hashes.push_back(static_cast<int32_t>(hash));
        frames.push_back(static_cast<uint32_t>(frame));
    }
    while (std::isspace(static_cast<unsigned char>(*p))) ++p;
    if (*p != '\0') malformed("Unexpected text after the last landmark.");

    AfpHeader h{};
    h.version = static_cast<uint8_t>(version);
    h.param_set = static_cast<uint8_t>(param_set);
    h.hop = static_cast<uint16_t>(hop);
    h.sample_rate = static_cast<uint32_t>(rate);
    h.n_samples = static_cast<uint32_t>(n_samples);
    h.count = static_cast<uint32_t>(hashes.size());
    std::vector<uint8_t> body(afp_body_size(h.count));
    std::memcpy(body.data(), &h, sizeof h);
    // An empty vector's data() may be null, and memcpy from null is undefined even for 0 bytes
    // (found by fuzz_text_input on "1:1:8000:128:0:").
    if (!hashes.empty()) {
        std::memcpy(body.data() + sizeof h, hashes.data(), hashes.size() * sizeof(int32_t));
        std::memcpy(body.data() + sizeof h + hashes.size() * sizeof(int32_t), frames.data(), frames.size() * sizeof(uint32_t));
    }
    validate_body(body.data(), body.size());
    return body;
}

std::string format_text(const uint8_t* body, size_t size) {
    validate_body(body, size);
    AfpHeader h;
    std::memcpy(&h, body, sizeof h);
    std::string out;
    out.reserve(32 + static_cast<size_t>(h.count) * 20);
    out += std::to_string(h.version) + ':' + std::to_string(h.param_set) + ':' + std::to_string(h.sample_rate) + ':' +
           std::to_string(h.hop) + ':' + std::to_string(h.n_samples) + ':';
    const auto* hashes = reinterpret_cast<const int32_t*>(body + sizeof h);
    const auto* frames = reinterpret_cast<const uint32_t*>(hashes + h.count);
    for (uint32_t i = 0; i < h.count; ++i) {
        if (i > 0) out += ',';
        out += std::to_string(hashes[i]);
        out += '@';
        out += std::to_string(frames[i]);
    }
    return out;
}

std::vector<uint8_t> format_binary(const uint8_t* body, size_t size) {
    validate_body(body, size);
    AfpHeader h;
    std::memcpy(&h, body, sizeof h);
    std::vector<uint8_t> out;
    out.reserve(16 + static_cast<size_t>(h.count) * 8);
    auto be = [&](uint32_t v, int bytes) {
        for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
    };
    be(h.version, 1);
    be(h.param_set, 1);
    be(h.hop, 2);
    be(h.sample_rate, 4);
    be(h.n_samples, 4);
    be(h.count, 4);
    const auto* hashes = reinterpret_cast<const int32_t*>(body + sizeof h);
    const auto* frames = reinterpret_cast<const uint32_t*>(hashes + h.count);
    for (uint32_t i = 0; i < h.count; ++i) {
        be(static_cast<uint32_t>(hashes[i]), 4);
        be(frames[i], 4);
    }
    return out;
}

std::vector<uint8_t> parse_binary(const uint8_t* data, size_t size) {
    auto be32 = [&](size_t at) {
        return uint32_t{data[at]} << 24 | uint32_t{data[at + 1]} << 16 | uint32_t{data[at + 2]} << 8 | data[at + 3];
    };
    if (size < 16) malformed("The value has " + std::to_string(size) + " bytes, fewer than the 16-byte header.");
    AfpHeader h{};
    h.version = data[0];
    h.param_set = data[1];
    h.hop = static_cast<uint16_t>(data[2] << 8 | data[3]);
    h.sample_rate = be32(4);
    h.n_samples = be32(8);
    h.count = be32(12);
    // Checked against the bytes actually sent before allocating for the count.
    if (uint64_t{h.count} * 8 != size - 16) {
        malformed("The header declares " + std::to_string(h.count) + " landmarks, which need " +
                  std::to_string(uint64_t{h.count} * 8) + " bytes, but " + std::to_string(size - 16) +
                  " bytes follow it.");
    }
    std::vector<uint8_t> body(afp_body_size(h.count));
    std::memcpy(body.data(), &h, sizeof h);
    auto* hashes = reinterpret_cast<int32_t*>(body.data() + sizeof h);
    auto* frames = reinterpret_cast<uint32_t*>(hashes + h.count);
    for (uint32_t i = 0; i < h.count; ++i) {
        hashes[i] = static_cast<int32_t>(be32(16 + 8 * size_t{i}));
        frames[i] = be32(20 + 8 * size_t{i});
    }
    validate_body(body.data(), body.size());
    return body;
}

double anchored_seconds(const uint8_t* body) noexcept {
    AfpHeader h;
    std::memcpy(&h, body, sizeof h);
    const ParamSet* params = find_params(h.param_set);
    if (h.sample_rate == 0) return 0.0;
    const uint32_t window = params != nullptr ? params->fft_size : 0;
    return h.n_samples > window ? static_cast<double>(h.n_samples - window) / h.sample_rate : 0.0;
}

std::vector<uint8_t> slice_body(const uint8_t* body, uint32_t first_frame, uint32_t end_frame) {
    AfpHeader h;
    std::memcpy(&h, body, sizeof h);
    const ParamSet* params = find_params(h.param_set);
    if (params == nullptr) malformed("The value uses an unknown parameter set.");
    const auto* hashes = reinterpret_cast<const int32_t*>(body + sizeof h);
    const auto* frames = reinterpret_cast<const uint32_t*>(hashes + h.count);
    std::vector<Landmark> kept;
    for (uint32_t i = 0; i < h.count; ++i) {
        if (frames[i] >= first_frame && frames[i] < end_frame) kept.push_back(Landmark{hashes[i], frames[i] - first_frame});
    }
    // Still sorted by (hash, frame): the shift is the same for every landmark.
    // The slice's audio ends where the window of its last frame (end_frame - 1) ends: it holds
    // exactly the frames its landmarks can be anchored in, so afp_slice(fp, 0, 60) passes a 60 s
    // clip limit (it used to claim one frame more, and last 60.128 s).
    const uint64_t start_sample = uint64_t{first_frame} * params->hop;
    const uint64_t end_sample =
        end_frame > first_frame
            ? std::min<uint64_t>(uint64_t{end_frame - 1} * params->hop + params->fft_size, h.n_samples)
            : start_sample;
    const uint32_t n_samples = end_sample > start_sample ? static_cast<uint32_t>(end_sample - start_sample) : 0;
    return encode_body(*params, std::max<uint32_t>(n_samples, params->fft_size), kept);
}

}  // namespace afp
