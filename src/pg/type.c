/*
 * type.c — the afp type: text and binary I/O, and the functions that read a
 * fingerprint's header and landmarks. Every input path ends in the core's
 * single validation routine.
 */
#include "afp_pg.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(afp_in);
PG_FUNCTION_INFO_V1(afp_out);
PG_FUNCTION_INFO_V1(afp_recv);
PG_FUNCTION_INFO_V1(afp_send);
PG_FUNCTION_INFO_V1(afp_duration);
PG_FUNCTION_INFO_V1(afp_landmark_count);
PG_FUNCTION_INFO_V1(afp_param_set);
PG_FUNCTION_INFO_V1(afp_hashes);
PG_FUNCTION_INFO_V1(afp_landmarks);
PG_FUNCTION_INFO_V1(afp_slice);

/* Bytes of the body of a detoasted datum. */
static size_t
afp_body_bytes(const AfpDatum *fp)
{
    return VARSIZE(fp) - VARHDRSZ;
}

/* Detoasts an afp value and checks its framing before any field is trusted. */
AfpDatum *
afp_detoast(Datum datum)
{
    AfpDatum   *fp = (AfpDatum *) PG_DETOAST_DATUM(datum);
    size_t      size = VARSIZE(fp) - VARHDRSZ;

    /* Values were validated on input; this catches corruption and foreign bytes cheaply. */
    if (size < sizeof(AfpHeader) ||
        fp->header.version != AFP_FORMAT_VERSION ||
        size != afp_body_size(fp->header.count))
        ereport(ERROR,
                (errcode(ERRCODE_DATA_CORRUPTED),
                 errmsg("afp value is corrupted"),
                 errdetail("The stored value has %zu bytes and format version %d.",
                           size, size >= 1 ? (int) fp->header.version : -1)));
    return fp;
}

/*
 * The header of an afp value, from a slice of it: a compressed or out-of-line
 * value is decompressed or fetched only as far as the header (a catalogue's
 * statistics read three header fields of every row). The total size, which the
 * slice does not show, is checked against the header's count when the whole
 * value is read (afp_detoast).
 */
static AfpHeader
afp_header_of(Datum datum)
{
    struct varlena *slice = PG_DETOAST_DATUM_SLICE(datum, 0, sizeof(AfpHeader));
    AfpHeader   header;
    size_t      size = VARSIZE_ANY_EXHDR(slice);

    if (size < sizeof(AfpHeader) || ((const AfpHeader *) VARDATA_ANY(slice))->version != AFP_FORMAT_VERSION)
        ereport(ERROR,
                (errcode(ERRCODE_DATA_CORRUPTED),
                 errmsg("afp value is corrupted"),
                 errdetail("The stored value has fewer than %zu bytes or another format version.", sizeof(AfpHeader))));
    memcpy(&header, VARDATA_ANY(slice), sizeof(AfpHeader));
    if ((Pointer) slice != DatumGetPointer(datum))
        pfree(slice);
    return header;
}

/* Wraps a core-made body in a palloc()ed datum and releases the core buffer. */
AfpDatum *
afp_datum_from_buffer(AfpBuffer *buffer)
{
    AfpDatum   *fp;
    size_t      size = buffer->size;

    fp = (AfpDatum *) palloc_extended(VARHDRSZ + size, MCXT_ALLOC_NO_OOM);
    if (fp == NULL)
    {
        afp_core_free(buffer);
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    }
    SET_VARSIZE(fp, VARHDRSZ + size);
    memcpy(&fp->header, buffer->data, size);
    afp_core_free(buffer);
    return fp;
}

/* Text input: "version:param_set:rate:hop:samples:hash@frame,...". */
Datum
afp_in(PG_FUNCTION_ARGS)
{
    char       *text = PG_GETARG_CSTRING(0);
    AfpBuffer   buffer;
    AfpStatus   status;

    if (!afp_core_parse_text(text, &buffer, &status))
        afp_raise(&status);
    PG_RETURN_POINTER(afp_datum_from_buffer(&buffer));
}

/* Text output, the form afp_in reads. */
Datum
afp_out(PG_FUNCTION_ARGS)
{
    AfpDatum   *fp = PG_GETARG_AFP_P(0);
    AfpBuffer   buffer;
    AfpStatus   status;
    char       *text;

    if (!afp_core_format_text(&fp->header, afp_body_bytes(fp), &buffer, &status))
        afp_raise(&status);
    text = palloc_extended(buffer.size + 1, MCXT_ALLOC_NO_OOM);
    if (text == NULL)
    {
        afp_core_free(&buffer);
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    }
    memcpy(text, buffer.data, buffer.size + 1);
    afp_core_free(&buffer);
    PG_RETURN_CSTRING(text);
}

