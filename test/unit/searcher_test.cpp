// searcher_test.cpp — the whole search (searcher.hpp) driven end to end by fake candidate sources:
// one index holding every track, and three "shards" holding a third each. Every stage and round
// runs (the fast stage, the query as recorded, the renditions, the refinement, the share
// stages of a catalogue without an afp_landmark index), and a search of the shards gives one
// index's answer on every clip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <vector>

#include "encode.hpp"
#include "errors.hpp"
#include "facade.h"
#include "fingerprint.hpp"
#include "format.hpp"
#include "params.hpp"
#include "search.hpp"
#include "searcher.hpp"
#include "synth.hpp"

using namespace afp;
using namespace afp::test;

namespace {

const AudioLimits kLimits{3600.0, size_t{1} << 30, uint64_t{1} << 40};

const AfpHeader& hdr(const std::vector<uint8_t>& body) { return *reinterpret_cast<const AfpHeader*>(body.data()); }

std::vector<uint8_t> track_body(const Audio& audio) {
    auto bytes = encode(audio, kWavPcm16);
    Fingerprint fp = fingerprint_audio(bytes.data(), bytes.size(), kLimits, false, nullptr);
    return encode_body(default_params(), fp.n_samples, fp.landmarks);
}

// A clip's query and reference bodies, as match_clip() analyses it.
struct Clip {
    std::vector<uint8_t> query;
    std::vector<uint8_t> reference;
};

Clip clip_of(const Audio& audio) {
    auto bytes = encode(audio, kWavPcm16);
    ClipFingerprints fps = fingerprint_clip(bytes.data(), bytes.size(), kLimits, nullptr);
    const ParamSet& params = default_params();
    return Clip{encode_body(query_params(params), fps.query.n_samples, fps.query.landmarks),
                encode_body(params, fps.reference.n_samples, fps.reference.landmarks)};
}

// Audio played `speed` times faster (tempo and pitch together), as a turntable would.
Audio sped_up(const Audio& audio, double speed) {
    Audio slower_rate = resample_linear(audio, static_cast<int>(std::lround(audio.rate / speed)));
    slower_rate.rate = audio.rate;
    return slower_rate;
}

uint32_t count_shared(const AfpHeader& a, const AfpHeader& b) {
    return afp_core_count_shared(afp_body_hashes(&a), a.count, afp_body_hashes(&b), b.count);
}

// A cut of the catalogue's song `song` (seeds 300 + song) played at `tempo` with its pitch kept.
Clip stretched_clip(int song, double tempo, double at_s, double length_s) {
    return clip_of(cut(synth_song(300 + song, 30.0, 44100, 2, tempo), at_s, length_s));
}

// One index over some of the catalogue's rows: postings hash -> (row id, frame), and the rows.
struct FakeIndex {
    std::map<int64_t, const std::vector<uint8_t>*> rows;
    std::map<int32_t, std::vector<std::pair<uint64_t, uint32_t>>> postings;
    std::vector<int64_t> order;  // ids in insertion order: a share scan's order

    void add(int64_t id, const std::vector<uint8_t>& body) {
        rows[id] = &body;
        order.push_back(id);
        const AfpHeader& h = hdr(body);
        for (uint32_t i = 0; i < h.count; ++i) {
            postings[afp_body_hashes(&h)[i]].push_back({static_cast<uint64_t>(id), afp_body_frames(&h)[i]});
        }
    }

    uint64_t count(int32_t hash) const {
        auto it = postings.find(hash);
        return it == postings.end() ? 0 : it->second.size();
    }

