// container.cpp — the header pass of container.hpp: identify, check the fields libsndfile trusts.
#include "container.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "errors.hpp"

namespace afp {

namespace {

uint32_t le16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8; }
uint32_t le32(const uint8_t* p) { return le16(p) | le16(p + 2) << 16; }
uint64_t le64(const uint8_t* p) { return le32(p) | static_cast<uint64_t>(le32(p + 4)) << 32; }
uint32_t be16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 8 | static_cast<uint32_t>(p[1]); }
uint32_t be24(const uint8_t* p) { return be16(p) << 8 | p[2]; }
uint32_t be32(const uint8_t* p) { return be16(p) << 16 | be16(p + 2); }

bool starts_with(const uint8_t* data, size_t size, size_t at, const char* magic) {
    const size_t n = std::strlen(magic);
    return at <= size && size - at >= n && std::memcmp(data + at, magic, n) == 0;
}

[[noreturn]] void truncated(const std::string& detail) { throw Error(ErrorKind::Truncated, detail); }
[[noreturn]] void bad_header(const std::string& detail) { throw Error(ErrorKind::BadAudioHeader, detail); }

// The bytes an ID3v2 tag at the start occupies (0 when there is none): MP3 and FLAC may carry one.
size_t id3v2_length(const uint8_t* data, size_t size) {
    if (size < 10 || std::memcmp(data, "ID3", 3) != 0) return 0;
    const uint8_t* s = data + 6;  // a "syncsafe" integer: 7 bits per byte
    if ((s[0] | s[1] | s[2] | s[3]) & 0x80) return 0;
    size_t length = 10 + (static_cast<size_t>(s[0]) << 21 | s[1] << 14 | s[2] << 7 | s[3]);
    if (data[5] & 0x10) length += 10;  // footer present
    return length;
}

// An MPEG audio frame header of Layer III (MPEG 1, 2 or 2.5); Layer I and II streams are refused.
bool is_mp3_frame(const uint8_t* p, size_t available) {
    if (available < 4 || p[0] != 0xFF || (p[1] & 0xE0) != 0xE0) return false;
    const unsigned version = (p[1] >> 3) & 3, layer = (p[1] >> 1) & 3;
    const unsigned bitrate = p[2] >> 4, rate = (p[2] >> 2) & 3;
    return version != 1 && layer == 1 && bitrate != 15 && rate != 3;
}

// Walks the chunks of a RIFF (little-endian sizes) or IFF (big-endian) file from byte 12, calling
// visit(id, body offset, declared size, bytes after the chunk header) until it returns false.
// Chunk bodies are padded to even lengths; a size that overflows ends the walk (libsndfile then
// reports the corrupt chunk).
template <typename Visit>
void walk_chunks(const uint8_t* data, size_t size, uint32_t (*read32)(const uint8_t*), Visit visit) {
    size_t pos = 12;
    while (size >= 8 && pos <= size - 8) {
        const uint32_t chunk = read32(data + pos + 4);
        const size_t body = pos + 8;
        if (!visit(data + pos, body, chunk, size - body)) return;
        pos = body + static_cast<size_t>(chunk) + (chunk & 1u);
        if (pos < body) return;
    }
}

// RIFF/WAVE and RF64: the fmt chunk's channels and rate, the data chunk's size against the bytes.
// The data sizes 0 and 0xFFFFFFFF mean "unknown" (streaming encoders write them), not truncation;
// RF64 declares the real size in its ds64 chunk.
void check_wav(const uint8_t* data, size_t size) {
    const bool rf64 = !starts_with(data, size, 0, "RIFF");
    uint64_t rf64_data_size = 0;
    if (rf64) {
        if (!starts_with(data, size, 12, "ds64") || size < 36) bad_header("The RF64 file has no ds64 chunk.");
        rf64_data_size = le64(data + 28);  // ds64: riff size (8), data size (8), ...
    }
    bool have_fmt = false;
    walk_chunks(data, size, le32, [&](const uint8_t* id, size_t body, uint32_t chunk, size_t available) {
        if (std::memcmp(id, "fmt ", 4) == 0 && available >= 8) {
            have_fmt = true;
            if (le16(data + body + 2) == 0) bad_header("The WAV header declares 0 channels.");
            if (le32(data + body + 4) == 0) bad_header("The WAV header declares a sample rate of 0 Hz.");
            return true;
        }
        if (std::memcmp(id, "data", 4) != 0) return true;
        if (!have_fmt) return false;  // libsndfile refuses it; nothing to check here
        const uint64_t declared = rf64 ? rf64_data_size : chunk;
        const bool unknown = !rf64 && (chunk == 0 || chunk == 0xFFFFFFFFu);
        if (!unknown && declared > available) {
            truncated("The data chunk declares " + std::to_string(declared) + " bytes; " +
                      std::to_string(available) + " follow it.");
        }
        return false;
    });
}

