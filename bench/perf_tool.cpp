// perf_tool.cpp — the parts of scripts/bench-perf that need the C++ core.
//   afp-perf-tool split REPEATS FILE...
//       CPU seconds per second of audio of decoding alone and of the whole fingerprint, per file
//       (CSV on stdout): the split of fingerprint() time between the decoder and the analysis.
//   afp-perf-tool grow FIRST_COPY LAST_COPY  < COPY BINARY (id bigint, fp afp)
//                                            > COPY BINARY (source_id bigint, copy int, fp afp)
//       Distractor fingerprints for large catalogues: copy k of a real fingerprint rotates every
//       anchor bin inside the analysis band by 40 to 440 bins, and, in later rounds of copies,
//       negates the bin difference and reverses or rotates the time difference. Each copy is a
//       bijection of hash values that keeps the time structure, the landmark count and the spread
//       of hash frequencies of real music, and matches no clip. The rotation is never small: a
//       shift of a few bins is what a 2% speed change does to the middle of the band, and the
//       speed search then finds the copy (an earlier version rotated copy k by 3k bins and also
//       produced, at k = 160, an exact duplicate of the real fingerprints).
//   afp-perf-tool vote [COMPARISONS [SPEED TEMPO PITCH]]  < COPY BINARY (id bigint, fp afp)
//       The full vote of the first row's fingerprint (a clip) against every other row's, one line
//       each: what the confidence of a match is made of (docs/accuracy.md), and ln E, the log of
//       the expected number of chance alignments as strong among COMPARISONS (default 1; a search
//       compares catalogue rows x renditions tried): confidence = exp(-E). With a rendition, the
//       clip is read in it first (warp.hpp), as the search votes a row found in that rendition.
//   afp-perf-tool vote-clip FILE [COMPARISONS [SPEED TEMPO PITCH]]  < COPY BINARY (id bigint, fp afp)
//       The same for an audio file analysed as match_clip() analyses a clip (its denser query
//       landmarks, which are what the search votes), against every row.
//   afp-perf-tool places FILE [SPEED TEMPO PITCH]  < COPY BINARY (id bigint, fp afp)
//       The five places of an audio file (analysed as match_clip() analyses it, read in the
//       rendition given) in every row with the most evidence, at least 0.5 s apart, one line each:
//       the first is where the vote places the clip; how close the next come says whether the clip
//       could tell its place from another (docs/accuracy.md, "Which place").
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "decoder.hpp"
#include "fingerprint.hpp"
#include "format.hpp"
#include "landmarks.hpp"
#include "matcher.hpp"
#include "searcher.hpp"
#include "warp.hpp"
#include "params.hpp"

namespace {

// A development tool reads the files it is given: caps far above any real recording.
const afp::AudioLimits kToolLimits{86400.0, size_t{1} << 31, uint64_t{1} << 40};

double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(f), {}};
}

int split(int repeats, int argc, char** argv) {
    std::printf("file,audio_s,decode_cpu_s,fingerprint_cpu_s\n");
    for (int a = 0; a < argc; ++a) {
        const std::vector<uint8_t> bytes = read_file(argv[a]);
        double audio_s = 0.0;
        double t0 = cpu_seconds();
        for (int r = 0; r < repeats; ++r) {
            afp::MemoryDecoder decoder(bytes.data(), bytes.size(), kToolLimits.max_seconds, kToolLimits.max_samples);
            std::vector<float> block;
            while (true) {
                block.clear();
                if (decoder.read_mono(block, 4096) == 0) break;
            }
            audio_s = static_cast<double>(decoder.frames_read()) / decoder.info().sample_rate;
        }
        const double decode = (cpu_seconds() - t0) / repeats;
        t0 = cpu_seconds();
        for (int r = 0; r < repeats; ++r) afp::fingerprint_audio(bytes.data(), bytes.size(), kToolLimits, false, nullptr);
        const double whole = (cpu_seconds() - t0) / repeats;
        std::printf("%s,%.3f,%.6f,%.6f\n", argv[a], audio_s, decode, whole);
    }
    return 0;
}

// Big-endian helpers for PostgreSQL's binary COPY format.
uint32_t get32(std::istream& in) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) throw std::runtime_error("short COPY input");
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}
uint16_t get16(std::istream& in) {
    unsigned char b[2];
    if (!in.read(reinterpret_cast<char*>(b), 2)) throw std::runtime_error("short COPY input");
    return static_cast<uint16_t>((b[0] << 8) | b[1]);
}
void put32(std::string& out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}
void put16(std::string& out, uint16_t v) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v & 0xff));
}

const char kCopySignature[] = "PGCOPY\n\377\r\n";  // 11 bytes with the trailing NUL

// Rotations of the anchor bin a distractor copy uses: 40..440 of the 481-bin band, so never within
// 8% of the original bin at the top of the band (the speed search spans 5%).
constexpr uint32_t kMinRotation = 40;
constexpr uint32_t kRotations = 401;

