// make_fixtures.cpp — writes the deterministic audio fixtures the SQL tests and the demo use.
//   afp-fixtures DIR
// Songs are synthetic (chords, melody, drums); clips are cut at known offsets and degraded;
// broken files exercise every decode error. Same bytes on every run.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "encode.hpp"
#include "synth.hpp"

using namespace afp::test;

namespace {

constexpr double kSongSeconds = 20.0;

struct SongSpec {
    const char* name;
    uint64_t seed;
    int rate;
    int channels;
    const Container* container;
};

const SongSpec kSongs[] = {
    {"song1", 1, 44100, 2, &kWavPcm16},  {"song2", 2, 48000, 2, &kFlac},
    {"song3", 3, 44100, 2, &kOggVorbis}, {"song4", 4, 44100, 2, &kMp3},
    {"song5", 5, 48000, 2, &kOggOpus},   {"song6", 6, 22050, 1, &kWavFloat},
    {"unknown", 99, 44100, 2, &kWavPcm16},
};

// Standard base64, for the clip manifest psql reads as text.
std::string base64(const std::vector<uint8_t>& in) {
    static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < in.size(); i += 3) {
        const uint32_t n = (uint32_t{in[i]} << 16) | (i + 1 < in.size() ? uint32_t{in[i + 1]} << 8 : 0) |
                           (i + 2 < in.size() ? uint32_t{in[i + 2]} : 0);
        out += abc[(n >> 18) & 63];
        out += abc[(n >> 12) & 63];
        out += i + 1 < in.size() ? abc[(n >> 6) & 63] : '=';
        out += i + 2 < in.size() ? abc[n & 63] : '=';
    }
    return out;
}

// Audio played `speed` times faster (tempo and pitch together), as a turntable or tape would.
Audio sped_up(const Audio& audio, double speed) {
    Audio out = resample_linear(audio, static_cast<int>(audio.rate / speed));
    out.rate = audio.rate;
    return out;
}

// The recall guard's clips (sql/accuracy.sql): 5 s from every song at two offsets under six
// conditions, plus clips of a song that is not in the catalogue. One CSV line per clip:
// song,offset_s,condition,base64 bytes.
void write_accuracy_set(const std::vector<Audio>& songs, const std::string& path) {
    std::string csv = "song,offset_s,condition,audio\n";
    auto add = [&](const std::string& song, double offset, const char* condition, const std::vector<uint8_t>& bytes) {
        char head[96];
        std::snprintf(head, sizeof head, "%s,%.2f,%s,", song.c_str(), offset, condition);
        csv += head + base64(bytes) + "\n";
    };
    uint64_t seed = 1000;
    for (size_t s = 0; s < 7; ++s) {
        const std::string song = s < 6 ? "song" + std::to_string(s + 1) : "unknown";
        for (double offset : {2.5, 11.0}) {
            const Audio clip = cut(songs[s], offset, 5.0);
            add(song, offset, "clean", encode(clip, kOggVorbis));
            add(song, offset, "white noise 5 dB", encode(add_noise(clip, 5.0, seed++), kMp3));
            add(song, offset, "white noise 0 dB", encode(resample_linear(add_noise(clip, 0.0, seed++), 48000), kOggOpus));
            add(song, offset, "white noise -5 dB", encode(scale(resample_linear(to_mono(add_noise(clip, -5.0, seed++)), 11025), -12.0), kFlac));
            add(song, offset, "speed +3%", encode(sped_up(cut(songs[s], offset, 5.2), 1.03), kOggVorbis));
            add(song, offset, "8 kHz mono -30 dB", encode(scale(resample_linear(to_mono(clip), 8000), -30.0), kWavPcm16));
        }
    }
    write_file(path, std::vector<uint8_t>(csv.begin(), csv.end()));
}

