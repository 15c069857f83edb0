// searcher.cpp — the search of match_clip(), step by step (see searcher.hpp).
#include "searcher.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "errors.hpp"
#include "format.hpp"
#include "params.hpp"
#include "search.hpp"

namespace afp {

namespace {

const ParamSet& params_of(const AfpHeader& body) {
    const ParamSet* params = find_params(body.param_set);
    if (params == nullptr) throw Error(ErrorKind::Malformed, "The value uses an unknown parameter set.");
    return *params;
}

std::vector<uint8_t> copy_body(const AfpHeader& body) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(&body);
    return std::vector<uint8_t>(bytes, bytes + afp_body_size(body.count));
}

const AfpHeader& header_of(const std::vector<uint8_t>& body) { return *reinterpret_cast<const AfpHeader*>(body.data()); }

bool as_recorded(const Rendition& r) noexcept { return r.speed == 1.0 && r.tempo == 1.0 && r.pitch == 1.0; }

// Best first: higher score, then higher confidence, then lower id.
bool better_match(const SearchMatch& x, const SearchMatch& y) noexcept {
    if (x.vote.score != y.vote.score) return x.vote.score > y.vote.score;
    if (x.confidence != y.confidence) return x.confidence > y.confidence;
    return x.id < y.id;
}

}  // namespace

std::vector<uint8_t> warped_body(const AfpHeader& clip, const Rendition& r) {
    const ParamSet& params = params_of(clip);
    const double time_scale = r.time_scale();
    std::vector<Landmark> landmarks = warp_landmarks(clip, time_scale, r.freq_scale());
    // The warped clip lasts n_samples * time_scale in the original's time; one hop of slack covers
    // the rounding of frames.
    const double n = std::ceil(clip.n_samples * time_scale) + params.hop;
    return encode_body(params, static_cast<uint32_t>(std::min(n, 4294967295.0)), landmarks);
}

std::vector<uint8_t> sampled_body(const AfpHeader& body, uint32_t max_keys) {
    const ParamSet& params = params_of(body);
    const int32_t* hashes = afp_body_hashes(&body);
    const uint32_t* frames = afp_body_frames(&body);
    std::vector<uint32_t> starts;  // index of the first landmark of each distinct hash
    for (uint32_t i = 0; i < body.count; ++i) {
        if (i == 0 || hashes[i] != hashes[i - 1]) starts.push_back(i);
    }
    std::vector<Landmark> kept;
    const size_t distinct = starts.size();
    const size_t take = std::min<size_t>(distinct, max_keys);
    for (size_t k = 0; k < take; ++k) {
        const uint32_t i = starts[k * distinct / take];
        kept.push_back(Landmark{hashes[i], frames[i]});
    }
    return encode_body(params, body.n_samples, kept);
}

std::vector<uint8_t> kept_body(const AfpHeader& body, const uint8_t* keep, uint32_t n_distinct) {
    const ParamSet& params = params_of(body);
    const int32_t* hashes = afp_body_hashes(&body);
    const uint32_t* frames = afp_body_frames(&body);
    std::vector<Landmark> kept;
    uint32_t distinct = 0;  // index of hashes[i] among the distinct hashes
    for (uint32_t i = 0; i < body.count; ++i) {
        if (i > 0 && hashes[i] != hashes[i - 1]) ++distinct;
        if (distinct >= n_distinct) throw Error(ErrorKind::Malformed, "The plan covers fewer hashes than the probe has.");
        if (keep[distinct]) kept.push_back(Landmark{hashes[i], frames[i]});
    }
    return encode_body(params, body.n_samples, kept);
}

bool vote_beats(const Vote& vote, const Vote& best) noexcept {
    return vote.score > best.score || (vote.score == best.score && vote.log_chance < best.log_chance);
}

Searcher::Searcher(const AfpHeader& query, const AfpHeader* reference, const SearchSettings& settings)
    : query_(query), reference_(reference), settings_(settings) {
    if (settings_.landmark_index) {
        // A fingerprint that is its own reference has no fast stage: it would vote the same hashes twice.
        stages_ = index_stages(settings_.max_speed_change, settings_.max_postings, settings_.candidates,
                               settings_.min_votes, reference != nullptr && reference != &query,
                               settings_.max_tempo_change, settings_.max_pitch_semitones);
    } else {
        if (settings_.plans_reads) {
            throw Error(ErrorKind::Malformed, "A catalogue of several indexes is searched with afp_landmark indexes only.");
        }
        stages_ = share_stages(settings_.max_speed_change, reference != nullptr);
    }
    renditions_.push_back(Rendition{});
    rendition_bodies_.push_back(copy_body(query));
    // An empty fingerprint (a silent or very short clip) matches nothing.
    if (query.count == 0) return;
    start_round();
}

