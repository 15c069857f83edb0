// decoder.cpp — libsndfile from memory: WAV (all PCM and float encodings), FLAC, Ogg Vorbis/Opus, MP3, ...
#include "decoder.hpp"

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "errors.hpp"

namespace afp {

namespace {

// Channel counts beyond this are treated as a corrupt header, not as audio.
constexpr int kMaxChannels = 64;
// Sample rates outside [kMinRate, kMaxRate] Hz are treated as a corrupt header.
constexpr int kMinRate = 1000;
constexpr int kMaxRate = 768000;
// Samples larger than this in magnitude (float files) are clamped so that power stays finite.
constexpr float kMaxMagnitude = 1000.0f;

// The five callbacks libsndfile reads a memory buffer through; none of them can throw.
sf_count_t vio_length(void* user) noexcept { return static_cast<MemorySource*>(user)->size; }

sf_count_t vio_seek(sf_count_t offset, int whence, void* user) noexcept {
    auto* src = static_cast<MemorySource*>(user);
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? src->pos : src->size;
    sf_count_t target = base + offset;
    if (target < 0) return -1;
    src->pos = std::min(target, src->size);
    return src->pos;
}

sf_count_t vio_read(void* ptr, sf_count_t count, void* user) noexcept {
    auto* src = static_cast<MemorySource*>(user);
    if (count <= 0) return 0;
    sf_count_t n = std::min(count, src->size - src->pos);
    if (n <= 0) return 0;
    std::copy_n(src->data + src->pos, n, static_cast<uint8_t*>(ptr));
    src->pos += n;
    return n;
}

sf_count_t vio_write(const void*, sf_count_t, void*) noexcept { return 0; }

sf_count_t vio_tell(void* user) noexcept { return static_cast<MemorySource*>(user)->pos; }

// Whether the container's frame count is exact (PCM-style headers) rather than an estimate.
bool has_exact_length(int format) {
    switch (format & SF_FORMAT_TYPEMASK) {
        case SF_FORMAT_WAV:
        case SF_FORMAT_WAVEX:
        case SF_FORMAT_RF64:
        case SF_FORMAT_W64:
        case SF_FORMAT_AIFF:
        case SF_FORMAT_CAF:
        case SF_FORMAT_FLAC:
            return true;
        default:
            return false;
    }
}

// How a container's declared length is checked against what decodes.
enum class LengthCheck { Exact, Estimate, OggEndOfStream, None };

LengthCheck length_check_for(int format) {
    if (has_exact_length(format)) return LengthCheck::Exact;
    switch (format & SF_FORMAT_TYPEMASK) {
        case SF_FORMAT_MPEG: return LengthCheck::Estimate;
        case SF_FORMAT_OGG: return LengthCheck::OggEndOfStream;
        default: return LengthCheck::None;
    }
}

uint32_t read_le32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
           static_cast<uint32_t>(p[3]) << 24;
}

uint64_t read_le64(const uint8_t* p) { return read_le32(p) | static_cast<uint64_t>(read_le32(p + 4)) << 32; }

// libsndfile quietly shortens a RIFF/WAVE file whose data chunk runs past the end of the bytes;
// this finds the data chunk and compares its declared size with what is there. The sizes 0 and
// 0xFFFFFFFF mean "unknown" (written by streaming encoders) and are not truncation. RF64 files
// (64-bit WAV) declare the real data size in their ds64 chunk, which is checked the same way:
// a header claiming 2^60 bytes of audio in a few kilobytes is truncated, not short audio.
bool riff_data_truncated(const uint8_t* data, size_t size) {
    if (size < 12 || std::memcmp(data + 8, "WAVE", 4) != 0) return false;
    const bool rf64 = std::memcmp(data, "RF64", 4) == 0 || std::memcmp(data, "BW64", 4) == 0;
    if (!rf64 && std::memcmp(data, "RIFF", 4) != 0) return false;
    if (rf64) {
        if (size < 36 || std::memcmp(data + 12, "ds64", 4) != 0) return false;
        const uint64_t declared = read_le64(data + 28);  // ds64: riff size (8), data size (8), ...
        size_t pos = 12;
        while (pos + 8 <= size) {
            if (std::memcmp(data + pos, "data", 4) == 0) return declared > size - (pos + 8);
            const uint32_t chunk = read_le32(data + pos + 4);
            pos += 8 + static_cast<size_t>(chunk) + (chunk & 1u);
        }
        return false;
    }
    size_t pos = 12;
    while (pos + 8 <= size) {
        const uint32_t chunk = read_le32(data + pos + 4);
        if (std::memcmp(data + pos, "data", 4) == 0) {
            const size_t available = size - (pos + 8);
            return chunk != 0 && chunk != 0xFFFFFFFFu && chunk > available;
        }
        pos += 8 + static_cast<size_t>(chunk) + (chunk & 1u);
    }
    return false;
}

std::string describe_seconds(double seconds) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", seconds);
    return buf;
}

}  // namespace

