/*
 * fingerprint.c — fingerprint(bytea): the whole analysis runs in the core;
 * this file checks the size cap, passes the limits and the interrupt probe,
 * and turns the result into a datum.
 */
#include "afp_pg.h"

PG_FUNCTION_INFO_V1(afp_fingerprint);

/*
 * Fingerprints raw audio bytes. A clip (as_clip) gets the denser query analysis,
 * and silence gives it an empty fingerprint instead of an error.
 */
AfpDatum *
afp_fingerprint_bytes(const char *data, size_t size, bool as_clip)
{
    AfpAudioLimits limits;
    AfpBuffer   buffer;
    AfpStatus   status;
    bool        ok;

    /* Checked here too, before the core sees a byte, so the cap holds for every caller. */
    if (size > (size_t) afp_max_audio_bytes)
        ereport(ERROR,
                (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                 errmsg("audio data is larger than afp.max_audio_bytes (%d bytes)", afp_max_audio_bytes),
                 errdetail("The input has %zu bytes.", size),
                 errhint("Compress the audio, split it, or ask a superuser to raise afp.max_audio_bytes.")));
    limits.max_seconds = afp_max_audio_seconds;
    limits.max_bytes = (size_t) afp_max_audio_bytes;
    if (as_clip)
        ok = afp_core_fingerprint_clip(data, size, &limits, afp_interrupt_pending, &buffer, &status);
    else
        ok = afp_core_fingerprint(data, size, &limits, false, afp_interrupt_pending, &buffer, NULL, &status);
    if (!ok)
        afp_raise(&status);
    return afp_datum_from_buffer(&buffer);
}

/* fingerprint(audio bytea) returns afp. */
Datum
afp_fingerprint(PG_FUNCTION_ARGS)
{
    bytea      *audio = PG_GETARG_BYTEA_PP(0);

    PG_RETURN_POINTER(afp_fingerprint_bytes(VARDATA_ANY(audio), VARSIZE_ANY_EXHDR(audio), false));
}