    // The index vote of a probe, planned with this index's own counts (an index given a planned
    // probe reads it whole), sent as shard_rank sends it: the first `limit` rows and every row
    // tied with the last.
    void rank(Searcher& s, size_t p) const {
        const SearchProbe& probe = s.probes()[p];
        if (probe.min_shared > 0) {
            for (int64_t id : order) {
                if (count_shared(hdr(probe.body), hdr(*rows.at(id))) >= probe.min_shared) s.add_ranked(p, 0, false, id, 0);
            }
            return;
        }
        IndexSearch search(hdr(probe.body), SearchLimits{probe.max_postings, std::max(probe.min_votes, 1u)});
        std::vector<uint64_t> estimates;
        for (int32_t h : search.hashes()) estimates.push_back(count(h));
        for (uint32_t i : search.plan(estimates.data())) {
            auto it = postings.find(search.hashes()[i]);
            if (it == postings.end()) continue;
            std::vector<uint64_t> r;
            std::vector<uint32_t> f;
            for (const auto& posting : it->second) {
                r.push_back(posting.first);
                f.push_back(posting.second);
            }
            search.add(i, r.data(), f.data(), r.size());
        }
        uint32_t taken = 0;
        uint32_t last = 0;
        for (const RankedRow& row : search.rank()) {
            if (taken >= probe.limit && row.votes != last) break;
            s.add_ranked(p, 0, false, static_cast<int64_t>(row.row), row.votes);
            ++taken;
            last = row.votes;
        }
    }
};

// Drives a searcher to the end with these indexes as its candidate source.
struct Drive {
    std::vector<std::string> steps;  // what the searcher asked, in order
    uint32_t rounds = 0;
};

std::vector<SearchMatch> search(const std::vector<FakeIndex>& indexes, const Clip& clip, SearchSettings settings,
                                Drive* drive = nullptr, bool reference_is_query = false) {
    settings.plans_reads = indexes.size() > 1;
    const AfpHeader& query = hdr(clip.query);
    const AfpHeader* reference = reference_is_query ? &query : (clip.reference.empty() ? nullptr : &hdr(clip.reference));
    Searcher s(query, reference, settings);
    double rows = 0;
    for (const FakeIndex& index : indexes) rows += static_cast<double>(index.rows.size());
    s.set_catalogue_rows(rows);
    for (int guard = 0; s.step() != SearchStep::kDone; ++guard) {
        if (guard > 1000) throw std::runtime_error("the search does not end");
        switch (s.step()) {
            case SearchStep::kEstimate:
                if (drive) drive->steps.push_back("estimate");
                for (size_t p = 0; p < s.probes().size(); ++p) {
                    for (const FakeIndex& index : indexes) {
                        std::vector<uint64_t> counts;
                        for (int32_t h : s.probes()[p].hashes) counts.push_back(index.count(h));
                        s.add_estimates(p, counts.data(), counts.size());
                    }
                }
                break;
            case SearchStep::kRank:
                if (drive) drive->steps.push_back("rank");
                for (size_t p = 0; p < s.probes().size(); ++p) {
                    for (const FakeIndex& index : indexes) index.rank(s, p);
                }
                break;
            case SearchStep::kVote:
                if (drive) drive->steps.push_back("vote");
                for (size_t k = 0; k < s.items().size(); ++k) {
                    for (const FakeIndex& index : indexes) {
                        auto it = index.rows.find(s.items()[k].id);
                        if (it != index.rows.end()) s.vote_track(k, hdr(*it->second));
                    }
                }
                break;
            case SearchStep::kDone: break;
        }
        s.next();
    }
    if (drive) drive->rounds = s.rounds_run();
    return s.matches();
}

void expect_same(const std::vector<SearchMatch>& a, const std::vector<SearchMatch>& b, const char* what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].id, b[i].id) << what;
        EXPECT_EQ(a[i].vote.score, b[i].vote.score) << what;
        EXPECT_EQ(a[i].vote.offset_frames, b[i].vote.offset_frames) << what;
        EXPECT_EQ(a[i].vote.log_chance, b[i].vote.log_chance) << what;
        EXPECT_EQ(a[i].rendition.speed, b[i].rendition.speed) << what;
        EXPECT_EQ(a[i].rendition.tempo, b[i].rendition.tempo) << what;
        EXPECT_EQ(a[i].rendition.pitch, b[i].rendition.pitch) << what;
        EXPECT_EQ(a[i].confidence, b[i].confidence) << what;
    }
}