// AIFF and AIFF-C: COMM's channels and rate, SSND's size against the bytes.
void check_aiff(const uint8_t* data, size_t size) {
    bool have_comm = false;
    walk_chunks(data, size, be32, [&](const uint8_t* id, size_t body, uint32_t chunk, size_t available) {
        if (std::memcmp(id, "COMM", 4) == 0 && available >= 18) {
            have_comm = true;
            if (be16(data + body) == 0) bad_header("The AIFF header declares 0 channels.");
            // The rate is an 80-bit extended float: a zero mantissa is 0 Hz whatever the exponent.
            bool zero_rate = true;
            for (int i = 10; i < 18; ++i) zero_rate = zero_rate && data[body + i] == 0;
            if (zero_rate) bad_header("The AIFF header declares a sample rate of 0 Hz.");
            return true;
        }
        if (std::memcmp(id, "SSND", 4) != 0) return true;
        if (have_comm && chunk > available) {
            truncated("The SSND chunk declares " + std::to_string(chunk) + " bytes; " +
                      std::to_string(available) + " follow it.");
        }
        return false;
    });
}

// CRC-8 (polynomial 0x07) over a FLAC frame header.
uint8_t flac_crc8(const uint8_t* p, size_t n) {
    uint8_t crc = 0;
    for (size_t i = 0; i < n; ++i) {
        crc ^= p[i];
        for (int b = 0; b < 8; ++b) crc = static_cast<uint8_t>(crc & 0x80 ? (crc << 1) ^ 0x07 : crc << 1);
    }
    return crc;
}

// Parses a FLAC frame header at p; on success returns true and the frame's first sample.
bool flac_frame_at(const uint8_t* p, size_t available, uint32_t fixed_block, int64_t* first_sample) {
    if (available < 6 || p[0] != 0xFF || (p[1] & 0xFE) != 0xF8) return false;
    const bool variable = p[1] & 1;
    const unsigned block_code = p[2] >> 4, rate_code = p[2] & 0x0F;
    const unsigned channels = p[3] >> 4, sample_size = (p[3] >> 1) & 7;
    if (block_code == 0 || rate_code == 15 || channels > 10 || sample_size == 3 || (p[3] & 1)) return false;
    // The frame (fixed block size) or sample (variable) number, UTF-8 coded, up to 36 bits.
    size_t pos = 4;
    uint64_t number = p[pos];
    int extra = 0;
    if (number < 0x80) {
        extra = 0;
    } else if ((number & 0xE0) == 0xC0) {
        number &= 0x1F, extra = 1;
    } else if ((number & 0xF0) == 0xE0) {
        number &= 0x0F, extra = 2;
    } else if ((number & 0xF8) == 0xF0) {
        number &= 0x07, extra = 3;
    } else if ((number & 0xFC) == 0xF8) {
        number &= 0x03, extra = 4;
    } else if ((number & 0xFE) == 0xFC) {
        number &= 0x01, extra = 5;
    } else if (number == 0xFE) {
        number = 0, extra = 6;
    } else {
        return false;
    }
    ++pos;
    for (int i = 0; i < extra; ++i, ++pos) {
        if (pos >= available || (p[pos] & 0xC0) != 0x80) return false;
        number = number << 6 | (p[pos] & 0x3F);
    }
    if (block_code == 6) pos += 1;
    if (block_code == 7) pos += 2;
    if (rate_code == 12) pos += 1;
    if (rate_code == 13 || rate_code == 14) pos += 2;
    if (pos >= available || flac_crc8(p, pos) != p[pos]) return false;
    *first_sample = variable ? static_cast<int64_t>(number) : static_cast<int64_t>(number) * fixed_block;
    return true;
}

