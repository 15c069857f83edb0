/*
 * afp_format.h — the on-disk layout of an afp fingerprint, shared by the C++
 * core and the C glue. Plain C so both zones read the same bytes the same way.
 *
 * A datum body (what follows the 4-byte varlena header) is
 *
 *     AfpHeader                      16 bytes
 *     int32   hashes[count]          ascending; equal hashes ordered by frame
 *     uint32  frames[count]          anchor frame of each landmark
 *
 * Struct-of-arrays: GIN key extraction walks hashes[] alone and voting
 * merge-joins two hashes[] arrays, reading frames[] only on a hit.
 */
#ifndef AFP_FORMAT_H
#define AFP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the byte layout changes. */
#define AFP_FORMAT_VERSION 1

/* Header of every fingerprint; all fields in host byte order. */
typedef struct AfpHeader
{
    uint8_t  version;      /* AFP_FORMAT_VERSION */
    uint8_t  param_set;    /* analysis parameter set that produced the hashes */
    uint16_t hop;          /* analysis hop, samples per frame */
    uint32_t sample_rate;  /* analysis sample rate, Hz */
    uint32_t n_samples;    /* audio length, samples at sample_rate */
    uint32_t count;        /* number of landmarks */
} AfpHeader;

/* Bytes of a body holding count landmarks. */
static inline size_t
afp_body_size(uint32_t count)
{
    return sizeof(AfpHeader) + (size_t) count * (sizeof(int32_t) + sizeof(uint32_t));
}

/* The hash array of a body (valid only after validation). */
static inline const int32_t *
afp_body_hashes(const AfpHeader *h)
{
    return (const int32_t *) (h + 1);
}

/* The frame array of a body (valid only after validation). */
static inline const uint32_t *
afp_body_frames(const AfpHeader *h)
{
    return (const uint32_t *) (afp_body_hashes(h) + h->count);
}

#ifdef __cplusplus
}
#endif

#endif /* AFP_FORMAT_H */
