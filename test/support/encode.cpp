// encode.cpp — an in-memory growable file for libsndfile to write into.
#include "encode.hpp"

#include <sndfile.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace afp::test {

const Container kWavPcm16{SF_FORMAT_WAV | SF_FORMAT_PCM_16, "wav", "WAV 16-bit"};
const Container kWavPcm24{SF_FORMAT_WAV | SF_FORMAT_PCM_24, "wav", "WAV 24-bit"};
const Container kWavPcm32{SF_FORMAT_WAV | SF_FORMAT_PCM_32, "wav", "WAV 32-bit"};
const Container kWavPcmU8{SF_FORMAT_WAV | SF_FORMAT_PCM_U8, "wav", "WAV 8-bit unsigned"};
const Container kWavFloat{SF_FORMAT_WAV | SF_FORMAT_FLOAT, "wav", "WAV float"};
const Container kWavDouble{SF_FORMAT_WAV | SF_FORMAT_DOUBLE, "wav", "WAV double"};
const Container kWavUlaw{SF_FORMAT_WAV | SF_FORMAT_ULAW, "wav", "WAV mu-law"};
const Container kWavAlaw{SF_FORMAT_WAV | SF_FORMAT_ALAW, "wav", "WAV A-law"};
const Container kFlac{SF_FORMAT_FLAC | SF_FORMAT_PCM_16, "flac", "FLAC"};
const Container kOggVorbis{SF_FORMAT_OGG | SF_FORMAT_VORBIS, "ogg", "Ogg Vorbis"};
const Container kOggOpus{SF_FORMAT_OGG | SF_FORMAT_OPUS, "opus", "Ogg Opus"};
const Container kMp3{SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, "mp3", "MP3"};

namespace {

struct Sink {
    std::vector<uint8_t> bytes;
    sf_count_t pos = 0;
};

sf_count_t sink_length(void* u) { return static_cast<sf_count_t>(static_cast<Sink*>(u)->bytes.size()); }
sf_count_t sink_seek(sf_count_t offset, int whence, void* u) {
    auto* s = static_cast<Sink*>(u);
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? s->pos : static_cast<sf_count_t>(s->bytes.size());
    s->pos = std::max<sf_count_t>(0, base + offset);
    return s->pos;
}
sf_count_t sink_read(void* ptr, sf_count_t count, void* u) {
    auto* s = static_cast<Sink*>(u);
    sf_count_t n = std::min<sf_count_t>(count, static_cast<sf_count_t>(s->bytes.size()) - s->pos);
    if (n <= 0) return 0;
    std::memcpy(ptr, s->bytes.data() + s->pos, static_cast<size_t>(n));
    s->pos += n;
    return n;
}
sf_count_t sink_write(const void* ptr, sf_count_t count, void* u) {
    auto* s = static_cast<Sink*>(u);
    const size_t end = static_cast<size_t>(s->pos + count);
    if (end > s->bytes.size()) s->bytes.resize(end);
    std::memcpy(s->bytes.data() + s->pos, ptr, static_cast<size_t>(count));
    s->pos += count;
    return count;
}
sf_count_t sink_tell(void* u) { return static_cast<Sink*>(u)->pos; }

}  // namespace

std::vector<uint8_t> encode(const Audio& audio, const Container& container) {
    SF_VIRTUAL_IO io = {sink_length, sink_seek, sink_read, sink_write, sink_tell};
    Sink sink;
    SF_INFO info{};
    info.samplerate = audio.rate;
    info.channels = audio.channels;
    info.format = container.sf_format;
    SNDFILE* file = sf_open_virtual(&io, SFM_WRITE, &info, &sink);
    if (file == nullptr) {
        throw std::runtime_error(std::string("cannot encode ") + container.name + ": " + sf_strerror(nullptr));
    }
    const sf_count_t frames = static_cast<sf_count_t>(audio.frames());
    const sf_count_t written = sf_writef_float(file, audio.samples.data(), frames);
    sf_close(file);
    if (written != frames) throw std::runtime_error(std::string("short write encoding ") + container.name);
    return sink.bytes;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) throw std::runtime_error("cannot open " + path);
    const size_t n = std::fwrite(bytes.data(), 1, bytes.size(), f);
    const bool ok = std::fclose(f) == 0 && n == bytes.size();
    if (!ok) throw std::runtime_error("cannot write " + path);
}

}  // namespace afp::test