std::vector<uint8_t> Searcher::probe_body(const SearchStage& st, uint32_t* min_shared) {
    const Rendition r{st.speed, st.tempo, st.pitch};
    const AfpHeader& base = st.probe_reference && reference_ != nullptr ? *reference_ : query_;
    std::vector<uint8_t> body = as_recorded(r) ? copy_body(base) : warped_body(base, r);
    if (st.probe_keys > 0) body = sampled_body(header_of(body), st.probe_keys);
    *min_shared = 0;
    if (st.shares) {
        const uint32_t count = header_of(body).count;
        if (st.share_fraction > 0) {
            // One landmark per sampled key; a threshold at or below min_score tests nothing.
            const double threshold = std::ceil(st.share_fraction * count);
            if (count == 0 || threshold <= settings_.min_score) return {};
            *min_shared = static_cast<uint32_t>(threshold);
        } else {
            *min_shared = static_cast<uint32_t>(std::max(settings_.min_score, 1));
        }
    }
    if (header_of(body).count == 0) return {};
    return body;
}

void Searcher::start_round() {
    if (round_start_ >= stages_.size()) {
        step_ = SearchStep::kDone;
        return;
    }
    round_end_ = round_start_ + 1;
    while (round_end_ < stages_.size() && !stages_[round_end_].new_round) ++round_end_;
    probes_.clear();
    for (size_t s = round_start_; s < round_end_; ++s) {
        const SearchStage& st = stages_[s];
        SearchProbe probe;
        probe.body = probe_body(st, &probe.min_shared);
        if (probe.body.empty()) continue;  // nothing it could find
        probe.stage = static_cast<uint32_t>(s);
        probe.max_postings = st.max_postings;
        probe.min_votes = st.min_votes;
        probe.limit = st.candidates;
        probes_.push_back(std::move(probe));
    }
    ranked_.assign(probes_.size(), {});
    if (settings_.plans_reads) {
        for (SearchProbe& probe : probes_) {
            const AfpHeader& h = header_of(probe.body);
            const int32_t* hashes = afp_body_hashes(&h);
            for (uint32_t i = 0; i < h.count; ++i) {
                if (i == 0 || hashes[i] != hashes[i - 1]) probe.hashes.push_back(hashes[i]);
            }
            probe.estimates.assign(probe.hashes.size(), 0);
        }
        step_ = SearchStep::kEstimate;
    } else {
        step_ = SearchStep::kRank;
    }
}

void Searcher::add_estimates(size_t p, const uint64_t* counts, size_t n) {
    if (step_ != SearchStep::kEstimate || p >= probes_.size() || n != probes_[p].estimates.size()) {
        throw Error(ErrorKind::Malformed, "The estimates do not fit the probes asked about.");
    }
    for (size_t i = 0; i < n; ++i) probes_[p].estimates[i] += counts[i];
}

void Searcher::plan_probes() {
    // As one index holding every source's rows plans: the same counts give the same plan, and the
    // index handed the planned probe reads it whole (its postings fit the budget).
    for (SearchProbe& probe : probes_) {
        IndexSearch search(header_of(probe.body), SearchLimits{probe.max_postings, std::max(probe.min_votes, 1u)});
        const std::vector<uint32_t>& order = search.plan(probe.estimates.data());
        std::vector<uint8_t> keep(probe.hashes.size(), 0);
        for (uint32_t i : order) keep[i] = 1;
        probe.body = kept_body(header_of(probe.body), keep.data(), static_cast<uint32_t>(keep.size()));
    }
    step_ = SearchStep::kRank;
}

void Searcher::add_ranked(size_t p, uint64_t handle, bool id_null, int64_t id, uint32_t votes) {
    if (step_ != SearchStep::kRank || p >= probes_.size()) {
        throw Error(ErrorKind::Malformed, "A ranked row names a probe that was not asked about.");
    }
    ranked_[p].push_back(RankedCandidate{handle, id_null, id_null ? 0 : id, votes,
                                         static_cast<uint32_t>(ranked_[p].size())});
}

uint32_t Searcher::rendition_index(const Rendition& r) {
    for (size_t i = 0; i < renditions_.size(); ++i) {
        if (renditions_[i].speed == r.speed && renditions_[i].tempo == r.tempo && renditions_[i].pitch == r.pitch) {
            return static_cast<uint32_t>(i);
        }
    }
    renditions_.push_back(r);
    rendition_bodies_.emplace_back();
    return static_cast<uint32_t>(renditions_.size() - 1);
}

