/*
 * shardprotocol.h — what a coordinator (coordinator.c) and a shard (shard.c) say to each other,
 * written once for both sides: the protocol's version and the columns of each call's answer, by
 * position. The SQL declarations (afp--0.4.0--0.5.0.sql, afp_shards--*.sql) name the same columns
 * in the same order; the coordinator checks every answer against the types below before it reads
 * a value, and asks each shard's version on first contact.
 */
#ifndef AFP_SHARD_PROTOCOL_H
#define AFP_SHARD_PROTOCOL_H

#include "catalog/pg_type.h"

/*
 * Bumped whenever a call's arguments, columns or meaning change: a shard of another version is
 * a named error (08P01), never a guess. 1: the calls of afp 0.5.0 - 0.6.0 (estimates per hash
 * since 0.6.0, directory_bits always 32). 2: afp 0.7.0, afp_shard_vote also answers drift_pairs
 * (the searcher's refinement reads it).
 */
#define AFP_SHARD_PROTOCOL 2

/* afp_shard_estimates(probes afp[], bits int): one row per probe. */
#define SHARD_COUNTS_PER_HASH 32    /* the bits asked for and answered: counts per hash, not per bucket */
#define SHARD_ESTIMATES_COLUMNS "probe, directory_bits, catalog_rows, estimates"
enum
{
    SHARD_ESTIMATES_PROBE = 1,      /* int, 1-based */
    SHARD_ESTIMATES_BITS,           /* int, 32: counts per hash */
    SHARD_ESTIMATES_ROWS,           /* float8, the shard's catalogue rows */
    SHARD_ESTIMATES_COUNTS,         /* int8[], postings per distinct probe hash, ascending */
    SHARD_ESTIMATES_NATTS = SHARD_ESTIMATES_COUNTS
};
#define SHARD_ESTIMATES_TYPES {INT4OID, INT4OID, FLOAT8OID, INT8ARRAYOID}

/* afp_shard_rank(probes afp[], max_postings int8[], min_votes int[], limits int[]): ranked rows. */
#define SHARD_RANK_COLUMNS "probe, id, votes"
enum
{
    SHARD_RANK_PROBE = 1,           /* int, 1-based */
    SHARD_RANK_ID,                  /* int8, NULL for a row without one */
    SHARD_RANK_VOTES,               /* int, index votes */
    SHARD_RANK_NATTS = SHARD_RANK_VOTES
};
#define SHARD_RANK_TYPES {INT4OID, INT8OID, INT4OID}

/* afp_shard_vote(query afp, ids int8[], speeds, tempos, pitches float8[]): one row per item voted. */
#define SHARD_VOTE_COLUMNS "item, id, title, score, anchors, aligned_pairs, total_pairs, offset_frames, " \
    "clip_first_frame, clip_last_frame, log_chance, drift_pairs"
enum
{
    SHARD_VOTE_ITEM = 1,            /* int, 1-based */
    SHARD_VOTE_ID,                  /* int8 */
    SHARD_VOTE_TITLE,               /* text or NULL */
    SHARD_VOTE_SCORE,               /* int: AfpVote, field for field */
    SHARD_VOTE_ANCHORS,
    SHARD_VOTE_ALIGNED_PAIRS,
    SHARD_VOTE_TOTAL_PAIRS,
    SHARD_VOTE_OFFSET_FRAMES,       /* float8 */
    SHARD_VOTE_CLIP_FIRST_FRAME,    /* int8 */
    SHARD_VOTE_CLIP_LAST_FRAME,     /* int8 */
    SHARD_VOTE_LOG_CHANCE,          /* float8 */
    SHARD_VOTE_DRIFT_PAIRS,         /* int (protocol 2) */
    SHARD_VOTE_NATTS = SHARD_VOTE_DRIFT_PAIRS
};
#define SHARD_VOTE_TYPES {INT4OID, INT8OID, TEXTOID, INT4OID, INT4OID, INT4OID, INT4OID, FLOAT8OID, \
    INT8OID, INT8OID, FLOAT8OID, INT4OID}

#endif /* AFP_SHARD_PROTOCOL_H */