// An Ogg Opus stream whose second-to-last page claims granule position 2^32 (about 24.9 hours
// at 48 kHz) while the pages around it count a few seconds: a hostile length that a reader must
// not turn into reads of memory it never filled.
std::vector<uint8_t> opus_bad_granule(const std::vector<uint8_t>& opus) {
    std::vector<uint8_t> b = opus;
    const std::vector<OggPage> pages = ogg_pages(b);
    if (pages.size() < 4) throw std::runtime_error("Opus stream too short for opus_bad_granule");
    const OggPage& victim = pages[pages.size() - 2];
    put_le(b, victim.offset + 6, 0, 4);  // granule position, low 32 bits
    put_le(b, victim.offset + 10, 1, 4); // high 32 bits: 2^32
    for (const OggPage& page : pages) ogg_set_crc(b, page);
    return b;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    auto path = [&](const std::string& name) { return dir + "/" + name; };
    try {
        std::vector<Audio> songs;
        for (const SongSpec& s : kSongs) {
            songs.push_back(synth_song(s.seed, kSongSeconds, s.rate, s.channels));
            write_file(path(std::string(s.name) + "." + s.container->extension), encode(songs.back(), *s.container));
        }
        const Audio& song1 = songs[0];
        const Audio& song2 = songs[1];
        const Audio& song3 = songs[2];
        const Audio& song5 = songs[4];
        const Audio& unknown = songs[6];

        // Clips at known offsets, in other containers and rates than their songs.
        write_file(path("clip_song3_at_7.5s.wav"), encode(resample_linear(to_mono(cut(song3, 7.5, 5.0)), 16000), kWavPcm16));
        write_file(path("clip_song2_at_11.25s_snr5.mp3"), encode(add_noise(cut(song2, 11.25, 6.0), 5.0, 42), kMp3));
        write_file(path("clip_song5_at_3s_quiet.flac"), encode(scale(cut(song5, 3.0, 5.0), -30.0), kFlac));
        write_file(path("clip_song1_at_12s.ogg"), encode(cut(song1, 12.0, 5.0), kOggVorbis));
        write_file(path("clip_unknown.wav"), encode(cut(unknown, 4.0, 5.0), kWavPcm16));
        // song3 played 5% faster with its pitch kept, and a semitone higher at its own tempo: 8 s
        // from where the track is at 6 s (at 5.714 s of the faster rendition).
        const SongSpec& s3 = kSongs[2];
        write_file(path("clip_song3_tempo_1.05_at_6s.wav"),
                   encode(cut(synth_song(s3.seed, kSongSeconds / 1.05, s3.rate, s3.channels, 1.05), 6.0 / 1.05, 8.0),
                          kWavPcm16));
        write_file(path("clip_song3_pitch_up_1_at_6s.wav"),
                   encode(cut(synth_song(s3.seed, kSongSeconds, s3.rate, s3.channels, 1.0, std::exp2(1.0 / 12.0)), 6.0,
                              8.0),
                          kWavPcm16));
        write_file(path("silence.wav"), encode(scale(sine(440.0, 3.0, 44100), -400.0), kWavPcm16));
        write_file(path("noise.wav"), encode(white_noise(5.0, 44100, 0.3, 7), kWavPcm16));
        Audio one_sample = sine(440.0, 1.0 / 44100, 44100);
        one_sample.samples.assign(1, 0.5f);
        write_file(path("one_sample.wav"), encode(one_sample, kWavPcm16));

        write_accuracy_set(songs, path("accuracy.csv"));

        // A "radio recording" for match_segments: song2 from 2 s for 12 s, 3 s of quiet noise, then
        // song5 from 5 s for 12 s, all at 44.1 kHz stereo.
        {
            Audio radio = resample_linear(cut(song2, 2.0, 12.0), 44100);
            const Audio gap = white_noise(3.0, 44100, 0.01, 11);
            const Audio second = resample_linear(cut(song5, 5.0, 12.0), 44100);
            for (size_t i = 0; i < gap.frames(); ++i) {
                radio.samples.push_back(gap.samples[i]);
                radio.samples.push_back(gap.samples[i]);
            }
            radio.samples.insert(radio.samples.end(), second.samples.begin(), second.samples.end());
            write_file(path("radio_song2_song5.ogg"), encode(radio, kOggVorbis));
        }

        // Broken inputs.
        const std::vector<uint8_t> wav = encode(cut(song1, 0.0, 2.0), kWavPcm16);
        write_file(path("truncated.wav"), std::vector<uint8_t>(wav.begin(), wav.begin() + static_cast<long>(wav.size() / 2)));
        const std::vector<uint8_t> flac = encode(cut(song1, 0.0, 2.0), kFlac);
        write_file(path("truncated.flac"), std::vector<uint8_t>(flac.begin(), flac.begin() + static_cast<long>(flac.size() / 2)));
        write_file(path("header_only.wav"), std::vector<uint8_t>(wav.begin(), wav.begin() + 44));
        std::vector<uint8_t> zero_channels(wav.begin(), wav.begin() + 4096);
        put_le(zero_channels, 22, 0, 2);  // fmt chunk: channel count
        write_file(path("zero_channels.wav"), zero_channels);
        std::vector<uint8_t> huge(wav.begin(), wav.begin() + 4096);
        put_le(huge, 4, 0xFFFFFFFFu, 4);   // RIFF size
        put_le(huge, 40, 0xFFFFFFF0u, 4);  // data size: ~6.7 hours at 44.1 kHz stereo 16-bit
        write_file(path("huge_header.wav"), huge);
        Audio nan_audio = cut(song1, 0.0, 1.0);
        nan_audio.samples[1000] = std::numeric_limits<float>::quiet_NaN();
        write_file(path("nan.wav"), encode(nan_audio, kWavFloat));
        // 3 s, so that the whole file fits in one fuzz seed (scripts/fuzz keeps the first 64 KiB).
        write_file(path("opus_bad_granule.opus"), opus_bad_granule(encode(cut(song5, 0.0, 3.0), kOggOpus)));
        const char* text = "this is not audio, just a few words of text\n";
        write_file(path("not_audio.txt"), std::vector<uint8_t>(text, text + std::strlen(text)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "afp-fixtures: %s\n", e.what());
        return 1;
    }
    return 0;
}
