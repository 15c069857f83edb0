// decoder.hpp — decodes an audio container held in memory to mono float: Ogg Opus with libopusfile,
// the other accepted containers with libsndfile (virtual I/O).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "container.hpp"

struct sf_private_tag;
struct OggOpusFile;

namespace afp {

// Returns true when the caller wants the current call abandoned.
using CancelFn = bool (*)();

// A read cursor over caller-owned bytes, handed to libsndfile's virtual I/O.
struct MemorySource {
    const uint8_t* data;
    int64_t size;
    int64_t pos;
};

// What the container says about itself.
struct AudioInfo {
    int channels = 0;
    int sample_rate = 0;       // Hz
    int64_t declared_frames = 0;  // per the header; 0 or less when unknown
};

// An open container; reads mono blocks until the audio ends.
class MemoryDecoder {
public:
    // Opens the container; throws Error (EmptyAudio, Undecodable, BadAudioHeader, Truncated, TooLong,
    // TooManySamples). max_samples caps frames x channels: decoding work grows with it, not with seconds.
    MemoryDecoder(const uint8_t* data, size_t size, double max_seconds, uint64_t max_samples);
    ~MemoryDecoder();
    MemoryDecoder(const MemoryDecoder&) = delete;
    MemoryDecoder& operator=(const MemoryDecoder&) = delete;

    const AudioInfo& info() const noexcept { return info_; }

    // Appends up to max_frames downmixed samples to out; returns how many, 0 at the end.
    // Throws NonFinite, TooLong, TooManySamples, Truncated or Undecodable.
    size_t read_mono(std::vector<float>& out, size_t max_frames);

    // Frames decoded so far.
    int64_t frames_read() const noexcept { return frames_read_; }

private:
    void open_opus(const uint8_t* data, size_t size);
    void open_sndfile();
    void check_limits(double max_seconds, uint64_t max_samples);
    // Reads up to max_frames interleaved frames into interleaved_; returns how many, 0 at the end.
    int64_t read_interleaved(size_t max_frames);
    void check_complete() const;
    void close() noexcept;

    MemorySource source_;
    ContainerInfo container_;
    sf_private_tag* file_ = nullptr;  // libsndfile, for every container but Ogg Opus
    OggOpusFile* opus_ = nullptr;     // libopusfile, for Ogg Opus
    AudioInfo info_;
    // Channels the codec decodes, which the sample cap counts: Opus is read as a stereo downmix,
    // but decoding 8 channels costs 4 times 2.
    int coded_channels_ = 0;
    int64_t max_frames_ = 0;
    uint64_t max_samples_ = 0;
    int64_t frames_read_ = 0;
    bool at_end_ = false;
    std::vector<float> interleaved_;
};

}  // namespace afp