/*
 * Binary input: version (int1), param_set (int1), hop (int2), sample_rate,
 * n_samples, count (int4 each), then count (hash int4, frame int4) pairs.
 */
Datum
afp_recv(PG_FUNCTION_ARGS)
{
    StringInfo  buf = (StringInfo) PG_GETARG_POINTER(0);
    AfpBuffer   buffer;
    AfpStatus   status;
    bool        ok;

    /* The core decodes and validates the bytes; the fuzzer drives the same function. */
    ok = afp_core_parse_binary(buf->data + buf->cursor, buf->len - buf->cursor, &buffer, &status);
    buf->cursor = buf->len;
    /* Binary input reports 22P03, like PostgreSQL's own receive functions. */
    if (!ok && status.code == AFP_E_MALFORMED)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
                 errmsg("malformed binary afp value"),
                 errdetail_internal("%s", status.detail)));
    if (!ok)
        afp_raise(&status);
    PG_RETURN_POINTER(afp_datum_from_buffer(&buffer));
}

/* Binary output, the form afp_recv reads (written by the core, the one encoder of it). */
Datum
afp_send(PG_FUNCTION_ARGS)
{
    AfpDatum   *fp = PG_GETARG_AFP_P(0);
    AfpBuffer   buffer;
    AfpStatus   status;
    bytea      *result;

    if (!afp_core_format_binary(&fp->header, afp_body_bytes(fp), &buffer, &status))
        afp_raise(&status);
    result = palloc_extended(VARHDRSZ + buffer.size, MCXT_ALLOC_NO_OOM);
    if (result == NULL)
    {
        afp_core_free(&buffer);
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    }
    SET_VARSIZE(result, VARHDRSZ + buffer.size);
    memcpy(VARDATA(result), buffer.data, buffer.size);
    afp_core_free(&buffer);
    PG_RETURN_BYTEA_P(result);
}

/* Seconds of audio the fingerprint covers. */
Datum
afp_duration(PG_FUNCTION_ARGS)
{
    AfpHeader   header = afp_header_of(PG_GETARG_DATUM(0));

    PG_RETURN_FLOAT8((double) header.n_samples / header.sample_rate);
}

/* Number of landmarks. */
Datum
afp_landmark_count(PG_FUNCTION_ARGS)
{
    PG_RETURN_INT32((int32) afp_header_of(PG_GETARG_DATUM(0)).count);
}

/* The analysis parameter set that made the fingerprint. */
Datum
afp_param_set(PG_FUNCTION_ARGS)
{
    PG_RETURN_INT32((int32) afp_header_of(PG_GETARG_DATUM(0)).param_set);
}

/* Distinct hashes, ascending. */
Datum
afp_hashes(PG_FUNCTION_ARGS)
{
    AfpDatum   *fp = PG_GETARG_AFP_P(0);
    int32       n;
    Datum      *elems = afp_distinct_hashes(fp, &n);

    PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/* Every landmark as (hash, t_s), in stored order: by hash, then time. */
Datum
afp_landmarks(PG_FUNCTION_ARGS)
{
    ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
    AfpDatum   *fp = PG_GETARG_AFP_P(0);
    const int32 *hashes = afp_body_hashes(&fp->header);
    const uint32 *frames = afp_body_frames(&fp->header);
    double      seconds_per_frame = (double) fp->header.hop / fp->header.sample_rate;

    InitMaterializedSRF(fcinfo, 0);
    for (uint32 i = 0; i < fp->header.count; i++)
    {
        Datum       values[2];
        bool        nulls[2] = {false, false};

        values[0] = Int32GetDatum(hashes[i]);
        values[1] = Float8GetDatum(frames[i] * seconds_per_frame);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return (Datum) 0;
}

/* afp_slice(fp, from_s, to_s): the landmarks anchored in [from_s, to_s), times relative to from_s. */
Datum
afp_slice(PG_FUNCTION_ARGS)
{
    AfpDatum   *fp = PG_GETARG_AFP_P(0);
    double      from_s = PG_GETARG_FLOAT8(1);
    double      to_s = PG_GETARG_FLOAT8(2);
    AfpBuffer   buffer;
    AfpStatus   status;

    if (isnan(from_s) || isnan(to_s) || from_s < 0 || to_s < from_s)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("afp_slice needs 0 <= from_s <= to_s"),
                 errdetail("from_s is %g and to_s is %g.", from_s, to_s)));
    if (!afp_core_slice(&fp->header, from_s, to_s, &buffer, &status))
        afp_raise(&status);
    PG_RETURN_POINTER(afp_datum_from_buffer(&buffer));
}
