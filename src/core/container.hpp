// container.hpp — what the bytes claim to be, checked before any decoder library parses them.
//
// libsndfile reads some thirty containers and codecs; afp accepts the few it documents (WAV,
// AIFF, FLAC, Ogg Vorbis, Ogg Opus, MP3) and refuses the rest before a parser sees them, so the
// attack surface is the code paths we test. The same pass reads the length fields these
// containers declare, because libsndfile quietly shortens a file whose data ends early (the
// caller would fingerprint a prefix as if it were the whole recording).
#pragma once

#include <cstddef>
#include <cstdint>

namespace afp {

enum class ContainerKind { Wav, Aiff, Flac, OggVorbis, OggOpus, Mp3 };

// What the header pass learned. Throws Error: Undecodable for bytes that are none of the accepted
// containers, BadAudioHeader for a header that declares zero channels or a zero sample rate,
// Truncated for a declared data size the bytes do not hold.
struct ContainerInfo {
    ContainerKind kind;
    // FLAC only: the total frames STREAMINFO declares (0 = unknown) and the first frame of the last
    // frame found in the data (-1 = none found), so data beyond the declared length is caught.
    int64_t flac_declared_frames = 0;
    int64_t flac_last_frame_start = -1;
    // Ogg only: whether the last complete page is flagged end-of-stream (a cut stream ends without one).
    bool ogg_complete = false;
};

ContainerInfo inspect_container(const uint8_t* data, size_t size);

// The human name of a container, for error details.
const char* container_name(ContainerKind kind) noexcept;

}  // namespace afp