// Reads the header of a binary COPY stream.
void read_copy_header(std::istream& in) {
    char sig[11];
    if (!in.read(sig, 11) || !std::equal(sig, sig + 11, kCopySignature)) throw std::runtime_error("not binary COPY");
    get32(in);                                           // flags
    in.ignore(static_cast<std::streamsize>(get32(in)));  // header extension
}

// Reads one (id bigint, fp afp) row as afp_send sent it, decoded and validated by the core;
// false at the end of the stream.
bool read_row(std::istream& in, uint64_t* id, std::vector<uint8_t>* body) {
    const int16_t fields = static_cast<int16_t>(get16(in));
    if (fields == -1) return false;
    if (fields != 2) throw std::runtime_error("expected (id bigint, fp afp)");
    if (get32(in) != 8) throw std::runtime_error("id must be bigint");
    const uint64_t high = get32(in);  // two statements: the operands of | are unsequenced
    *id = (high << 32) | get32(in);
    const uint32_t len = get32(in);
    std::string fp(len, '\0');
    if (!in.read(fp.data(), len)) throw std::runtime_error("short fingerprint");
    *body = afp::parse_binary(reinterpret_cast<const uint8_t*>(fp.data()), fp.size());
    return true;
}

// The clip as a search votes it: from an audio file analysed as match_clip() analyses a clip (its
// denser query landmarks), or else the first COPY row; read in the rendition given.
std::vector<uint8_t> clip_body(const afp::Rendition& rendition, const char* clip_file) {
    std::vector<uint8_t> clip;
    if (clip_file != nullptr) {
        const std::vector<uint8_t> bytes = read_file(clip_file);
        const afp::ParamSet& params = afp::default_params();
        const afp::ClipFingerprints fps = afp::fingerprint_clip(bytes.data(), bytes.size(), kToolLimits, nullptr, params);
        clip = afp::encode_body(afp::query_params(params), fps.query.n_samples, fps.query.landmarks);
    } else {
        uint64_t clip_id = 0;
        if (!read_row(std::cin, &clip_id, &clip)) throw std::runtime_error("no clip row");
    }
    if (rendition.speed != 1.0 || rendition.tempo != 1.0 || rendition.pitch != 1.0) {
        clip = afp::warped_body(*reinterpret_cast<const AfpHeader*>(clip.data()), rendition);
    }
    return clip;
}

int vote(double comparisons, const afp::Rendition& rendition, const char* clip_file) {
    read_copy_header(std::cin);
    const std::vector<uint8_t> clip = clip_body(rendition, clip_file);
    const auto& q = *reinterpret_cast<const AfpHeader*>(clip.data());
    std::printf("id,score,anchors,aligned_pairs,drift_pairs,total_pairs,offset_frames,clip_first,clip_last,log_chance,"
                "ln_expected\n");
    uint64_t id = 0;
    std::vector<uint8_t> track;
    while (read_row(std::cin, &id, &track)) {
        const afp::Vote v = afp::vote(q, *reinterpret_cast<const AfpHeader*>(track.data()));
        const double ln_expected = std::log(std::max(comparisons, 1.0)) + v.log_chance + afp::kDependenceAllowance;
        std::printf("%llu,%d,%d,%d,%d,%d,%.1f,%u,%u,%.2f,%.2f\n", static_cast<unsigned long long>(id), v.score, v.anchors,
                    v.aligned_pairs, v.drift_pairs, v.total_pairs, v.offset_frames, v.clip_first_frame, v.clip_last_frame,
                    v.log_chance, ln_expected);
    }
    return 0;
}

int places(const afp::Rendition& rendition, const char* clip_file) {
    read_copy_header(std::cin);
    const std::vector<uint8_t> clip = clip_body(rendition, clip_file);
    const auto& q = *reinterpret_cast<const AfpHeader*>(clip.data());
    const afp::ParamSet& params = afp::default_params();
    const double seconds_per_frame = static_cast<double>(params.hop) / params.sample_rate;
    std::printf("id,place,offset_s,anchors,evidence,shared_with_first\n");
    afp::Matcher matcher;
    uint64_t id = 0;
    std::vector<uint8_t> track;
    while (read_row(std::cin, &id, &track)) {
        const std::vector<afp::Place> found = matcher.places(q, *reinterpret_cast<const AfpHeader*>(track.data()), 5);
        for (size_t k = 0; k < found.size(); ++k) {
            const afp::Place& p = found[k];
            std::printf("%llu,%zu,%.3f,%d,%.2f,%.2f\n", static_cast<unsigned long long>(id), k + 1,
                        p.offset_frames * seconds_per_frame, p.anchors, p.evidence, p.shared_with_first);
        }
    }
    return 0;
}

