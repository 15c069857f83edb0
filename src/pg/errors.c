/*
 * errors.c — turns a core status into an ereport(). Called only after the core
 * call has returned, so no C++ frame is live when this longjmps.
 */
#include "afp_pg.h"

#include "miscadmin.h"

#define AUDIO_FORMATS_HINT \
    "Supported formats: WAV and AIFF (PCM 8 to 32-bit, float, mu-law, A-law; WAV also GSM 6.10), FLAC, Ogg Vorbis, " \
    "Ogg Opus and MP3."

/*
 * A clip longer than afp.max_clip_seconds: match_* refuse it (seconds < 0: not
 * known yet). anchored is where its last analysis frame starts, what the limit
 * bounds: the detail gives both, to the millisecond, so that a clip of 60.1 s
 * refused under a 60 s limit does not read "60.1 s".
 */
void
afp_raise_clip_too_long(double seconds, double anchored)
{
    ereport(ERROR,
            (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
             errmsg("clip is longer than afp.max_clip_seconds (%d s)", afp_max_clip_seconds),
             seconds >= 0 ? errdetail("The clip lasts %.3f s: its last analysis frame starts %.3f s into it, "
                                      "after the limit of %d s.", seconds, anchored, afp_max_clip_seconds)
             : errdetail("The clip's audio goes on past %d s, where its decoding stopped.", afp_max_clip_seconds),
             errhint("Find the tracks in a long recording with match_segments(), or ask a superuser to raise "
                     "afp.max_clip_seconds.")));
    pg_unreachable();
}

/*
 * Refuses a search query with more landmarks than afp.max_query_hashes: what
 * match_* and an afp_landmark scan do grows with them, and a value made
 * elsewhere can pack millions into a few seconds (a real 60 s clip's query
 * analysis has ~14,000).
 */
void
afp_check_query_landmarks(const AfpDatum *query)
{
    if (query->header.count > (uint32) afp_max_query_hashes)
        ereport(ERROR,
                (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                 errmsg("query has more landmarks than afp.max_query_hashes (%d)", afp_max_query_hashes),
                 errdetail("The query has %u landmarks.", query->header.count),
                 errhint("Search with a shorter stretch (afp_slice), or ask a superuser to raise afp.max_query_hashes.")));
}

/* Raises the error described by status; never returns. */
void
afp_raise(const AfpStatus *status)
{
    const char *detail = status->detail[0] != '\0' ? status->detail : NULL;

    switch (status->code)
    {
        case AFP_E_EMPTY_AUDIO:
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     errmsg("audio data is empty"),
                     detail ? errdetail_internal("%s", detail) : 0,
                     errhint(AUDIO_FORMATS_HINT)));
            break;
        case AFP_E_UNDECODABLE:
            ereport(ERROR,
                    (errcode(ERRCODE_DATA_EXCEPTION),
                     errmsg("could not decode audio data"),
                     detail ? errdetail_internal("%s", detail) : 0,
                     errhint(AUDIO_FORMATS_HINT)));
            break;
        case AFP_E_BAD_AUDIO_HEADER:
            ereport(ERROR,
                    (errcode(ERRCODE_DATA_EXCEPTION),
                     errmsg("audio header is invalid"),
                     detail ? errdetail_internal("%s", detail) : 0,
                     errhint(AUDIO_FORMATS_HINT)));
            break;
        case AFP_E_TRUNCATED:
            ereport(ERROR,
                    (errcode(ERRCODE_DATA_EXCEPTION),
                     errmsg("audio data is truncated"),
                     detail ? errdetail_internal("%s", detail) : 0,
                     errhint("Send the complete file.")));
            break;
        case AFP_E_NO_SAMPLES:
            ereport(ERROR,
                    (errcode(ERRCODE_DATA_EXCEPTION),
                     errmsg("audio data contains no samples"),
                     detail ? errdetail_internal("%s", detail) : 0));
            break;
        case AFP_E_NON_FINITE:
            ereport(ERROR,
                    (errcode(ERRCODE_DATA_EXCEPTION),
                     errmsg("audio data contains NaN or infinite samples"),
                     detail ? errdetail_internal("%s", detail) : 0));
            break;
        case AFP_E_SILENT:
            ereport(ERROR,
                    (errcode(ERRCODE_DATA_EXCEPTION),
                     errmsg("audio is silent"),
                     detail ? errdetail_internal("%s", detail) : 0,
                     errhint("A silent recording has nothing to fingerprint; match_clip() returns no rows for one.")));
            break;
        case AFP_E_TOO_LONG:
            ereport(ERROR,
                    (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                     errmsg("audio is longer than afp.max_audio_seconds (%d s)", afp_max_audio_seconds),
                     detail ? errdetail_internal("%s", detail) : 0,
                     errhint("Split the recording, or ask a superuser to raise afp.max_audio_seconds.")));
            break;
        case AFP_E_TOO_MANY_SAMPLES:
            ereport(ERROR,
                    (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                     errmsg("audio has more samples than afp.max_audio_samples (%d)", afp_max_audio_samples),
                     detail ? errdetail_internal("%s", detail) : 0,
                     errhint("Downmix or resample the recording, split it, or ask a superuser to raise "
                             "afp.max_audio_samples.")));
            break;
        case AFP_E_TOO_LARGE:
            ereport(ERROR,
                    (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                     errmsg("audio data is larger than afp.max_audio_bytes (%d bytes)", afp_max_audio_bytes),
                     detail ? errdetail_internal("%s", detail) : 0,
                     errhint("Compress the audio, split it, or ask a superuser to raise afp.max_audio_bytes.")));
            break;
        case AFP_E_MALFORMED:
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                     errmsg("malformed afp value"),
                     detail ? errdetail_internal("%s", detail) : 0));
            break;
        case AFP_E_PARAM_MISMATCH:
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     errmsg("afp values were made with different parameter sets"),
                     detail ? errdetail_internal("%s", detail) : 0,
                     errhint("Fingerprint the catalogue again with this version of fingerprint().")));
            break;
        case AFP_E_CANCELLED:
            CHECK_FOR_INTERRUPTS();
            /* The flag was cleared before we looked again; still report the cancel. */
            ereport(ERROR,
                    (errcode(ERRCODE_QUERY_CANCELED),
                     errmsg("canceling statement due to user request")));
            break;
        case AFP_E_OUT_OF_MEMORY:
            ereport(ERROR,
                    (errcode(ERRCODE_OUT_OF_MEMORY),
                     errmsg("out of memory"),
                     errdetail("The audio analysis could not allocate memory.")));
            break;
        case AFP_OK:
        case AFP_E_INTERNAL:
        default:
            elog(ERROR, "afp internal error: %s", status->detail);
    }
    pg_unreachable();
}
