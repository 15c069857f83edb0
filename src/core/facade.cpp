// facade.cpp — the noexcept C entry points; every exception stops here and becomes an AfpStatus.
#include "facade.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "errors.hpp"
#include "fingerprint.hpp"
#include "format.hpp"
#include "matcher.hpp"
#include "params.hpp"
#include "policy.hpp"
#include "search.hpp"
#include "searcher.hpp"
#include "warp.hpp"

namespace {

AfpStatusCode code_for(afp::ErrorKind kind) noexcept {
    switch (kind) {
        case afp::ErrorKind::EmptyAudio: return AFP_E_EMPTY_AUDIO;
        case afp::ErrorKind::Undecodable: return AFP_E_UNDECODABLE;
        case afp::ErrorKind::BadAudioHeader: return AFP_E_BAD_AUDIO_HEADER;
        case afp::ErrorKind::Truncated: return AFP_E_TRUNCATED;
        case afp::ErrorKind::NoSamples: return AFP_E_NO_SAMPLES;
        case afp::ErrorKind::NonFinite: return AFP_E_NON_FINITE;
        case afp::ErrorKind::Silent: return AFP_E_SILENT;
        case afp::ErrorKind::TooLong: return AFP_E_TOO_LONG;
        case afp::ErrorKind::TooManySamples: return AFP_E_TOO_MANY_SAMPLES;
        case afp::ErrorKind::TooLarge: return AFP_E_TOO_LARGE;
        case afp::ErrorKind::Malformed: return AFP_E_MALFORMED;
        case afp::ErrorKind::ParamMismatch: return AFP_E_PARAM_MISMATCH;
        case afp::ErrorKind::Cancelled: return AFP_E_CANCELLED;
    }
    return AFP_E_INTERNAL;
}

void set_status(AfpStatus* status, AfpStatusCode code, const char* detail) noexcept {
    if (status == nullptr) return;
    status->code = code;
    std::snprintf(status->detail, sizeof status->detail, "%s", detail);
}

// Runs body, translating whatever it throws; returns whether it succeeded.
template <typename Body>
bool guarded(AfpStatus* status, Body&& body) noexcept {
    try {
        body();
        set_status(status, AFP_OK, "");
        return true;
    } catch (const afp::Error& e) {
        set_status(status, code_for(e.kind()), e.what());
    } catch (const std::bad_alloc&) {
        set_status(status, AFP_E_OUT_OF_MEMORY, "");
    } catch (const std::exception& e) {
        set_status(status, AFP_E_INTERNAL, e.what());
    } catch (...) {
        set_status(status, AFP_E_INTERNAL, "An unknown exception was raised.");
    }
    return false;
}

// Copies bytes into a malloc()ed buffer, with a terminating NUL that size does not count.
void hand_out(const void* data, size_t size, AfpBuffer* out) {
    auto* copy = static_cast<uint8_t*>(std::malloc(size + 1));
    if (copy == nullptr) throw std::bad_alloc();
    if (size > 0) std::memcpy(copy, data, size);
    copy[size] = 0;
    out->data = copy;
    out->size = size;
}

}  // namespace

namespace {

// The core's objects behind the facade's opaque handles.

afp::Searcher* searcher_of(AfpSearcher* s) { return reinterpret_cast<afp::Searcher*>(s); }
const afp::Searcher* const_searcher_of(const AfpSearcher* s) { return reinterpret_cast<const afp::Searcher*>(s); }

static_assert(sizeof(afp::VoteItem) == sizeof(AfpVoteItem), "VoteItem mirrors AfpVoteItem");

// A vote across the facade, field for field (the two structs are the same record).
AfpVote c_vote(const afp::Vote& v) {
    return AfpVote{v.score,          v.anchors,          v.aligned_pairs,   v.total_pairs, v.drift_pairs,
                   v.offset_frames,  v.clip_first_frame, v.clip_last_frame, v.log_chance};
}

afp::Vote cpp_vote(const AfpVote& v) {
    afp::Vote out;
    out.score = v.score;
    out.anchors = v.anchors;
    out.aligned_pairs = v.aligned_pairs;
    out.total_pairs = v.total_pairs;
    out.drift_pairs = v.drift_pairs;
    out.offset_frames = v.offset_frames;
    out.clip_first_frame = v.clip_first_frame;
    out.clip_last_frame = v.clip_last_frame;
    out.log_chance = v.log_chance;
    return out;
}

}  // namespace