// Eight synthetic songs of 30 s, ids 101..108, and their audio.
class SearcherTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        songs_ = new std::vector<Audio>();
        bodies_ = new std::vector<std::vector<uint8_t>>();
        for (int i = 0; i < 8; ++i) {
            songs_->push_back(synth_song(300 + i, 30.0));
            bodies_->push_back(track_body(songs_->back()));
        }
    }
    static void TearDownTestSuite() {
        delete songs_;
        delete bodies_;
    }

    static int64_t id_of(size_t i) { return 101 + static_cast<int64_t>(i); }

    // One index holding every song, or `n` indexes holding every n-th.
    static std::vector<FakeIndex> catalogue(size_t n) {
        std::vector<FakeIndex> indexes(n);
        for (size_t i = 0; i < bodies_->size(); ++i) indexes[i % n].add(id_of(i), (*bodies_)[i]);
        return indexes;
    }

    static std::vector<Audio>* songs_;
    static std::vector<std::vector<uint8_t>>* bodies_;
};

std::vector<Audio>* SearcherTest::songs_ = nullptr;
std::vector<std::vector<uint8_t>>* SearcherTest::bodies_ = nullptr;

}  // namespace

TEST_F(SearcherTest, ACleanClipIsSettledByTheFastStageAtItsOffset) {
    Clip clip = clip_of(cut((*songs_)[3], 12.0, 8.0));
    Drive drive;
    auto matches = search(catalogue(1), clip, SearchSettings{}, &drive);
    ASSERT_FALSE(matches.empty());
    EXPECT_EQ(matches[0].id, id_of(3));
    const AfpHeader& q = hdr(clip.query);
    EXPECT_NEAR(matches[0].vote.offset_frames * q.hop / q.sample_rate, 12.0, 0.05);
    EXPECT_GE(matches[0].confidence, 0.99);
    EXPECT_EQ(drive.rounds, 1u);
    EXPECT_EQ(drive.steps, (std::vector<std::string>{"rank", "vote"}));
}

TEST_F(SearcherTest, AClipNotInTheCatalogueRunsEveryRoundAndGetsNoAnswer) {
    Clip clip = clip_of(cut(synth_song(999, 20.0), 4.0, 8.0));
    Drive drive;
    auto matches = search(catalogue(1), clip, SearchSettings{}, &drive);
    EXPECT_TRUE(matches.empty());
    EXPECT_EQ(drive.rounds, 3u);  // fast, as recorded, renditions
}

TEST_F(SearcherTest, ASpeedChangedClipIsFoundInTheRenditionsRound) {
    Clip clip = clip_of(sped_up(cut((*songs_)[5], 6.0, 10.0), 1.02));
    Drive drive;
    auto matches = search(catalogue(1), clip, SearchSettings{}, &drive);
    ASSERT_FALSE(matches.empty());
    EXPECT_EQ(matches[0].id, id_of(5));
    EXPECT_EQ(drive.rounds, 3u);
    EXPECT_NEAR(matches[0].rendition.speed, 1.02, 0.0051);
}

TEST_F(SearcherTest, NoRenditionsMeansNoRenditionsRound) {
    Clip clip = clip_of(cut(synth_song(999, 20.0), 4.0, 8.0));
    SearchSettings settings;
    settings.max_speed_change = 0;
    settings.max_tempo_change = 0;
    settings.max_pitch_semitones = 0;
    Drive drive;
    EXPECT_TRUE(search(catalogue(1), clip, settings, &drive).empty());
    EXPECT_EQ(drive.rounds, 2u);
}