const std::vector<uint8_t>& Searcher::rendition_body(uint32_t r) {
    if (r >= renditions_.size()) throw Error(ErrorKind::Malformed, "No such rendition.");
    if (rendition_bodies_[r].empty()) rendition_bodies_[r] = warped_body(query_, renditions_[r]);
    return rendition_bodies_[r];
}

void Searcher::choose_items() {
    // The candidates of an index stage: the first `limit` rows by votes, then by id (rows without
    // one last), never by where a row is stored, so one index and the shards of a catalogue, which
    // send every row tied at their limit, take the same rows. A row without an id takes its place
    // and is not voted. A share stage votes every row it found.
    items_.clear();
    item_row_.clear();
    for (size_t p = 0; p < probes_.size(); ++p) {
        const SearchStage& st = stages_[probes_[p].stage];
        const uint32_t r = rendition_index(Rendition{st.speed, st.tempo, st.pitch});
        std::vector<RankedCandidate>& rows = ranked_[p];
        size_t take = rows.size();
        if (!st.shares) {
            std::sort(rows.begin(), rows.end(), [](const RankedCandidate& x, const RankedCandidate& y) {
                if (x.votes != y.votes) return x.votes > y.votes;
                if (x.id_null != y.id_null) return y.id_null;
                if (x.id != y.id) return x.id < y.id;
                return x.arrival < y.arrival;
            });
            take = std::min<size_t>(take, probes_[p].limit);
        }
        for (size_t i = 0; i < take; ++i) {
            if (!rows[i].id_null) items_.push_back(VoteItem{rows[i].handle, rows[i].id, r});
        }
    }
    answers_.assign(items_.size(), Vote{});
    answered_.assign(items_.size(), 0);
    refining_ = false;
    step_ = SearchStep::kVote;
}

void Searcher::add_vote(size_t k, const Vote& vote) {
    if (step_ != SearchStep::kVote || k >= items_.size()) throw Error(ErrorKind::Malformed, "A vote names an item that was not asked for.");
    if (!answered_[k] || vote_beats(vote, answers_[k])) answers_[k] = vote;
    answered_[k] = 1;
}

void Searcher::vote_track(size_t k, const AfpHeader& track) {
    if (step_ != SearchStep::kVote || k >= items_.size()) throw Error(ErrorKind::Malformed, "A vote names an item that was not asked for.");
    const AfpHeader& clip = header_of(rendition_body(items_[k].rendition));
    if (clip.param_set != track.param_set) {
        throw Error(ErrorKind::ParamMismatch, "The clip uses parameter set " + std::to_string(clip.param_set) +
                                                  " and the track parameter set " + std::to_string(track.param_set) + ".");
    }
    add_vote(k, matcher_.vote(clip, track));
}

uint32_t Searcher::round_comparisons(uint32_t renditions) const {
    // Confidence depends on how many tracks competed and how many renditions were tried (each is
    // another chance to align by luck). An index stage, or a share stage whose probe was itself a
    // strict test, counts every row of the catalogue as compared; a share stage at min_score voted
    // every row that could align, and counts those.
    const SearchStage& first = stages_[round_start_];
    const double compared = !first.shares || first.share_fraction > 0 ? catalogue_rows_ : 0;
    return comparisons(compared, candidates_, renditions);
}

void Searcher::score_round() {
    rows_.clear();
    candidates_ = 0;
    for (size_t k = 0; k < items_.size(); ++k) {
        if (!answered_[k]) continue;
        ++candidates_;
        if (answers_[k].score < settings_.min_score) continue;
        rows_.push_back(SearchMatch{items_[k].handle, items_[k].id, answers_[k], renditions_[items_[k].rendition], 0});
    }
    // Each track's best row: the renditions may find a track at neighbouring speeds, and the row
    // kept is the one with the most evidence (the lowest chance), as the vote keeps the offset
    // with the most evidence; more shared hashes only break a tie. Rows arrive in probe and rank
    // order, whatever the source, so the stable sort keeps the same one.
    std::stable_sort(rows_.begin(), rows_.end(), [](const SearchMatch& x, const SearchMatch& y) {
        if (x.id != y.id) return x.id < y.id;
        if (x.vote.log_chance != y.vote.log_chance) return x.vote.log_chance < y.vote.log_chance;
        return x.vote.score > y.vote.score;
    });
    rows_.erase(std::unique(rows_.begin(), rows_.end(), [](const SearchMatch& a, const SearchMatch& b) { return a.id == b.id; }),
                rows_.end());
    last_renditions_ = renditions_tried(stages_.data(), stages_.size(), round_end_ - 1);
    const uint32_t trials = round_comparisons(last_renditions_);
    accepted_ = 0;
    for (SearchMatch& row : rows_) {
        row.confidence = confidence(row.vote, trials);
        if (row.confidence >= settings_.min_confidence) ++accepted_;
    }
    ++rounds_run_;
    if (accepted_ > 0) {
        start_refinement();
        return;
    }
    round_start_ = round_end_;
    start_round();
}