extern "C" {

bool afp_core_fingerprint(const void* audio, size_t size, const AfpAudioLimits* limits, bool silent_ok,
                          AfpCancelFn cancel, AfpBuffer* out, AfpStatus* status) {
    *out = AfpBuffer{nullptr, 0};
    return guarded(status, [&] {
        const afp::AudioLimits caps{limits->max_seconds, limits->max_bytes, limits->max_samples};
        afp::Fingerprint fp =
            afp::fingerprint_audio(static_cast<const uint8_t*>(audio), size, caps, silent_ok, cancel);
        std::vector<uint8_t> body = afp::encode_body(afp::default_params(), fp.n_samples, fp.landmarks);
        hand_out(body.data(), body.size(), out);
    });
}

bool afp_core_fingerprint_clip(const void* audio, size_t size, const AfpAudioLimits* limits, AfpCancelFn cancel,
                               AfpBuffer* query, AfpBuffer* reference, AfpStatus* status) {
    *query = AfpBuffer{nullptr, 0};
    *reference = AfpBuffer{nullptr, 0};
    return guarded(status, [&] {
        const afp::AudioLimits caps{limits->max_seconds, limits->max_bytes, limits->max_samples};
        const afp::ParamSet& params = afp::default_params();
        afp::ClipFingerprints fps = afp::fingerprint_clip(static_cast<const uint8_t*>(audio), size, caps, cancel, params);
        std::vector<uint8_t> q = afp::encode_body(afp::query_params(params), fps.query.n_samples, fps.query.landmarks);
        std::vector<uint8_t> r = afp::encode_body(params, fps.reference.n_samples, fps.reference.landmarks);
        hand_out(q.data(), q.size(), query);
        try {
            hand_out(r.data(), r.size(), reference);
        } catch (...) {
            afp_core_free(query);
            throw;
        }
    });
}

bool afp_core_slice(const void* body, double from_s, double to_s, AfpBuffer* out, AfpStatus* status) {
    *out = AfpBuffer{nullptr, 0};
    return guarded(status, [&] {
        const auto* h = static_cast<const AfpHeader*>(body);
        const double frames_per_second = static_cast<double>(h->sample_rate) / h->hop;
        auto frame_at = [&](double s) {
            return static_cast<uint32_t>(std::clamp(std::ceil(s * frames_per_second), 0.0, 4294967295.0));
        };
        std::vector<uint8_t> slice = afp::slice_body(static_cast<const uint8_t*>(body), frame_at(from_s), frame_at(to_s));
        hand_out(slice.data(), slice.size(), out);
    });
}

double afp_core_anchored_seconds(const void* body) {
    return afp::anchored_seconds(static_cast<const uint8_t*>(body));
}

bool afp_core_validate(const void* body, size_t size, AfpStatus* status) {
    return guarded(status, [&] { afp::validate_body(static_cast<const uint8_t*>(body), size); });
}

bool afp_core_parse_text(const char* text, AfpBuffer* out, AfpStatus* status) {
    *out = AfpBuffer{nullptr, 0};
    return guarded(status, [&] {
        std::vector<uint8_t> body = afp::parse_text(text);
        hand_out(body.data(), body.size(), out);
    });
}

bool afp_core_format_binary(const void* body, size_t size, AfpBuffer* out, AfpStatus* status) {
    *out = AfpBuffer{nullptr, 0};
    return guarded(status, [&] {
        std::vector<uint8_t> wire = afp::format_binary(static_cast<const uint8_t*>(body), size);
        hand_out(wire.data(), wire.size(), out);
    });
}

bool afp_core_parse_binary(const void* data, size_t size, AfpBuffer* out, AfpStatus* status) {
    *out = AfpBuffer{nullptr, 0};
    return guarded(status, [&] {
        std::vector<uint8_t> body = afp::parse_binary(static_cast<const uint8_t*>(data), size);
        hand_out(body.data(), body.size(), out);
    });
}

bool afp_core_format_text(const void* body, size_t size, AfpBuffer* out, AfpStatus* status) {
    *out = AfpBuffer{nullptr, 0};
    return guarded(status, [&] {
        std::string text = afp::format_text(static_cast<const uint8_t*>(body), size);
        hand_out(text.data(), text.size(), out);
    });
}

bool afp_core_warp(const AfpHeader* clip, double speed, double tempo, double pitch, AfpBuffer* out,
                   AfpStatus* status) {
    *out = AfpBuffer{nullptr, 0};
    return guarded(status, [&] {
        std::vector<uint8_t> body = afp::warped_body(*clip, afp::Rendition{speed, tempo, pitch});
        hand_out(body.data(), body.size(), out);
    });
}

void afp_core_free(AfpBuffer* buffer) {
    if (buffer == nullptr) return;
    std::free(buffer->data);
    buffer->data = nullptr;
    buffer->size = 0;
}

uint32_t afp_core_count_shared(const int32_t* a, uint32_t na, const int32_t* b, uint32_t nb) {
    uint32_t i = 0;
    uint32_t j = 0;
    uint32_t shared = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) {
            ++i;
        } else if (b[j] < a[i]) {
            ++j;
        } else {
            const int32_t h = a[i];
            ++shared;
            while (i < na && a[i] == h) ++i;
            while (j < nb && b[j] == h) ++j;
        }
    }
    return shared;
}

