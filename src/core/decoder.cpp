// decoder.cpp — from memory: WAV, AIFF, FLAC, Ogg Vorbis and MP3 through libsndfile, Ogg Opus through libopusfile.
#include "decoder.hpp"

#include <opusfile.h>
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

// The encodings afp documents, per container; libsndfile knows many more (ADPCM, GSM, ...), which
// are refused so that only tested decoders run on untrusted bytes.
bool accepted_encoding(ContainerKind kind, int format) {
    const int type = format & SF_FORMAT_TYPEMASK;
    const int sub = format & SF_FORMAT_SUBMASK;
    const bool pcm = sub == SF_FORMAT_PCM_S8 || sub == SF_FORMAT_PCM_U8 || sub == SF_FORMAT_PCM_16 ||
                     sub == SF_FORMAT_PCM_24 || sub == SF_FORMAT_PCM_32;
    const bool plain = pcm || sub == SF_FORMAT_FLOAT || sub == SF_FORMAT_DOUBLE || sub == SF_FORMAT_ULAW ||
                       sub == SF_FORMAT_ALAW;
    switch (kind) {
        // GSM 6.10 in WAV: telephone recordings (docs/accuracy.md measures them).
        case ContainerKind::Wav:
            return (type == SF_FORMAT_WAV || type == SF_FORMAT_WAVEX || type == SF_FORMAT_RF64) &&
                   (plain || sub == SF_FORMAT_GSM610);
        case ContainerKind::Aiff: return type == SF_FORMAT_AIFF && plain;
        case ContainerKind::Flac: return type == SF_FORMAT_FLAC && pcm;
        case ContainerKind::OggVorbis: return type == SF_FORMAT_OGG && sub == SF_FORMAT_VORBIS;
        case ContainerKind::Mp3: return type == SF_FORMAT_MPEG && sub == SF_FORMAT_MPEG_LAYER_III;
        case ContainerKind::OggOpus: return false;  // decoded by libopusfile
    }
    return false;
}

// libopusfile's error codes, for error details.
const char* opus_error(int code) {
    switch (code) {
        case OP_HOLE: return "a page is missing or corrupt";
        case OP_EREAD: return "read error";
        case OP_EFAULT: return "internal decoder error";
        case OP_EIMPL: return "an unsupported feature";
        case OP_EINVAL: return "invalid stream";
        case OP_ENOTFORMAT: return "not an Opus stream";
        case OP_EBADHEADER: return "a corrupt header";
        case OP_EVERSION: return "an unsupported version";
        case OP_ENOTAUDIO: return "not audio";
        case OP_EBADPACKET: return "a corrupt packet";
        case OP_EBADLINK: return "a corrupt link";
        case OP_ENOSEEK: return "not seekable";
        case OP_EBADTIMESTAMP: return "an invalid granule position";
        default: return "unknown error";
    }
}

std::string describe_seconds(double seconds) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", seconds);
    return buf;
}

}  // namespace

MemoryDecoder::MemoryDecoder(const uint8_t* data, size_t size, double max_seconds, uint64_t max_samples)
    : source_{data, static_cast<int64_t>(size), 0}, max_samples_(max_samples) {
    if (size == 0) throw Error(ErrorKind::EmptyAudio, "The input has zero bytes.");
    container_ = inspect_container(data, size);
    if (container_.kind == ContainerKind::Flac && container_.flac_declared_frames > 0 &&
        container_.flac_last_frame_start >= container_.flac_declared_frames) {
        throw Error(ErrorKind::BadAudioHeader,
                    "The FLAC header declares " + std::to_string(container_.flac_declared_frames) +
                        " frames, but the data holds a frame starting at " +
                        std::to_string(container_.flac_last_frame_start) + ".");
    }
    if (container_.kind == ContainerKind::OggOpus) {
        open_opus(data, size);
    } else {
        open_sndfile();
    }
    try {
        check_limits(max_seconds, max_samples);
    } catch (...) {
        close();
        throw;
    }
}

MemoryDecoder::~MemoryDecoder() { close(); }

void MemoryDecoder::close() noexcept {
    if (file_ != nullptr) sf_close(file_);
    if (opus_ != nullptr) op_free(opus_);
    file_ = nullptr;
    opus_ = nullptr;
}

// Ogg Opus through libopusfile, not libsndfile: Debian's libsndfile 1.2.0 Opus reader returns
// uninitialised memory for streams with a bad granule position, so the same bytes fingerprinted
// differently in different backends. libopusfile validates granule positions and downmixes to
// stereo with the channel mapping of each link.
void MemoryDecoder::open_opus(const uint8_t* data, size_t size) {
    int error = 0;
    opus_ = op_open_memory(data, size, &error);
    if (opus_ == nullptr) {
        throw Error(ErrorKind::Undecodable, std::string("The Ogg Opus stream could not be opened (") +
                                                opus_error(error) + ").");
    }
    info_.channels = 2;
    info_.sample_rate = 48000;  // Opus always decodes at 48 kHz
    for (int link = 0; link < op_link_count(opus_); ++link) {
        coded_channels_ = std::max(coded_channels_, op_channel_count(opus_, link));
    }
    const int64_t total = op_pcm_total(opus_, -1);
    info_.declared_frames = total > 0 ? total : 0;
}