TEST_F(SearcherTest, ATempoChangedClipIsReadInATempoRendition) {
    Clip clip = stretched_clip(2, 1.03, 5.0, 10.0);
    auto matches = search(catalogue(1), clip, SearchSettings{});
    ASSERT_FALSE(matches.empty());
    EXPECT_EQ(matches[0].id, id_of(2));
    EXPECT_NE(matches[0].rendition.tempo, 1.0);
    EXPECT_NEAR(matches[0].rendition.tempo, 1.03, 0.011);
}

TEST_F(SearcherTest, TheRefinementRevotesAShortAlignmentInTheOtherRenditions) {
    // 1.25% faster with the pitch kept: accepted as recorded over part of the clip, then the tempo
    // renditions align more of it. Without tempo renditions the row stays as recorded.
    Clip clip = stretched_clip(2, 1.0125, 8.0, 12.0);
    Drive drive;
    auto refined = search(catalogue(1), clip, SearchSettings{}, &drive);
    ASSERT_FALSE(refined.empty());
    EXPECT_EQ(refined[0].id, id_of(2));
    SearchSettings no_tempo;
    no_tempo.max_tempo_change = 0;
    auto plain = search(catalogue(1), clip, no_tempo);
    ASSERT_FALSE(plain.empty());
    EXPECT_EQ(plain[0].id, id_of(2));
    ASSERT_EQ(drive.rounds, 1u) << "the clip was not accepted as recorded; pick another stretch";
    {
        // Accepted as recorded: the refinement (a second vote step after the round's) voted it in the
        // other renditions and kept a tempo; without tempo renditions nothing else explains it
        // better, and it stays as recorded.
        ASSERT_GE(drive.steps.size(), 2u);
        EXPECT_EQ(drive.steps[drive.steps.size() - 2], "vote");
        EXPECT_EQ(drive.steps.back(), "vote");
        EXPECT_EQ(plain[0].rendition.tempo, 1.0);
        EXPECT_EQ(plain[0].rendition.speed, 1.0);
        EXPECT_EQ(plain[0].rendition.pitch, 1.0);
        EXPECT_NE(refined[0].rendition.tempo, 1.0);
        EXPECT_GT(refined[0].vote.score, plain[0].vote.score);
    }
}

// A looping track: a 4 s bar repeated for 40 s under a quieter part that never repeats, played at
// `tempo` (pitch kept) and `pitch` (tempo kept), as synth_song plays its songs.
Audio looping_track(double tempo, double pitch) {
    const double bar = 4.0 / tempo;
    Audio loop = cut(synth_song(700, 6.0, 44100, 2, tempo, pitch), 0.0, bar);
    Audio line = scale(synth_song(701, 41.0 / tempo, 44100, 2, tempo, pitch), -8.0);
    Audio out = line;
    const size_t n = loop.samples.size();
    for (size_t i = 0; i < out.samples.size(); ++i) out.samples[i] += loop.samples[i % n];
    return out;
}

