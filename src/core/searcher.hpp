// searcher.hpp — the whole search of match_clip() and match_afp(), written once: its stages and
// rounds, which rows get the full vote (the tie rule), de-duplication, scoring, confidence and the
// refinement of partial alignments (the best explanation, not the first good one). It holds no
// catalogue. It asks a candidate source for what it needs, one step at a time, and reads the
// source's answers:
//
//   kEstimate  the postings the catalogue holds for each distinct hash of each probe (only when the
//              source is several indexes, the shards of a sharded catalogue, whose counts add up:
//              the searcher then plans each probe's reads as one index would and sends the plan);
//   kRank      for each probe, the rows its index vote ranks (rows, handles, ids and votes), or, for
//              a catalogue without an afp_landmark index, every row sharing enough hashes;
//   kVote      the full vote of the chosen rows, each in a rendition of the clip;
//   kDone      the accepted matches, best first.
//
// One node's index and a coordinator's shards are two sources of the same searcher: the answer of
// a sharded catalogue equals one node's because nothing here knows which source it talks to, and
// it reads answers by probe and item, never by the order they arrive in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "afp_format.h"
#include "facade.h"
#include "matcher.hpp"
#include "policy.hpp"
#include "warp.hpp"

namespace afp {

// What a search may do: match_clip()'s settings (the afp.* GUCs), read once by the glue.
struct SearchSettings {
    double max_speed_change = AFP_DEFAULT_MAX_SPEED_CHANGE;         // afp.max_speed_change
    double max_tempo_change = AFP_DEFAULT_MAX_TEMPO_CHANGE;         // afp.max_tempo_change
    double max_pitch_semitones = AFP_DEFAULT_MAX_PITCH_SEMITONES;   // afp.max_pitch_change
    uint64_t max_postings = AFP_DEFAULT_INDEX_MAX_POSTINGS;         // afp.index_max_postings
    uint32_t candidates = AFP_DEFAULT_INDEX_CANDIDATES;             // afp.index_candidates
    uint32_t min_votes = AFP_DEFAULT_INDEX_MIN_VOTES;               // afp.index_min_votes
    int32_t min_score = AFP_DEFAULT_MIN_SHARED_HASHES;  // afp.min_shared_hashes: a full vote below it is no candidate
    double min_confidence = AFP_DEFAULT_MIN_CONFIDENCE;             // afp.min_confidence
    bool landmark_index = true;         // the catalogue has an afp_landmark index; else the share stages (GIN)
    bool plans_reads = false;           // the source is several indexes: plan from summed estimates here
};

enum class SearchStep { kEstimate, kRank, kVote, kDone };

// One probe of a round: what the source is asked about one stage.
struct SearchProbe {
    uint32_t stage = 0;                 // index into stages()
    std::vector<uint8_t> body;          // a datum body: the probe, planned once estimates are in
    uint64_t max_postings = 0;          // index stages: the vote's budget
    uint32_t min_votes = 0;             // index stages: votes a row needs to be ranked
    uint32_t limit = 0;                 // index stages: rows taken (ties at the limit are the source's to send)
    uint32_t min_shared = 0;            // share stages: distinct hashes a row must share with the probe
    std::vector<int32_t> hashes;        // kEstimate: the probe's distinct hashes, ascending
    std::vector<uint64_t> estimates;    // kEstimate: postings per hash, summed over the sources
};

// A row of a rank answer.
struct RankedCandidate {
    uint64_t handle;    // the source's handle of the row (a local source's heap tuple, 0 for shards)
    bool id_null;
    int64_t id;
    uint32_t votes;     // index votes (a share stage's rows: 0)
    uint32_t arrival;   // order of arrival, the last tie-break (one index sends its ranking in order)
};

// A row to vote in full: the row (handle and id) and the clip's rendition (index into renditions()).
struct VoteItem {
    uint64_t handle;
    int64_t id;
    uint32_t rendition;
};

// A scored row.
struct SearchMatch {
    uint64_t handle;
    int64_t id;
    Vote vote;
    Rendition rendition;
    double confidence;
};

class Searcher {
public:
    // query and reference are validated datum bodies; reference may be null (no reference
    // landmarks) or the query itself (match_afp: a fingerprint is its own reference; the index
    // stages then have no fast stage, the share stages do). The bodies must outlive the searcher.
    Searcher(const AfpHeader& query, const AfpHeader* reference, const SearchSettings& settings);

    SearchStep step() const noexcept { return step_; }

