/*
 * fingerprint.c — fingerprint(bytea): the whole analysis runs in the core;
 * this file checks the size cap, passes the limits and the interrupt probe,
 * and turns the result into a datum.
 */
#include "afp_pg.h"

PG_FUNCTION_INFO_V1(afp_fingerprint);

/* Refuses input over the size cap before the core sees a byte, and fills the core's limits. */
static void
audio_limits(size_t size, AfpAudioLimits *limits)
{
    /* Checked here too, before the core sees a byte, so the cap holds for every caller. */
    if (size > (size_t) afp_max_audio_bytes)
        ereport(ERROR,
                (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                 errmsg("audio data is larger than afp.max_audio_bytes (%d bytes)", afp_max_audio_bytes),
                 errdetail("The input has %zu bytes.", size),
                 errhint("Compress the audio, split it, or ask a superuser to raise afp.max_audio_bytes.")));
    limits->max_seconds = afp_max_audio_seconds;
    limits->max_bytes = (size_t) afp_max_audio_bytes;
    limits->max_samples = (uint64) afp_max_audio_samples;
}

/* Fingerprints raw audio bytes as a track. */
AfpDatum *
afp_fingerprint_bytes(const char *data, size_t size)
{
    AfpAudioLimits limits;
    AfpBuffer   buffer;
    AfpStatus   status;

    audio_limits(size, &limits);
    if (!afp_core_fingerprint(data, size, &limits, false, afp_interrupt_pending, &buffer, &status))
        afp_raise(&status);
    return afp_datum_from_buffer(&buffer);
}

/*
 * Fingerprints a clip: returns its query landmarks and sets *reference to the
 * landmarks a track would have. Silence gives empty fingerprints, not an error.
 */
AfpDatum *
afp_fingerprint_clip(const char *data, size_t size, AfpDatum **reference)
{
    AfpAudioLimits limits;
    AfpBuffer   query_buffer;
    AfpBuffer   reference_buffer;
    AfpStatus   status;
    AfpDatum   *query;
    bool        clip_capped = false;

    audio_limits(size, &limits);
    /* A clip stops decoding at afp.max_clip_seconds: matching it would be refused anyway. */
    if (afp_max_clip_seconds < limits.max_seconds)
    {
        limits.max_seconds = afp_max_clip_seconds;
        clip_capped = true;
    }
    if (!afp_core_fingerprint_clip(data, size, &limits, afp_interrupt_pending, &query_buffer, &reference_buffer, &status))
    {
        if (status.code == AFP_E_TOO_LONG && clip_capped)
            afp_raise_clip_too_long(-1, -1);
        afp_raise(&status);
    }
    /* Both buffers are malloc()ed by the core: allocate both copies before anything can raise. */
    query = palloc_extended(VARHDRSZ + query_buffer.size, MCXT_ALLOC_NO_OOM);
    *reference = palloc_extended(VARHDRSZ + reference_buffer.size, MCXT_ALLOC_NO_OOM);
    if (query == NULL || *reference == NULL)
    {
        afp_core_free(&query_buffer);
        afp_core_free(&reference_buffer);
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    }
    SET_VARSIZE(query, VARHDRSZ + query_buffer.size);
    memcpy(&query->header, query_buffer.data, query_buffer.size);
    SET_VARSIZE(*reference, VARHDRSZ + reference_buffer.size);
    memcpy(&(*reference)->header, reference_buffer.data, reference_buffer.size);
    afp_core_free(&query_buffer);
    afp_core_free(&reference_buffer);
    return query;
}

/* fingerprint(audio bytea) returns afp. */
Datum
afp_fingerprint(PG_FUNCTION_ARGS)
{
    bytea      *audio = PG_GETARG_BYTEA_PP(0);

    PG_RETURN_POINTER(afp_fingerprint_bytes(VARDATA_ANY(audio), VARSIZE_ANY_EXHDR(audio)));
}