TEST_F(SearcherTest, AClipOfLoopingMusicIsExplainedOverItsLengthInItsRendition) {
    // The loop's bar aligns as recorded at every repeat, and its low hashes survive a small change
    // of speed or pitch: a weak alignment somewhere. The answer must be the rendition that aligns
    // the whole clip, at the clip's own place in the track (the part that never repeats says where).
    std::vector<FakeIndex> indexes = catalogue(1);
    const std::vector<uint8_t> looping = track_body(looping_track(1.0, 1.0));
    indexes[0].add(200, looping);
    const double at = 17.3;
    struct Case {
        const char* what;
        Audio audio;
        double speed, tempo, pitch;
    };
    std::vector<Case> cases;
    cases.push_back({"as recorded", cut(looping_track(1.0, 1.0), at, 10.0), 1.0, 1.0, 1.0});
    cases.push_back({"2% fast", sped_up(cut(looping_track(1.0, 1.0), at, 10.0 * 1.02), 1.02), 1.02, 1.0, 1.0});
    cases.push_back({"2% slow", sped_up(cut(looping_track(1.0, 1.0), at, 10.0 * 0.98), 0.98), 0.98, 1.0, 1.0});
    cases.push_back({"tempo +3%", cut(looping_track(1.03, 1.0), at / 1.03, 10.0), 1.0, 1.03, 1.0});
    cases.push_back({"a semitone up", cut(looping_track(1.0, std::exp2(1.0 / 12)), at, 10.0), 1.0, 1.0, std::exp2(1.0 / 12)});
    for (const Case& c : cases) {
        Clip clip = clip_of(c.audio);
        auto matches = search(indexes, clip, SearchSettings{});
        ASSERT_FALSE(matches.empty()) << c.what;
        const SearchMatch& m = matches[0];
        EXPECT_EQ(m.id, 200) << c.what;
        EXPECT_GE(m.confidence, 0.5) << c.what;
        const AfpHeader& q = hdr(clip.query);
        EXPECT_NEAR(m.vote.offset_frames * q.hop / q.sample_rate, at, 0.1) << c.what;
        EXPECT_NEAR(m.rendition.speed, c.speed, 0.0051) << c.what;
        EXPECT_NEAR(m.rendition.tempo, c.tempo, 0.0051) << c.what;
        EXPECT_NEAR(m.rendition.pitch, c.pitch, 0.004) << c.what;
        const double clip_frames = static_cast<double>(q.n_samples) / q.hop * m.rendition.time_scale();
        EXPECT_GE(m.vote.clip_last_frame - m.vote.clip_first_frame, kDriftSpan * clip_frames) << c.what;
    }
}

TEST_F(SearcherTest, APartialAlignmentAsRecordedDoesNotStopTheRenditionThatExplainsTheClip) {
    // The track holds, 18 s after the passage, 3 s of that passage as the clip plays it (2% fast):
    // as recorded, the clip aligns there over 3 of its 10 s, strongly enough to be accepted; at
    // speed 1.02 it aligns over all of them at the passage. The answer is the passage.
    const Audio song = synth_song(702, 40.0);
    const Audio fast = sped_up(cut(song, 12.0, 10.2), 1.02);
    Audio track = song;
    const size_t from = static_cast<size_t>(2.0 * fast.rate) * fast.channels;
    const size_t to = static_cast<size_t>(30.0 * track.rate) * track.channels;
    for (size_t i = 0; i < static_cast<size_t>(3.0 * fast.rate) * fast.channels; ++i) track.samples[to + i] = fast.samples[from + i];
    std::vector<FakeIndex> indexes = catalogue(1);
    const std::vector<uint8_t> body = track_body(track);
    indexes[0].add(200, body);
    Clip clip = clip_of(fast);
    Drive drive;
    auto matches = search(indexes, clip, SearchSettings{}, &drive);
    ASSERT_FALSE(matches.empty());
    EXPECT_EQ(drive.rounds, 1u) << "the partial alignment was not accepted as recorded: the test tests nothing";
    const SearchMatch& m = matches[0];
    EXPECT_EQ(m.id, 200);
    const AfpHeader& q = hdr(clip.query);
    EXPECT_NEAR(m.vote.offset_frames * q.hop / q.sample_rate, 12.0, 0.1);
    EXPECT_NEAR(m.rendition.speed, 1.02, 0.0051);
    EXPECT_GE(m.confidence, 0.5);

    // Three shards holding the same rows answer as the one index.
    std::vector<FakeIndex> shards = catalogue(3);
    shards[1].add(200, body);
    expect_same(matches, search(shards, clip, SearchSettings{}), "the partial passage, sharded");
}