// FLAC: STREAMINFO's rate and total length, and the start of the last frame in the data. libsndfile
// stops at the declared total, so audio past it would be dropped without a word.
void check_flac(const uint8_t* data, size_t size, size_t start, ContainerInfo& info) {
    size_t pos = start + 4;
    bool last = false;
    uint32_t fixed_block = 0;
    while (!last) {
        if (size < 4 || pos > size - 4) truncated("The FLAC metadata ends before the audio frames begin.");
        last = data[pos] & 0x80;
        const unsigned type = data[pos] & 0x7F;
        const uint32_t length = be24(data + pos + 1);
        const size_t body = pos + 4;
        if (type == 0) {
            if (length < 34 || size - body < 34) bad_header("The FLAC STREAMINFO block is too short.");
            const uint8_t* s = data + body;
            fixed_block = be16(s + 2);
            const uint32_t rate = be24(s + 10) >> 4;
            if (rate == 0) bad_header("The FLAC header declares a sample rate of 0 Hz.");
            info.flac_declared_frames = static_cast<int64_t>(s[13] & 0x0F) << 32 | be32(s + 14);
        }
        pos = body + length;
    }
    // The last frame header: scan back from the end (frames are at most a few hundred kilobytes;
    // 4 MB covers 65,535-frame blocks of 8 channels of 32-bit PCM stored verbatim).
    const size_t audio_start = std::min(pos, size);
    const size_t window = std::min<size_t>(size - audio_start, 4u << 20);
    for (size_t back = 2; back <= window; ++back) {
        const size_t at = size - back;
        int64_t first = 0;
        if (data[at] == 0xFF && flac_frame_at(data + at, size - at, fixed_block, &first)) {
            info.flac_last_frame_start = first;
            break;
        }
    }
}

// Ogg: the codec of the first page, and whether the pages run to an end-of-stream page.
void check_ogg(const uint8_t* data, size_t size, ContainerInfo& info) {
    size_t pos = 0;
    bool first = true;
    bool eos = false;
    while (size >= 27 && pos <= size - 27 && std::memcmp(data + pos, "OggS", 4) == 0) {
        const unsigned segments = data[pos + 26];
        if (size - pos - 27 < segments) break;
        size_t body = 0;
        for (unsigned i = 0; i < segments; ++i) body += data[pos + 27 + i];
        const size_t header = 27 + segments;
        if (size - pos - header < body) break;  // the page is cut
        if (first) {
            const uint8_t* b = data + pos + header;
            if (body >= 8 && std::memcmp(b, "OpusHead", 8) == 0) {
                info.kind = ContainerKind::OggOpus;
            } else if (body >= 7 && std::memcmp(b, "\x01vorbis", 7) == 0) {
                info.kind = ContainerKind::OggVorbis;
            } else {
                throw Error(ErrorKind::Undecodable, "The Ogg stream carries neither Vorbis nor Opus audio.");
            }
            first = false;
        }
        eos = data[pos + 5] & 0x04;
        pos += header + body;
    }
    if (first) throw Error(ErrorKind::Undecodable, "The Ogg stream has no complete first page.");
    info.ogg_complete = eos;  // bytes after the end-of-stream page are not audio; ignore them
}

}  // namespace

ContainerInfo inspect_container(const uint8_t* data, size_t size) {
    ContainerInfo info{ContainerKind::Wav};
    if (size >= 12 && (starts_with(data, size, 0, "RIFF") || starts_with(data, size, 0, "RF64") ||
                       starts_with(data, size, 0, "BW64")) &&
        starts_with(data, size, 8, "WAVE")) {
        check_wav(data, size);
        return info;
    }
    if (starts_with(data, size, 0, "FORM") && (starts_with(data, size, 8, "AIFF") || starts_with(data, size, 8, "AIFC"))) {
        info.kind = ContainerKind::Aiff;
        check_aiff(data, size);
        return info;
    }
    if (starts_with(data, size, 0, "OggS")) {
        check_ogg(data, size, info);
        return info;
    }
    const size_t tag = id3v2_length(data, size);
    if (starts_with(data, size, tag, "fLaC")) {
        info.kind = ContainerKind::Flac;
        check_flac(data, size, tag, info);
        return info;
    }
    // Encoders pad between the tag and the first frame with zeros; a few kilobytes of them are normal.
    size_t first_frame = tag;
    while (first_frame < size && first_frame - tag < 65536 && data[first_frame] == 0) ++first_frame;
    if (first_frame < size && is_mp3_frame(data + first_frame, size - first_frame)) {
        info.kind = ContainerKind::Mp3;
        return info;
    }
    if (tag > 0 && tag >= size) truncated("The data ends inside its ID3 tag.");
    throw Error(ErrorKind::Undecodable, "The bytes are not WAV, AIFF, FLAC, Ogg Vorbis, Ogg Opus or MP3.");
}

const char* container_name(ContainerKind kind) noexcept {
    switch (kind) {
        case ContainerKind::Wav: return "WAV";
        case ContainerKind::Aiff: return "AIFF";
        case ContainerKind::Flac: return "FLAC";
        case ContainerKind::OggVorbis: return "Ogg Vorbis";
        case ContainerKind::OggOpus: return "Ogg Opus";
        case ContainerKind::Mp3: return "MP3";
    }
    return "audio";
}

}  // namespace afp
