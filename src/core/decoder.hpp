// decoder.hpp — decodes an audio container held in memory (libsndfile virtual I/O) to mono float.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

struct sf_private_tag;

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
    // Opens the container; throws Error (EmptyAudio, Undecodable, BadAudioHeader, TooLong).
    MemoryDecoder(const uint8_t* data, size_t size, double max_seconds);
    ~MemoryDecoder();
    MemoryDecoder(const MemoryDecoder&) = delete;
    MemoryDecoder& operator=(const MemoryDecoder&) = delete;

    const AudioInfo& info() const noexcept { return info_; }

    // Appends up to max_frames downmixed samples to out; returns how many, 0 at the end.
    // Throws NonFinite, TooLong, Truncated or Undecodable.
    size_t read_mono(std::vector<float>& out, size_t max_frames);

    // Frames decoded so far.
    int64_t frames_read() const noexcept { return frames_read_; }

private:
    void check_complete() const;

    MemorySource source_;
    sf_private_tag* file_ = nullptr;
    AudioInfo info_;
    int64_t max_frames_ = 0;
    int64_t frames_read_ = 0;
    bool at_end_ = false;
    int length_check_ = 0;        // a LengthCheck (decoder.cpp)
    bool riff_truncated_ = false;
    std::vector<float> interleaved_;
};

}  // namespace afp