bool afp_core_vote(const AfpHeader* clip, const AfpHeader* track, AfpVote* out, AfpStatus* status) {
    *out = AfpVote{};
    return guarded(status, [&] {
        if (clip->param_set != track->param_set) {
            throw afp::Error(afp::ErrorKind::ParamMismatch,
                             "The clip uses parameter set " + std::to_string(clip->param_set) +
                                 " and the track parameter set " + std::to_string(track->param_set) + ".");
        }
        *out = c_vote(afp::vote(*clip, *track));
    });
}

double afp_core_confidence(const AfpVote* vote, uint32_t candidates) {
    afp::Vote v;
    v.score = vote->score;
    v.log_chance = vote->log_chance;
    return afp::confidence(v, candidates);
}

AfpSearch* afp_core_search_new(const AfpHeader* query, uint64_t max_postings, uint32_t min_votes, AfpStatus* status) {
    afp::IndexSearch* search = nullptr;
    guarded(status, [&] {
        afp::SearchLimits limits;
        limits.max_postings = max_postings;
        limits.min_votes = std::max<uint32_t>(min_votes, 1);
        search = new afp::IndexSearch(*query, limits);
    });
    return reinterpret_cast<AfpSearch*>(search);
}

uint32_t afp_core_search_hashes(const AfpSearch* search, const int32_t** hashes) {
    const auto& h = reinterpret_cast<const afp::IndexSearch*>(search)->hashes();
    *hashes = h.data();
    return static_cast<uint32_t>(h.size());
}

bool afp_core_search_plan(AfpSearch* search, const uint64_t* estimates, const uint32_t** order, uint32_t* n,
                          AfpStatus* status) {
    *order = nullptr;
    *n = 0;
    return guarded(status, [&] {
        const auto& o = reinterpret_cast<afp::IndexSearch*>(search)->plan(estimates);
        *order = o.data();
        *n = static_cast<uint32_t>(o.size());
    });
}

int64_t afp_core_search_planned_index(const AfpSearch* search, int32_t hash) {
    return reinterpret_cast<const afp::IndexSearch*>(search)->planned_index(hash);
}

bool afp_core_search_add(AfpSearch* search, uint32_t hash_index, const uint64_t* rows, const uint32_t* frames,
                         size_t n, AfpStatus* status) {
    return guarded(status, [&] { reinterpret_cast<afp::IndexSearch*>(search)->add(hash_index, rows, frames, n); });
}

bool afp_core_search_rank(AfpSearch* search, const AfpRankedRow** rows, uint32_t* n, AfpStatus* status) {
    *rows = nullptr;
    *n = 0;
    return guarded(status, [&] {
        const auto& r = reinterpret_cast<afp::IndexSearch*>(search)->rank();
        static_assert(sizeof(afp::RankedRow) == sizeof(AfpRankedRow), "RankedRow mirrors AfpRankedRow");
        *rows = reinterpret_cast<const AfpRankedRow*>(r.data());
        *n = static_cast<uint32_t>(r.size());
    });
}

uint64_t afp_core_search_postings_read(const AfpSearch* search) {
    return reinterpret_cast<const afp::IndexSearch*>(search)->postings_read();
}

void afp_core_search_free(AfpSearch* search) { delete reinterpret_cast<afp::IndexSearch*>(search); }


AfpSearcher* afp_core_searcher_new(const AfpHeader* query, const AfpHeader* reference,
                                   const AfpSearchSettings* settings, AfpStatus* status) {
    afp::Searcher* searcher = nullptr;
    guarded(status, [&] {
        afp::SearchSettings s;
        s.max_speed_change = settings->max_speed_change;
        s.max_tempo_change = settings->max_tempo_change;
        s.max_pitch_semitones = settings->max_pitch_semitones;
        s.max_postings = settings->max_postings;
        s.candidates = settings->candidates;
        s.min_votes = settings->min_votes;
        s.min_score = settings->min_score;
        s.min_confidence = settings->min_confidence;
        s.landmark_index = settings->landmark_index;
        s.plans_reads = settings->plans_reads;
        searcher = new afp::Searcher(*query, reference, s);
    });
    return reinterpret_cast<AfpSearcher*>(searcher);
}

