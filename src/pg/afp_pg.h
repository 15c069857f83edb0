/*
 * afp_pg.h — declarations shared by the glue files: the datum, the GUCs and
 * the mapping of core statuses to ereport().
 */
#ifndef AFP_PG_H
#define AFP_PG_H

#include "postgres.h"

#include "fmgr.h"

/*
 * Supported: PostgreSQL 15 to 19, every one tested (scripts/pg-versions). The
 * glue is written against 15's API; what a later major renamed or changed is
 * mapped here, behind PG_VERSION_NUM, so that following a new release is a
 * matter of an #if in this file.
 */
#if PG_VERSION_NUM < 150000
#error "afp needs PostgreSQL 15 or later"
#endif

/* The physical file of a relation's storage manager, as log_newpage() takes it (renamed in 16). */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"             /* SET_VARSIZE, VARDATA_ANY, ... moved here in 16 */
#define AFP_SMGR_FILE(smgr) (&(smgr)->smgr_rlocator.locator)
#define AFP_RELATION_FILE(rel) ((Oid) (rel)->rd_locator.relNumber)
#define AFP_CLASS_OWNERCHECK(relid, role) object_ownercheck(RelationRelationId, (relid), (role))
#else
#define AFP_SMGR_FILE(smgr) (&(smgr)->smgr_rnode.node)
#define AFP_RELATION_FILE(rel) ((Oid) (rel)->rd_node.relNode)
#define AFP_CLASS_OWNERCHECK(relid, role) pg_class_ownercheck((relid), (role))
#endif

/*
 * The module is built with hidden symbols (the Makefile): only what PostgreSQL looks up by name is
 * PGDLLEXPORT. 16 marks the SQL-callable function of PG_FUNCTION_INFO_V1 so; 15 marks only its
 * info record, so 15 gets 16's definition.
 */
#if PG_VERSION_NUM < 160000
#undef PG_FUNCTION_INFO_V1
#define PG_FUNCTION_INFO_V1(funcname) \
extern PGDLLEXPORT Datum funcname(PG_FUNCTION_ARGS); \
extern PGDLLEXPORT const Pg_finfo_record * CppConcat(pg_finfo_,funcname)(void); \
const Pg_finfo_record * \
CppConcat(pg_finfo_,funcname) (void) \
{ \
    static const Pg_finfo_record my_finfo = { 1 }; \
    return &my_finfo; \
} \
extern int no_such_variable
#endif

/*
 * 18 replaced pg_attribute_noreturn(), written after the declarator, by pg_noreturn, written
 * before it (C11 _Noreturn). The glue is built by GCC or Clang only, where the attribute after the
 * declarator means the same in every major: the old spelling is kept, defined here from 18 on.
 */
#if PG_VERSION_NUM >= 180000 && !defined(pg_attribute_noreturn)
#define pg_attribute_noreturn() __attribute__((noreturn))
#endif

/*
 * Functions that a later major gave more arguments. The glue calls them as 15 declares them; from
 * the major that changed them on, their header is read here first (so that its declaration is
 * seen before the name becomes a macro) and a macro of the same name passes what 15 meant:
 *   18  vacuum_delay_point(is_analyze): false, every call of the glue is in VACUUM or a merge;
 *       index_beginscan(..., instrument, ...): NULL, the glue's own scans are not EXPLAINed;
 *       RelationGetPrimaryKeyIndex(rel, deferrable_ok): false, as before 18, when a deferrable
 *       primary key was not reported;
 *   19  index_beginscan(..., flags): SO_NONE (0), no read-only hint.
 */
#if PG_VERSION_NUM >= 180000
#include "access/genam.h"
#include "commands/vacuum.h"
#include "utils/relcache.h"
#define vacuum_delay_point() vacuum_delay_point(false)
#define RelationGetPrimaryKeyIndex(rel) RelationGetPrimaryKeyIndex((rel), false)
#if PG_VERSION_NUM >= 190000
#define index_beginscan(heap, index, snapshot, nkeys, norderbys) \
    index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys), 0)
#else
#define index_beginscan(heap, index, snapshot, nkeys, norderbys) \
    index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys))
