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

void put_le(std::vector<uint8_t>& b, size_t at, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

std::vector<OggPage> ogg_pages(const std::vector<uint8_t>& b) {
    std::vector<OggPage> pages;
    size_t pos = 0;
    while (pos < b.size()) {
        if (b.size() - pos < 27 || std::memcmp(&b[pos], "OggS", 4) != 0) {
            throw std::runtime_error("not an Ogg page at byte " + std::to_string(pos));
        }
        const size_t segments = b[pos + 26];
        if (b.size() - pos < 27 + segments) throw std::runtime_error("Ogg segment table cut short");
        size_t body = 0;
        for (size_t i = 0; i < segments; ++i) body += b[pos + 27 + i];
        const size_t size = 27 + segments + body;
        if (b.size() - pos < size) throw std::runtime_error("Ogg page body cut short");
        pages.push_back({pos, size});
        pos += size;
    }
    return pages;
}

// Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, initial value 0, no final xor, over the
// whole page with its CRC field zeroed; stored little-endian.
void ogg_set_crc(std::vector<uint8_t>& b, const OggPage& page) {
    put_le(b, page.offset + 22, 0, 4);
    uint32_t crc = 0;
    for (size_t i = page.offset; i < page.offset + page.size; ++i) {
        crc ^= static_cast<uint32_t>(b[i]) << 24;
        for (int bit = 0; bit < 8; ++bit) crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
    }
    put_le(b, page.offset + 22, crc, 4);
}

namespace {

// libsndfile gives every Ogg stream a random serial number and every float WAV a PEAK chunk with
// the time of writing: both are fixed, so that a fixture is the same bytes on every run.
constexpr uint32_t kOggSerial = 0x41465031u;  // "1PFA"

void fix_ogg_serial(std::vector<uint8_t>& b) {
    for (const OggPage& page : ogg_pages(b)) {
        put_le(b, page.offset + 14, kOggSerial, 4);
        ogg_set_crc(b, page);
    }
}

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
    if ((container.sf_format & SF_FORMAT_SUBMASK) == SF_FORMAT_FLOAT ||
        (container.sf_format & SF_FORMAT_SUBMASK) == SF_FORMAT_DOUBLE) {
        sf_command(file, SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);
    }
    const sf_count_t frames = static_cast<sf_count_t>(audio.frames());
    const sf_count_t written = sf_writef_float(file, audio.samples.data(), frames);
    sf_close(file);
    if (written != frames) throw std::runtime_error(std::string("short write encoding ") + container.name);
    if ((container.sf_format & SF_FORMAT_TYPEMASK) == SF_FORMAT_OGG) fix_ogg_serial(sink.bytes);
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