void Searcher::start_refinement() {
    // The best explanation, not the first good one (kDriftSpan): an accepted row whose alignment
    // is partial or drifts may be a stretch of the clip that happens to line up in the rendition
    // that found it (a clip 2% fast, read as recorded, at a passage it resembles; a time-stretched
    // clip whose offsets drift), so it is voted again in every other rendition of the stages and
    // keeps the one with the most evidence (finish_refinement). Rows below min_confidence are not
    // answers to refine.
    std::vector<uint32_t> all;  // the stages' renditions, in stage order: made for the first row refined
    const double clip_frames = static_cast<double>(query_.n_samples) / query_.hop;
    items_.clear();
    item_row_.clear();
    for (size_t i = 0; i < rows_.size(); ++i) {
        const SearchMatch& row = rows_[i];
        // The vote's frames are in the coordinates of the rendition that found the row.
        const bool partial =
            row.vote.clip_last_frame - row.vote.clip_first_frame < kDriftSpan * clip_frames * row.rendition.time_scale();
        const bool drifts = row.vote.drift_pairs >= kDriftPairsShare * row.vote.aligned_pairs;
        if (row.confidence < settings_.min_confidence || !(partial || drifts)) continue;
        if (all.empty()) {
            for (const SearchStage& st : stages_) {
                const uint32_t r = rendition_index(Rendition{st.speed, st.tempo, st.pitch});
                if (std::find(all.begin(), all.end(), r) == all.end()) all.push_back(r);
            }
        }
        const uint32_t found_in = rendition_index(row.rendition);
        for (uint32_t r : all) {
            if (r == found_in) continue;
            items_.push_back(VoteItem{row.handle, row.id, r});
            item_row_.push_back(static_cast<uint32_t>(i));
        }
    }
    if (items_.empty()) {
        step_ = SearchStep::kDone;
        return;
    }
    answers_.assign(items_.size(), Vote{});
    answered_.assign(items_.size(), 0);
    refining_ = true;
    step_ = SearchStep::kVote;
}

void Searcher::finish_refinement() {
    // Each row takes the rendition with the most evidence (the lowest chance) among those that
    // align more of the clip's hashes than the one that found it, if the expected number of chance
    // alignments as strong is smaller there, counting every rendition tried (it was chosen among
    // them all), than in its round: a slightly better alignment among sixty renditions is no
    // better explanation than the one its round accepted, and must not take that answer away. A
    // row that stays keeps its round's confidence.
    // Every rendition of the stages was tried for the rows refined.
    const uint32_t trials = round_comparisons(renditions_tried(stages_.data(), stages_.size(), stages_.size() - 1));
    const uint32_t round_trials = round_comparisons(last_renditions_);
    for (size_t k = 0; k < items_.size();) {
        const uint32_t row = item_row_[k];
        const Vote* best = nullptr;
        Rendition best_r;
        for (; k < items_.size() && item_row_[k] == row; ++k) {
            if (!answered_[k] || answers_[k].score <= rows_[row].vote.score) continue;
            if (best == nullptr || answers_[k].log_chance < best->log_chance) {
                best = &answers_[k];
                best_r = renditions_[items_[k].rendition];
            }
        }
        // Compared as ln E (the confidence itself is 1 for both once the evidence is strong).
        if (best != nullptr &&
            std::log(static_cast<double>(trials)) + best->log_chance <
                std::log(static_cast<double>(round_trials)) + rows_[row].vote.log_chance) {
            rows_[row].vote = *best;
            rows_[row].rendition = best_r;
            rows_[row].confidence = confidence(*best, trials);
        }
    }
    step_ = SearchStep::kDone;
}

void Searcher::next() {
    switch (step_) {
        case SearchStep::kEstimate: plan_probes(); break;
        case SearchStep::kRank: choose_items(); break;
        case SearchStep::kVote:
            if (refining_) {
                finish_refinement();
            } else {
                score_round();
            }
            break;
        case SearchStep::kDone: break;
    }
}

std::vector<SearchMatch> Searcher::matches() const {
    std::vector<SearchMatch> out;
    if (step_ != SearchStep::kDone) return out;
    for (const SearchMatch& row : rows_) {
        if (row.confidence >= settings_.min_confidence) out.push_back(row);
    }
    std::sort(out.begin(), out.end(), better_match);
    return out;
}

}  // namespace afp