#endif
#endif

/*
 * 19: table_beginscan_parallel(..., flags) gets SO_NONE (0) as index_beginscan; and
 * PageSetChecksumInplace() is PageSetChecksum() (a copy of the page is no longer needed).
 */
#if PG_VERSION_NUM >= 190000
#include "access/tableam.h"
#include "storage/bufpage.h"
#define table_beginscan_parallel(rel, pscan) table_beginscan_parallel((rel), (pscan), 0)
#define PageSetChecksumInplace(page, blkno) PageSetChecksum((page), (blkno))
#endif

/*
 * Headers the glue used through others that 19 no longer includes: the tuplestore the
 * set-returning functions fill, and the latch and wait event a merge waits on.
 */
#include "storage/latch.h"
#include "utils/tuplestore.h"
#include "utils/wait_event.h"

#include "afp_format.h"
#include "facade.h"

/* An afp value once detoasted: varlena header, then the body of afp_format.h. */
typedef struct AfpDatum
{
    int32     vl_len_;
    AfpHeader header;
    /* hashes and frames follow */
} AfpDatum;

/* GUCs (module.c). */
extern int    afp_max_audio_seconds;
extern int    afp_max_audio_bytes;
extern int    afp_max_audio_samples;
extern int    afp_max_clip_seconds;
extern int    afp_max_query_hashes;

/*
 * Defaults of the settings the glue alone reads, written once for the variable and its
 * registration (module.c); the search's are in facade.h.
 */
#define AFP_DEFAULT_MAX_AUDIO_SECONDS 3600                  /* afp.max_audio_seconds: an hour */
#define AFP_DEFAULT_MAX_AUDIO_BYTES (256 * 1024 * 1024)     /* afp.max_audio_bytes */
#define AFP_DEFAULT_MAX_AUDIO_SAMPLES (3600 * 48000 * 2)    /* afp.max_audio_samples: an hour of 48 kHz stereo */
#define AFP_DEFAULT_MAX_CLIP_SECONDS 60                     /* afp.max_clip_seconds */
#define AFP_DEFAULT_MAX_QUERY_HASHES 50000                  /* afp.max_query_hashes */
#define AFP_DEFAULT_INDEX_PENDING_LIMIT 256                 /* afp.index_pending_limit, kB */
extern int    afp_min_shared_hashes;
extern double afp_min_confidence;
extern double afp_max_speed_change;
extern double afp_max_tempo_change;
extern double afp_max_pitch_change;
extern int    afp_index_max_postings;
extern int    afp_index_min_votes;
extern int    afp_index_candidates;
extern bool   afp_use_landmark_index;
extern bool   afp_shard_allow_partial;

/* Returns true when a cancel or termination is pending; handed to the core. */
extern bool afp_interrupt_pending(void);

/* Detoasts an afp value and checks its framing before any field is trusted. */
extern AfpDatum *afp_detoast(Datum datum);

#define PG_GETARG_AFP_P(n) afp_detoast(PG_GETARG_DATUM(n))

/* Wraps a core-made body in a palloc()ed datum and releases the core buffer. */
extern AfpDatum *afp_datum_from_buffer(AfpBuffer *buffer);

/* Reports a failed core call with the SQLSTATE, message and hint of its status code. */
extern void afp_raise(const AfpStatus *status) pg_attribute_noreturn();
extern void afp_raise_clip_too_long(double seconds, double anchored) pg_attribute_noreturn();
extern void afp_check_query_landmarks(const AfpDatum *query);

/* The distinct hashes of a fingerprint as int4 Datums, ascending; NULL when it has none. */
extern Datum *afp_distinct_hashes(const AfpDatum *fp, int32 *nkeys);

/* fingerprint() of raw bytes. */
extern AfpDatum *afp_fingerprint_bytes(const char *data, size_t size);

/* match_clip()'s analysis of a clip: query landmarks, and reference landmarks in *reference. */
extern AfpDatum *afp_fingerprint_clip(const char *data, size_t size, AfpDatum **reference);

#endif /* AFP_PG_H */