void MemoryDecoder::open_sndfile() {
    static SF_VIRTUAL_IO io = {vio_length, vio_seek, vio_read, vio_write, vio_tell};
    SF_INFO sfinfo{};
    file_ = sf_open_virtual(&io, SFM_READ, &sfinfo, &source_);
    if (file_ == nullptr) {
        throw Error(ErrorKind::Undecodable, std::string("The ") + container_name(container_.kind) +
                                                " data could not be opened (" + sf_strerror(nullptr) + ").");
    }
    if (!accepted_encoding(container_.kind, sfinfo.format)) {
        close();
        throw Error(ErrorKind::Undecodable, std::string("The ") + container_name(container_.kind) +
                                                " data uses an encoding afp does not accept.");
    }
    info_.channels = sfinfo.channels;
    coded_channels_ = sfinfo.channels;
    info_.sample_rate = sfinfo.samplerate;
    info_.declared_frames = sfinfo.frames == SF_COUNT_MAX ? 0 : sfinfo.frames;
}

void MemoryDecoder::check_limits(double max_seconds, uint64_t max_samples) {
    if (coded_channels_ < 1 || coded_channels_ > kMaxChannels) {
        throw Error(ErrorKind::BadAudioHeader,
                    "The header declares " + std::to_string(coded_channels_) + " channels; 1 to " +
                        std::to_string(kMaxChannels) + " are accepted.");
    }
    if (info_.sample_rate < kMinRate || info_.sample_rate > kMaxRate) {
        throw Error(ErrorKind::BadAudioHeader,
                    "The header declares a sample rate of " + std::to_string(info_.sample_rate) + " Hz; " +
                        std::to_string(kMinRate) + " to " + std::to_string(kMaxRate) + " Hz are accepted.");
    }
    max_frames_ = static_cast<int64_t>(std::floor(max_seconds * info_.sample_rate));
    if (info_.declared_frames > max_frames_) {
        const double declared = static_cast<double>(info_.declared_frames) / info_.sample_rate;
        throw Error(ErrorKind::TooLong, "The header declares " + describe_seconds(declared) +
                                            " seconds of audio; the limit is " + describe_seconds(max_seconds) +
                                            " seconds.");
    }
    if (static_cast<uint64_t>(info_.declared_frames) * static_cast<uint64_t>(coded_channels_) > max_samples) {
        throw Error(ErrorKind::TooManySamples,
                    "The header declares " + std::to_string(info_.declared_frames) + " frames of " +
                        std::to_string(coded_channels_) + " channels at " + std::to_string(info_.sample_rate) +
                        " Hz; the limit is " + std::to_string(max_samples) + " samples.");
    }
}

int64_t MemoryDecoder::read_interleaved(size_t max_frames) {
    const size_t channels = static_cast<size_t>(info_.channels);
    interleaved_.resize(max_frames * channels);
    if (opus_ == nullptr) {
        const sf_count_t got = sf_readf_float(file_, interleaved_.data(), static_cast<sf_count_t>(max_frames));
        if (got <= 0 && sf_error(file_) != SF_ERR_NO_ERROR && frames_read_ == 0) {
            throw Error(ErrorKind::Undecodable,
                        std::string("The audio data could not be decoded (") + sf_strerror(file_) + ").");
        }
        return got;
    }
    const int got = op_read_float_stereo(opus_, interleaved_.data(), static_cast<int>(interleaved_.size()));
    if (got < 0) {
        throw Error(ErrorKind::Undecodable, std::string("The Ogg Opus data could not be decoded (") +
                                                opus_error(got) + ").");
    }
    return got;
}

size_t MemoryDecoder::read_mono(std::vector<float>& out, size_t max_frames) {
    if (at_end_) return 0;
    const int64_t got = read_interleaved(max_frames);
    if (got <= 0) {
        at_end_ = true;
        check_complete();
        return 0;
    }
    frames_read_ += got;
    if (frames_read_ > max_frames_) {
        throw Error(ErrorKind::TooLong, "The audio is longer than " +
                                            describe_seconds(static_cast<double>(max_frames_) / info_.sample_rate) +
                                            " seconds.");
    }
    if (static_cast<uint64_t>(frames_read_) * static_cast<uint64_t>(coded_channels_) > max_samples_) {
        throw Error(ErrorKind::TooManySamples, "The audio has more than " + std::to_string(max_samples_) +
                                                   " samples (frames x channels).");
    }
    const size_t channels = static_cast<size_t>(info_.channels);
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
                throw Error(ErrorKind::NonFinite, "Sample " + std::to_string(frames_read_ - got + static_cast<int64_t>(i)) +
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
    bool truncated = false;
    switch (container_.kind) {
        case ContainerKind::Wav:
        case ContainerKind::Aiff:
        case ContainerKind::Flac:
            // Exact lengths; check_wav/check_aiff already compared the data chunk with the bytes.
            truncated = declared > 0 && frames_read_ < declared;
            break;
        case ContainerKind::Mp3:
            // MP3 lengths come from a Xing/LAME tag or the bit rate: allow a few frames of slack.
            // An MP3 without a tag has no length to compare with; its truncation cannot be seen.
            truncated = declared > 0 && frames_read_ < declared * 95 / 100 - 4608;
            break;
        case ContainerKind::OggVorbis:
        case ContainerKind::OggOpus:
            // The pages must run to an end-of-stream page, and the decoded length reach the last
            // page's granule position.
            truncated = !container_.ogg_complete || declared <= 0 || frames_read_ < declared * 99 / 100;
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