TEST_F(SearcherTest, AStrongDriftingMatchStillMovesToItsRendition) {
    // 0.75% faster with the pitch kept, 10 s: as recorded the alignment drifts and is strong enough
    // for a confidence of 1 (ln chance -65); in a tempo rendition it is stronger still (-146).
    // Confidence saturates at 1 on both sides, so the refinement must compare the expected chance
    // alignments, not the confidences (comparing confidences, the row stayed as recorded).
    Clip clip = stretched_clip(0, 1.0075, 8.0, 10.0);
    Drive drive;
    auto refined = search(catalogue(1), clip, SearchSettings{}, &drive);
    ASSERT_FALSE(refined.empty());
    EXPECT_EQ(refined[0].id, id_of(0));
    ASSERT_EQ(drive.rounds, 1u) << "not accepted as recorded: the test tests nothing";
    EXPECT_NEAR(refined[0].rendition.tempo, 1.0075, 0.0051);
    EXPECT_EQ(refined[0].confidence, 1.0);
}

TEST_F(SearcherTest, ThreeShardsGiveOneIndexsAnswerOnEveryClip) {
    std::vector<Clip> clips;
    clips.push_back(clip_of(cut((*songs_)[0], 3.0, 5.0)));
    clips.push_back(clip_of(add_noise(cut((*songs_)[1], 9.0, 10.0), 0.0, 7)));
    clips.push_back(clip_of(sped_up(cut((*songs_)[4], 2.0, 10.0), 0.985)));
    clips.push_back(clip_of(cut(synth_song(300 + 7, 30.0, 44100, 2, 1.0, std::exp2(1.0 / 12)), 10.0, 10.0)));
    clips.push_back(clip_of(cut(synth_song(300 + 2, 30.0, 44100, 2, 1.015), 8.0, 12.0)));
    clips.push_back(clip_of(cut(synth_song(999, 20.0), 4.0, 8.0)));
    auto one = catalogue(1);
    auto three = catalogue(3);
    int found = 0;
    for (size_t c = 0; c < clips.size(); ++c) {
        Drive sharded;
        auto a = search(one, clips[c], SearchSettings{});
        auto b = search(three, clips[c], SearchSettings{}, &sharded);
        expect_same(a, b, ("clip " + std::to_string(c)).c_str());
        EXPECT_EQ(sharded.steps.front(), "estimate");
        found += !a.empty();
        // match_afp: the fingerprint is its own reference.
        expect_same(search(one, clips[c], SearchSettings{}, nullptr, true),
                    search(three, clips[c], SearchSettings{}, nullptr, true), ("match_afp clip " + std::to_string(c)).c_str());
    }
    EXPECT_EQ(found, 5);
}

TEST_F(SearcherTest, RowsTiedInVotesAreTakenByIdNotByArrival) {
    // Two rows with the same fingerprint, the higher id first in the index; one candidate each stage.
    std::vector<FakeIndex> indexes(1);
    indexes[0].add(9, (*bodies_)[1]);
    indexes[0].add(4, (*bodies_)[1]);
    for (size_t i = 2; i < bodies_->size(); ++i) indexes[0].add(id_of(i), (*bodies_)[i]);
    SearchSettings settings;
    settings.candidates = 1;
    auto matches = search(indexes, clip_of(cut((*songs_)[1], 10.0, 8.0)), settings);
    ASSERT_EQ(matches.size(), 1u);
    EXPECT_EQ(matches[0].id, 4);
}

