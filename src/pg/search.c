/*
 * search.c — runs the core's Searcher on a candidate source and writes its answer: the one loop
 * behind match_clip() and match_afp() of one node and of a sharded catalogue (search.h).
 */
#include "search.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* Result columns: up to speed (0.1.0 - 0.3.0), then tempo and pitch (0.4.0). */
#define MATCH_COLUMNS 13

/* A searcher owned by a memory context: freed when the search ends or an error resets the context. */
typedef struct OwnedSearcher
{
    AfpSearcher *searcher;
    MemoryContextCallback free_searcher;
} OwnedSearcher;

static void
free_searcher(void *arg)
{
    OwnedSearcher *owned = (OwnedSearcher *) arg;

    afp_core_searcher_free(owned->searcher);
    owned->searcher = NULL;
}

AfpDatum *
afp_datum_from_body(const AfpHeader *body, size_t size)
{
    AfpDatum   *fp = (AfpDatum *) palloc(VARHDRSZ + size);

    SET_VARSIZE(fp, VARHDRSZ + size);
    memcpy(&fp->header, body, size);
    return fp;
}

AfpMatch *
afp_search_run(CandidateSource *source, const AfpDatum *query, const AfpDatum *reference, uint32 *nmatches)
{
    AfpSearchSettings settings;
    OwnedSearcher *owned = palloc0(sizeof(OwnedSearcher));
    AfpStatus   status;
    AfpSearchStep step;
    AfpBuffer   buffer;
    AfpMatch   *matches;
    uint32      logged_rounds = 0;

    /* The settings, read once: every stage of this search sees the same. */
    settings.max_speed_change = afp_max_speed_change;
    settings.max_tempo_change = afp_max_tempo_change;
    settings.max_pitch_semitones = afp_max_pitch_change;
    settings.max_postings = (uint64) afp_index_max_postings;
    settings.candidates = (uint32) afp_index_candidates;
    settings.min_votes = (uint32) afp_index_min_votes;
    settings.min_score = afp_min_shared_hashes;
    settings.min_confidence = afp_min_confidence;
    settings.landmark_index = source->landmark_index;
    settings.plans_reads = source->plans_reads;

    owned->searcher = afp_core_searcher_new(&query->header, reference ? &reference->header : NULL, &settings, &status);
    if (owned->searcher == NULL)
        afp_raise(&status);
    owned->free_searcher.func = free_searcher;
    owned->free_searcher.arg = owned;
    MemoryContextRegisterResetCallback(CurrentMemoryContext, &owned->free_searcher);

    while ((step = afp_core_searcher_step(owned->searcher)) != AFP_STEP_DONE)
    {
        uint32      rounds;
        uint32      renditions;
        uint32      candidates;
        uint32      accepted;

        CHECK_FOR_INTERRUPTS();
        switch (step)
        {
            case AFP_STEP_ESTIMATE:
                source->estimate(source, owned->searcher);
                break;
            case AFP_STEP_RANK:
                source->rank(source, owned->searcher);
                break;
            case AFP_STEP_VOTE:
                source->vote(source, owned->searcher);
                break;
            case AFP_STEP_DONE:
                break;
        }
        /* The catalogue's rows as the source knows them now (an estimate step may count them). */
        afp_core_searcher_set_catalogue_rows(owned->searcher, source->catalogue_rows);
        if (!afp_core_searcher_next(owned->searcher, &status))
            afp_raise(&status);
        afp_core_searcher_progress(owned->searcher, &rounds, &renditions, &candidates, &accepted);
        if (rounds != logged_rounds)
        {
            elog(DEBUG1, "afp match (%s): round %u, %u rendition(s): %u candidates, %u accepted",
                 source->what, rounds, renditions, candidates, accepted);
            logged_rounds = rounds;
        }
    }
    if (!afp_core_searcher_matches(owned->searcher, &buffer, &status))
        afp_raise(&status);
    *nmatches = (uint32) (buffer.size / sizeof(AfpMatch));
    matches = palloc(Max(buffer.size, 1));
    if (buffer.size > 0)
        memcpy(matches, buffer.data, buffer.size);
    afp_core_free(&buffer);
    free_searcher(owned);
    return matches;
}

void
afp_search_emit(FunctionCallInfo fcinfo, CandidateSource *source, const AfpMatch *matches, uint32 nmatches,
                const AfpDatum *query, int32 max_results)
{
    ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
    double      seconds_per_frame = (double) query->header.hop / query->header.sample_rate;

    for (uint32 i = 0; i < nmatches && (int64) i < max_results; i++)
    {
        const AfpMatch *m = &matches[i];
        Datum       values[MATCH_COLUMNS];
        bool        nulls[MATCH_COLUMNS] = {0};
        char       *title = source->title(source, m);
        /* Vote frames of a rendition are in the track's time; the clip's own time runs speed x tempo times faster. */
        double      time_scale = m->rendition.speed * m->rendition.tempo;
        double      offset_s = m->vote.offset_frames * seconds_per_frame;
        double      first_s = m->vote.clip_first_frame * seconds_per_frame;
        double      last_s = m->vote.clip_last_frame * seconds_per_frame;

        values[0] = Int64GetDatum(m->id);
        if (title)
            values[1] = CStringGetTextDatum(title);
        else
            nulls[1] = true;
        values[2] = Int32GetDatum(m->vote.score);
        values[3] = Float8GetDatum(offset_s);
        values[4] = Float4GetDatum((float4) m->confidence);
        values[5] = Float8GetDatum((last_s - first_s) / time_scale);
        values[6] = Float8GetDatum(first_s / time_scale);
        values[7] = Float8GetDatum(last_s / time_scale);
        values[8] = Float8GetDatum(first_s + offset_s);
        values[9] = Float8GetDatum(last_s + offset_s);
        values[10] = Float8GetDatum(m->rendition.speed);
        values[11] = Float8GetDatum(m->rendition.tempo);
        values[12] = Float8GetDatum(m->rendition.pitch);
        /* A result type of 0.1.0 - 0.3.0 ends at speed: the tuple takes its first natts values. */
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
}

void
afp_check_max_results(int32 max_results)
{
    if (max_results < 1)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("max_results must be at least 1"),
                 errdetail("max_results is %d.", max_results)));
}

void
afp_check_clip_query(const AfpDatum *query)
{
    /*
     * Matching cost grows with the clip's hashes; afp.max_clip_seconds bounds it,
     * counted to the start of the clip's last analysis frame: the landmarks of a
     * clip of exactly the limit, or of afp_slice(fp, s, s + limit), start within it
     * (the audio lasts one analysis window, 0.128 s, longer).
     */
    double      seconds = (double) query->header.n_samples / query->header.sample_rate;
    double      anchored = afp_core_anchored_seconds(&query->header);

    if (anchored > afp_max_clip_seconds)
        afp_raise_clip_too_long(seconds, anchored);
    /* The duration does not bound the landmarks of a value made elsewhere (a crafted 60 s afp with 4 M landmarks cost 8.8 s and 809 MB). */
    afp_check_query_landmarks(query);
}