AfpSearchStep afp_core_searcher_step(const AfpSearcher* searcher) {
    switch (const_searcher_of(searcher)->step()) {
        case afp::SearchStep::kEstimate: return AFP_STEP_ESTIMATE;
        case afp::SearchStep::kRank: return AFP_STEP_RANK;
        case afp::SearchStep::kVote: return AFP_STEP_VOTE;
        case afp::SearchStep::kDone: break;
    }
    return AFP_STEP_DONE;
}

uint32_t afp_core_searcher_nprobes(const AfpSearcher* searcher) {
    return static_cast<uint32_t>(const_searcher_of(searcher)->probes().size());
}

void afp_core_searcher_probe(const AfpSearcher* searcher, uint32_t p, AfpSearchProbe* out) {
    const afp::SearchProbe& probe = const_searcher_of(searcher)->probes()[p];
    out->body = reinterpret_cast<const AfpHeader*>(probe.body.data());
    out->size = probe.body.size();
    out->max_postings = probe.max_postings;
    out->min_votes = probe.min_votes;
    out->limit = probe.limit;
    out->min_shared = probe.min_shared;
    out->hashes = probe.hashes.data();
    out->nhashes = static_cast<uint32_t>(probe.hashes.size());
}

bool afp_core_searcher_add_estimates(AfpSearcher* searcher, uint32_t p, const uint64_t* counts, uint32_t n,
                                     AfpStatus* status) {
    return guarded(status, [&] { searcher_of(searcher)->add_estimates(p, counts, n); });
}

void afp_core_searcher_set_catalogue_rows(AfpSearcher* searcher, double rows) {
    searcher_of(searcher)->set_catalogue_rows(rows);
}

bool afp_core_searcher_add_ranked(AfpSearcher* searcher, uint32_t p, uint64_t handle, bool id_null, int64_t id,
                                  uint32_t votes, AfpStatus* status) {
    return guarded(status, [&] { searcher_of(searcher)->add_ranked(p, handle, id_null, id, votes); });
}

uint32_t afp_core_searcher_items(const AfpSearcher* searcher, const AfpVoteItem** items) {
    const auto& v = const_searcher_of(searcher)->items();
    *items = reinterpret_cast<const AfpVoteItem*>(v.data());
    return static_cast<uint32_t>(v.size());
}

AfpRendition afp_core_searcher_rendition(const AfpSearcher* searcher, uint32_t rendition) {
    const afp::Rendition& r = const_searcher_of(searcher)->renditions()[rendition];
    return AfpRendition{r.speed, r.tempo, r.pitch};
}

bool afp_core_searcher_add_vote(AfpSearcher* searcher, uint32_t k, const AfpVote* vote, AfpStatus* status) {
    return guarded(status, [&] {
        searcher_of(searcher)->add_vote(k, cpp_vote(*vote));
    });
}

bool afp_core_searcher_vote_track(AfpSearcher* searcher, uint32_t k, const AfpHeader* track, AfpStatus* status) {
    return guarded(status, [&] { searcher_of(searcher)->vote_track(k, *track); });
}

bool afp_core_searcher_next(AfpSearcher* searcher, AfpStatus* status) {
    return guarded(status, [&] { searcher_of(searcher)->next(); });
}

void afp_core_searcher_progress(const AfpSearcher* searcher, uint32_t* rounds, uint32_t* renditions,
                                uint32_t* candidates, uint32_t* accepted) {
    const afp::Searcher* s = const_searcher_of(searcher);
    *rounds = s->rounds_run();
    *renditions = s->last_renditions();
    *candidates = s->last_candidates();
    *accepted = s->last_accepted();
}

bool afp_core_searcher_matches(const AfpSearcher* searcher, AfpBuffer* out, AfpStatus* status) {
    *out = AfpBuffer{nullptr, 0};
    return guarded(status, [&] {
        std::vector<AfpMatch> matches;
        for (const afp::SearchMatch& m : const_searcher_of(searcher)->matches()) {
            matches.push_back(AfpMatch{m.handle, m.id, c_vote(m.vote),
                                       AfpRendition{m.rendition.speed, m.rendition.tempo, m.rendition.pitch},
                                       m.confidence});
        }
        hand_out(matches.data(), matches.size() * sizeof(AfpMatch), out);
    });
}

void afp_core_searcher_free(AfpSearcher* searcher) { delete searcher_of(searcher); }

}  // extern "C"