int grow(int first_copy, int last_copy) {
    if (first_copy < 1) throw std::runtime_error("copies are numbered from 1 (copy 0 is the real fingerprint)");
    const afp::ParamSet& params = afp::default_params();
    const uint32_t band = params.max_bin - params.min_bin + 1;
    std::istream& in = std::cin;
    read_copy_header(in);
    std::string out(kCopySignature, 11);
    put32(out, 0);
    put32(out, 0);
    std::fwrite(out.data(), 1, out.size(), stdout);
    uint64_t id = 0;
    std::vector<uint8_t> body;
    while (read_row(in, &id, &body)) {
        AfpHeader header;
        std::memcpy(&header, body.data(), sizeof header);
        const uint32_t count = header.count;
        const auto* body_hashes = reinterpret_cast<const int32_t*>(body.data() + sizeof header);
        const auto* body_frames = reinterpret_cast<const uint32_t*>(body_hashes + count);
        std::vector<afp::Landmark> source(count);
        for (uint32_t i = 0; i < count; ++i) source[i] = {body_hashes[i], body_frames[i]};
        const uint32_t dt_span = params.max_dt - params.min_dt + 1;
        for (int k = first_copy; k <= last_copy; ++k) {
            // Copies 1..401 rotate by 40..440 bins; each further round of 401 adds a transform of
            // (df, dt): 2 x 3 rounds, 2,406 distinct copies (~13,700 h from 5.7 h of music).
            const uint32_t n = static_cast<uint32_t>(k - 1);
            const uint32_t rotation = kMinRotation + n % kRotations;
            const uint32_t round = (n / kRotations) % 6;
            const bool negate_df = round % 2 == 1;
            const uint32_t dt_mode = round / 2;  // 0 as is, 1 reversed, 2 rotated by a third of the zone
            std::vector<afp::Landmark> copy(count);
            for (uint32_t i = 0; i < count; ++i) {
                afp::HashFields f = afp::unpack_hash(source[i].hash);
                f.f1 = params.min_bin + (f.f1 - params.min_bin + rotation) % band;
                if (negate_df) f.df = -f.df;
                // Keep the target inside the band, or afp_recv refuses the hash as one the analysis
                // cannot produce; the band (480 bins) is wider than two target zones, so the
                // mirrored target always fits.
                const int64_t target = static_cast<int64_t>(f.f1) + f.df;
                if (target < params.min_bin || target > params.max_bin) f.df = -f.df;
                if (dt_mode == 1) f.dt = params.max_dt - (f.dt - params.min_dt);
                if (dt_mode == 2) f.dt = params.min_dt + (f.dt - params.min_dt + dt_span / 3) % dt_span;
                copy[i] = {afp::pack_hash(f), source[i].frame};
            }
            std::sort(copy.begin(), copy.end());
            copy.erase(std::unique(copy.begin(), copy.end()), copy.end());
            std::string row;
            put16(row, 3);
            put32(row, 8);
            put32(row, static_cast<uint32_t>(id >> 32));
            put32(row, static_cast<uint32_t>(id));
            put32(row, 4);
            put32(row, static_cast<uint32_t>(k));
            const std::vector<uint8_t> copy_body = afp::encode_body(params, header.n_samples, copy);
            const std::vector<uint8_t> wire = afp::format_binary(copy_body.data(), copy_body.size());
            put32(row, static_cast<uint32_t>(wire.size()));
            row.append(reinterpret_cast<const char*>(wire.data()), wire.size());
            std::fwrite(row.data(), 1, row.size(), stdout);
        }
    }
    std::string trailer;
    put16(trailer, 0xffff);
    std::fwrite(trailer.data(), 1, trailer.size(), stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string cmd = argc > 1 ? argv[1] : "";
        if (cmd == "split" && argc >= 4) return split(std::atoi(argv[2]), argc - 3, argv + 3);
        if (cmd == "grow" && argc == 4) return grow(std::atoi(argv[2]), std::atoi(argv[3]));
        if (cmd == "places" && (argc == 3 || argc == 6)) {
            const bool warped = argc == 6;
            const afp::Rendition r{warped ? std::atof(argv[3]) : 1.0, warped ? std::atof(argv[4]) : 1.0,
                                   warped ? std::atof(argv[5]) : 1.0};
            return places(r, argv[2]);
        }
        // vote-clip FILE takes the clip from a file and then the arguments vote takes.
        const bool from_file = cmd == "vote-clip" && argc >= 3;
        const int base = from_file ? 1 : 0;
        if ((cmd == "vote" || from_file) && (argc <= 3 + base || argc == 6 + base)) {
            const bool warped = argc == 6 + base;
            const afp::Rendition r{warped ? std::atof(argv[3 + base]) : 1.0, warped ? std::atof(argv[4 + base]) : 1.0,
                                   warped ? std::atof(argv[5 + base]) : 1.0};
            return vote(argc >= 3 + base ? std::atof(argv[2 + base]) : 1.0, r, from_file ? argv[2] : nullptr);
        }
        std::fprintf(stderr,
                     "usage: %s split REPEATS FILE... | grow FIRST_COPY LAST_COPY | vote [COMPARISONS [SPEED TEMPO PITCH]]"
                     " | vote-clip FILE [COMPARISONS [SPEED TEMPO PITCH]] | places FILE [SPEED TEMPO PITCH]\n",
                     argv[0]);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "afp-perf-tool: %s\n", e.what());
        return 1;
    }
}