MemoryDecoder::MemoryDecoder(const uint8_t* data, size_t size, double max_seconds)
    : source_{data, static_cast<int64_t>(size), 0} {
    if (size == 0) throw Error(ErrorKind::EmptyAudio, "The input has zero bytes.");

    static SF_VIRTUAL_IO io = {vio_length, vio_seek, vio_read, vio_write, vio_tell};
    SF_INFO sfinfo{};
    file_ = sf_open_virtual(&io, SFM_READ, &sfinfo, &source_);
    if (file_ == nullptr) {
        throw Error(ErrorKind::Undecodable,
                    std::string("The bytes are not a supported audio container (") + sf_strerror(nullptr) + ").");
    }
    info_.channels = sfinfo.channels;
    info_.sample_rate = sfinfo.samplerate;
    info_.declared_frames = sfinfo.frames == SF_COUNT_MAX ? 0 : sfinfo.frames;
    length_check_ = static_cast<int>(length_check_for(sfinfo.format));
    riff_truncated_ = riff_data_truncated(data, size);

    if (info_.channels < 1 || info_.channels > kMaxChannels) {
        sf_close(file_);
        file_ = nullptr;
        throw Error(ErrorKind::BadAudioHeader,
                    "The header declares " + std::to_string(sfinfo.channels) + " channels; 1 to " +
                        std::to_string(kMaxChannels) + " are accepted.");
    }
    if (info_.sample_rate < kMinRate || info_.sample_rate > kMaxRate) {
        sf_close(file_);
        file_ = nullptr;
        throw Error(ErrorKind::BadAudioHeader,
                    "The header declares a sample rate of " + std::to_string(sfinfo.samplerate) + " Hz; " +
                        std::to_string(kMinRate) + " to " + std::to_string(kMaxRate) + " Hz are accepted.");
    }
    max_frames_ = static_cast<int64_t>(std::floor(max_seconds * info_.sample_rate));
    if (info_.declared_frames > max_frames_) {
        double declared = static_cast<double>(info_.declared_frames) / info_.sample_rate;
        sf_close(file_);
        file_ = nullptr;
        throw Error(ErrorKind::TooLong, "The header declares " + describe_seconds(declared) +
                                            " seconds of audio; the limit is " + describe_seconds(max_seconds) +
                                            " seconds.");
    }
}

MemoryDecoder::~MemoryDecoder() {
    if (file_ != nullptr) sf_close(file_);
}

size_t MemoryDecoder::read_mono(std::vector<float>& out, size_t max_frames) {
    if (at_end_) return 0;
    const size_t channels = static_cast<size_t>(info_.channels);
    interleaved_.resize(max_frames * channels);
    sf_count_t got = sf_readf_float(file_, interleaved_.data(), static_cast<sf_count_t>(max_frames));
    if (got <= 0) {
        at_end_ = true;
        if (sf_error(file_) != SF_ERR_NO_ERROR && frames_read_ == 0) {
            throw Error(ErrorKind::Undecodable,
                        std::string("The audio data could not be decoded (") + sf_strerror(file_) + ").");
        }
        check_complete();
        return 0;
    }
    frames_read_ += got;
    if (frames_read_ > max_frames_) {
        throw Error(ErrorKind::TooLong, "The audio is longer than " +
                                            describe_seconds(static_cast<double>(max_frames_) / info_.sample_rate) +
                                            " seconds.");
    }
    const size_t n = static_cast<size_t>(got);
    const float scale = 1.0f / static_cast<float>(channels);
    size_t base = out.size();
    out.resize(base + n);
    const float* in = interleaved_.data();
    for (size_t i = 0; i < n; ++i) {
        float sum = 0.0f;
        for (size_t c = 0; c < channels; ++c) {
            float v = in[i * channels + c];
            if (!std::isfinite(v)) {
                throw Error(ErrorKind::NonFinite, "Sample " + std::to_string(frames_read_ - got + i) +
                                                      " is NaN or infinite.");
            }
            sum += std::clamp(v, -kMaxMagnitude, kMaxMagnitude);
        }
        out[base + i] = sum * scale;
    }
    return n;
}

// Throws Truncated when the container promised more audio than could be decoded.
void MemoryDecoder::check_complete() const {
    const int64_t declared = info_.declared_frames;
    bool truncated = riff_truncated_;
    switch (static_cast<LengthCheck>(length_check_)) {
        case LengthCheck::Exact:
            truncated = truncated || (declared > 0 && frames_read_ < declared);
            break;
        case LengthCheck::Estimate:
            // MP3 lengths come from a Xing/LAME tag or the bit rate: allow a few frames of slack.
            truncated = declared > 0 && frames_read_ < declared * 95 / 100 - 4608;
            break;
        case LengthCheck::OggEndOfStream:
            // libsndfile finds an Ogg stream's length at its end-of-stream page; none means the tail is missing.
            truncated = declared <= 0 || frames_read_ < declared * 99 / 100;
            break;
        case LengthCheck::None:
            break;
    }
    if (!truncated) return;
    if (declared > frames_read_) {
        throw Error(ErrorKind::Truncated, "The header declares " + std::to_string(declared) + " frames but only " +
                                              std::to_string(frames_read_) + " could be decoded.");
    }
    throw Error(ErrorKind::Truncated,
                "The data ends before the end of the audio stream; " + std::to_string(frames_read_) + " frames decoded.");
}

}  // namespace afp