TEST_F(SearcherTest, ATrackFoundInSeveralRenditionsKeepsTheOneWithTheMostEvidence) {
    // Every probe ranks row 7; the votes are made up: as recorded nothing aligns, at speed 1.02 the
    // row shares more hashes (45) but with less evidence (ln chance -50), at speed 0.98 fewer (40)
    // with more (-80). The answer is the rendition and offset with the most evidence.
    Clip clip = clip_of(cut((*songs_)[0], 3.0, 5.0));
    Searcher s(hdr(clip.query), &hdr(clip.reference), SearchSettings{});
    s.set_catalogue_rows(1000);
    const uint32_t clip_frames = hdr(clip.query).n_samples / hdr(clip.query).hop;
    for (int guard = 0; s.step() != SearchStep::kDone; ++guard) {
        ASSERT_LT(guard, 100);
        if (s.step() == SearchStep::kRank) {
            for (size_t p = 0; p < s.probes().size(); ++p) s.add_ranked(p, 0, false, 7, 10);
        } else if (s.step() == SearchStep::kVote) {
            for (size_t k = 0; k < s.items().size(); ++k) {
                const Rendition& r = s.renditions()[s.items()[k].rendition];
                Vote v;
                v.clip_first_frame = 0;
                v.clip_last_frame = 2 * clip_frames;  // the whole clip: nothing to refine
                const bool fast = std::abs(r.speed - 1.02) < 1e-9 && r.tempo == 1.0 && r.pitch == 1.0;
                const bool slow = std::abs(r.speed - 0.98) < 1e-9 && r.tempo == 1.0 && r.pitch == 1.0;
                if (fast || slow) {
                    v.score = fast ? 45 : 40;
                    v.anchors = v.aligned_pairs = v.score;
                    v.total_pairs = 100;
                    v.offset_frames = fast ? 100.0 : 200.0;
                    v.log_chance = fast ? -50.0 : -80.0;
                }
                s.add_vote(k, v);
            }
        }
        s.next();
    }
    const auto matches = s.matches();
    ASSERT_EQ(matches.size(), 1u);
    EXPECT_EQ(matches[0].id, 7);
    EXPECT_NEAR(matches[0].rendition.speed, 0.98, 1e-9);
    EXPECT_EQ(matches[0].vote.offset_frames, 200.0);
    EXPECT_EQ(matches[0].vote.score, 40);
}

TEST_F(SearcherTest, TheShareStagesFindAClipWithoutALandmarkIndex) {
    SearchSettings settings;
    settings.landmark_index = false;
    Drive drive;
    auto matches = search(catalogue(1), clip_of(cut((*songs_)[7], 15.0, 8.0)), settings, &drive);
    ASSERT_FALSE(matches.empty());
    EXPECT_EQ(matches[0].id, id_of(7));
    EXPECT_EQ(drive.rounds, 1u);
    EXPECT_TRUE(search(catalogue(1), clip_of(cut(synth_song(999, 20.0), 4.0, 8.0)), settings, &drive).empty());
    EXPECT_EQ(drive.rounds, 3u);  // fast, the clip's hashes, the speeds
    auto sped = search(catalogue(1), clip_of(sped_up(cut((*songs_)[0], 5.0, 10.0), 1.015)), settings);
    ASSERT_FALSE(sped.empty());
    EXPECT_EQ(sped[0].id, id_of(0));
    EXPECT_NEAR(sped[0].rendition.speed, 1.015, 0.0051);
}

TEST_F(SearcherTest, SeveralIndexesNeedTheLandmarkStages) {
    SearchSettings settings;
    settings.landmark_index = false;
    settings.plans_reads = true;
    Clip clip = clip_of(cut((*songs_)[0], 3.0, 5.0));
    EXPECT_THROW(Searcher(hdr(clip.query), &hdr(clip.reference), settings), Error);
}

TEST_F(SearcherTest, AnEmptyClipIsDoneAtOnce) {
    auto empty = encode_body(query_params(default_params()), 8000, {});
    Searcher s(hdr(empty), nullptr, SearchSettings{});
    EXPECT_EQ(s.step(), SearchStep::kDone);
    EXPECT_TRUE(s.matches().empty());
}

TEST_F(SearcherTest, AnswersOutsideTheRequestAreRefused) {
    Clip clip = clip_of(cut((*songs_)[0], 3.0, 5.0));
    Searcher s(hdr(clip.query), &hdr(clip.reference), SearchSettings{});
    ASSERT_EQ(s.step(), SearchStep::kRank);
    EXPECT_THROW(s.add_ranked(s.probes().size(), 0, false, 1, 3), Error);
    EXPECT_THROW(s.add_vote(0, Vote{}), Error);
    uint64_t count = 0;
    EXPECT_THROW(s.add_estimates(0, &count, 1), Error);
}