    // The stages of the search (policy.hpp), in order.
    const std::vector<SearchStage>& stages() const noexcept { return stages_; }

    // kEstimate and kRank: the probes of the current round.
    const std::vector<SearchProbe>& probes() const noexcept { return probes_; }

    // kEstimate: adds one source's counts for probe p (one per distinct hash of it, in order).
    void add_estimates(size_t p, const uint64_t* counts, size_t n);

    // The rows the catalogue holds: what confidence counts as compared (one index's rows, or the sum
    // of the shards'). Set before the round is scored; a later call replaces it.
    void set_catalogue_rows(double rows) noexcept { catalogue_rows_ = rows; }

    // kRank: a row probe p's index vote ranked (any number of calls, from any number of sources).
    void add_ranked(size_t p, uint64_t handle, bool id_null, int64_t id, uint32_t votes);

    // kVote: the rows to vote, each in a rendition.
    const std::vector<VoteItem>& items() const noexcept { return items_; }

    // The renditions votes are asked in; rendition 0 is the clip as recorded.
    const std::vector<Rendition>& renditions() const noexcept { return renditions_; }

    // The clip in rendition r, as a datum body (warped on first use).
    const std::vector<uint8_t>& rendition_body(uint32_t r);

    // kVote: the full vote of item k; a source that holds the row answers (a row answered twice
    // keeps its best vote). Items nobody answers (rows deleted meanwhile) are left out.
    void add_vote(size_t k, const Vote& vote);

    // kVote: votes item k against the row's fingerprint (a validated datum body) here.
    void vote_track(size_t k, const AfpHeader& track);

    // Consumes the answers of the current step and moves to the next.
    void next();

    // kDone: the accepted matches (confidence >= min_confidence), best first.
    std::vector<SearchMatch> matches() const;

    // For logs: the round just scored, its renditions, rows voted and rows accepted.
    uint32_t rounds_run() const noexcept { return rounds_run_; }
    uint32_t last_renditions() const noexcept { return last_renditions_; }
    uint32_t last_candidates() const noexcept { return candidates_; }
    uint32_t last_accepted() const noexcept { return accepted_; }

private:
    void start_round();
    void plan_probes();
    void choose_items();
    void score_round();
    uint32_t round_comparisons(uint32_t renditions) const;  // the round's rows x renditions, for confidence
    void start_refinement();
    void finish_refinement();
    uint32_t rendition_index(const Rendition& r);
    std::vector<uint8_t> probe_body(const SearchStage& st, uint32_t* min_shared);

    const AfpHeader& query_;
    const AfpHeader* reference_;
    SearchSettings settings_;
    std::vector<SearchStage> stages_;
    size_t round_start_ = 0;             // first stage of the current round
    size_t round_end_ = 0;               // one past its last
    SearchStep step_ = SearchStep::kDone;
    bool refining_ = false;              // the kVote step is the refinement's (start_refinement)

    std::vector<SearchProbe> probes_;
    std::vector<std::vector<RankedCandidate>> ranked_;    // per probe
    std::vector<VoteItem> items_;
    std::vector<uint32_t> item_row_;                      // refinement: the row of rows_ each item refines
    std::vector<Vote> answers_;
    std::vector<uint8_t> answered_;
    std::vector<Rendition> renditions_;
    std::vector<std::vector<uint8_t>> rendition_bodies_;  // empty until made
    std::vector<SearchMatch> rows_;                       // the current round's scored rows
    double catalogue_rows_ = 0;
    uint32_t candidates_ = 0;
    uint32_t accepted_ = 0;
    uint32_t rounds_run_ = 0;
    uint32_t last_renditions_ = 0;
    Matcher matcher_;
};

// The clip's fingerprint read in the coordinates of a track it is rendition r of (warp.hpp).
std::vector<uint8_t> warped_body(const AfpHeader& clip, const Rendition& r);

// At most max_keys distinct hashes of a body, evenly spaced over its sorted distinct hashes (so
// spread over the whole band), with their first landmark each: a cheaper index probe that a
// recording of a track still clears at the same share of hashes.
std::vector<uint8_t> sampled_body(const AfpHeader& body, uint32_t max_keys);

// The landmarks of the body's distinct hashes i (ascending) with keep[i] != 0, every frame of each.
std::vector<uint8_t> kept_body(const AfpHeader& body, const uint8_t* keep, uint32_t n_distinct);

// Whether a vote beats the best so far: a higher score, then a lower chance; ties keep the first.
bool vote_beats(const Vote& vote, const Vote& best) noexcept;

}  // namespace afp
