/*
 * match.c — match_afp() and match_clip() on a catalogue of this database: which
 * columns and index the catalogue has, then the one search (search.c) on its
 * candidate source (localsource.c), and the answer as a result set.
 *
 * A catalogue is any table, view or materialized view the caller can read with
 *   - exactly one column of type afp (the fingerprint),
 *   - an integer id: the column named "id", or else a one-column integer primary key,
 *   - optionally a text column named "title", returned with each match.
 */
#include "search.h"
#include "landmark.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/index.h"
#include "commands/defrem.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "access/genam.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include <math.h>

PG_FUNCTION_INFO_V1(afp_match_afp);
PG_FUNCTION_INFO_V1(afp_match_clip);
PG_FUNCTION_INFO_V1(afp_catalog_columns);

/* The OID of the afp type, found in the schema of the calling function. */
Oid
afp_type_oid(FunctionCallInfo fcinfo, Oid *namespace_out)
{
    Oid         nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
    Oid         typoid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
                                         CStringGetDatum("afp"), ObjectIdGetDatum(nsp));

    if (!OidIsValid(typoid))
        elog(ERROR, "type afp not found in the schema of the afp extension");
    *namespace_out = nsp;
    return typoid;
}

/* Whether a type is one of the integer types an id may have. */
static bool
is_integer_type(Oid typid)
{
    return typid == INT2OID || typid == INT4OID || typid == INT8OID;
}

/*
 * The valid afp_landmark index on the catalogue's afp column (quoted name fp), if
 * any: then candidates come from the index's vote instead of GIN. Views have no
 * index of their own and take the GIN path.
 */
static Oid
relation_am(Oid relid)
{
    HeapTuple   tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    Oid         am = InvalidOid;

    if (HeapTupleIsValid(tup))
    {
        am = ((Form_pg_class) GETSTRUCT(tup))->relam;
        ReleaseSysCache(tup);
    }
    return am;
}

static Oid
landmark_index_of(Relation rel, const char *fp)
{
    Oid         am = get_index_am_oid("afp_landmark", true);
    List       *indexes;
    ListCell   *lc;
    Oid         found = InvalidOid;

    if (!OidIsValid(am) || rel->rd_rel->relkind == RELKIND_VIEW || rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE)
        return InvalidOid;
    indexes = RelationGetIndexList(rel);
    foreach(lc, indexes)
    {
        HeapTuple   tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
        Form_pg_index index;

        if (!HeapTupleIsValid(tup))
            continue;
        index = (Form_pg_index) GETSTRUCT(tup);
        if (index->indisvalid && index->indisready && index->indnatts == 1 && index->indkey.values[0] > 0 &&
            heap_attisnull(tup, Anum_pg_index_indpred, NULL) && relation_am(index->indexrelid) == am &&
            strcmp(quote_identifier(NameStr(TupleDescAttr(RelationGetDescr(rel), index->indkey.values[0] - 1)->attname)), fp) == 0)
            found = index->indexrelid;
        ReleaseSysCache(tup);
        if (OidIsValid(found))
            break;
    }
    list_free(indexes);
    return found;
}

/* Finds the id, fingerprint and title columns of a catalogue, or explains why it has none. */
CatalogColumns
afp_catalog_columns_of(Oid relid, Oid afp_type)
{
    CatalogColumns cols = {0};
    Relation    rel;
    TupleDesc   desc;
    const char *relname;
    int         afp_columns = 0;
    AttrNumber  id_attnum = InvalidAttrNumber;
    AclResult   table_acl;

    if (get_rel_name(relid) == NULL)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_TABLE),
                 errmsg("catalogue with OID %u does not exist", relid),
                 errhint("The second argument of match_clip is the catalogue; pass max_results by name: "
                         "match_clip(clip, max_results => 3).")));

    /*
     * Refuse before revealing anything about a table the caller cannot read at
     * all; column privileges on the id and afp columns are checked once they
     * are known (a role may be granted SELECT on just those).
     */
    table_acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
    if (table_acl != ACLCHECK_OK &&
        pg_attribute_aclcheck_all(relid, GetUserId(), ACL_SELECT, ACLMASK_ANY) != ACLCHECK_OK)
        aclcheck_error(table_acl, get_relkind_objtype(get_rel_relkind(relid)), get_rel_name(relid));

    rel = relation_open(relid, AccessShareLock);
    relname = RelationGetRelationName(rel);
    switch (rel->rd_rel->relkind)
    {
        case RELKIND_RELATION:
        case RELKIND_PARTITIONED_TABLE:
        case RELKIND_MATVIEW:
        case RELKIND_VIEW:
        case RELKIND_FOREIGN_TABLE:
            break;
        default:
            ereport(ERROR,
                    (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                     errmsg("\"%s\" is not a table, view or materialized view", relname)));
    }
    desc = RelationGetDescr(rel);
    for (int i = 0; i < desc->natts; i++)
    {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        const char *name = NameStr(att->attname);

        if (att->attisdropped)
            continue;
        /* A domain over afp is an afp column too. */
        if (getBaseType(att->atttypid) == afp_type)
        {
            afp_columns++;
            cols.fp = pstrdup(quote_identifier(name));
            cols.fp_attnum = att->attnum;
        }
        else if (strcmp(name, "id") == 0 && is_integer_type(att->atttypid))
            id_attnum = att->attnum;
        else if (strcmp(name, "title") == 0 && (att->atttypid == TEXTOID || att->atttypid == VARCHAROID) &&
                 (table_acl == ACLCHECK_OK ||
                  pg_attribute_aclcheck(relid, att->attnum, GetUserId(), ACL_SELECT) == ACLCHECK_OK))
        {
            /* The title is optional: a caller without SELECT on it gets NULL titles. */
            cols.title = pstrdup(quote_identifier(name));
            cols.title_attnum = att->attnum;
        }
    }
    if (afp_columns == 0)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_COLUMN),
                 errmsg("catalogue \"%s\" has no column of type afp", relname),
                 errhint("A catalogue needs one afp column, an integer \"id\" column or primary key, "
                         "and optionally a \"title\" column.")));
    if (afp_columns > 1)
        ereport(ERROR,
                (errcode(ERRCODE_AMBIGUOUS_COLUMN),
                 errmsg("catalogue \"%s\" has %d columns of type afp", relname, afp_columns),
                 errhint("Match against a view that selects the id and one afp column.")));

    /* No column called "id": accept a one-column integer primary key instead. */
    if (id_attnum == InvalidAttrNumber && rel->rd_rel->relkind != RELKIND_VIEW)
    {
        Oid         pk = RelationGetPrimaryKeyIndex(rel);

        if (OidIsValid(pk))
        {
            HeapTuple   tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(pk));

            if (HeapTupleIsValid(tup))
            {
                Form_pg_index index = (Form_pg_index) GETSTRUCT(tup);

                if (index->indnkeyatts == 1 && index->indkey.values[0] > 0 &&
                    is_integer_type(TupleDescAttr(desc, index->indkey.values[0] - 1)->atttypid))
                    id_attnum = index->indkey.values[0];
                ReleaseSysCache(tup);
            }
        }
    }
    if (id_attnum == InvalidAttrNumber)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_COLUMN),
                 errmsg("catalogue \"%s\" has no integer id column", relname),
                 errhint("Name the id column \"id\", or make it a one-column integer primary key.")));
    {
        Oid         lm = landmark_index_of(rel, cols.fp);

        cols.landmark_index = OidIsValid(lm);
        /*
         * A plain table or materialized view without row-level security is scanned
         * through the index directly; partitioned tables (one index per partition)
         * and tables with RLS (policies apply) go through SQL.
         */
        if (OidIsValid(lm) && (rel->rd_rel->relkind == RELKIND_RELATION || rel->rd_rel->relkind == RELKIND_MATVIEW) &&
            check_enable_rls(relid, InvalidOid, true) == RLS_NONE)
            cols.direct_index = lm;
    }
    if (table_acl != ACLCHECK_OK)
    {
        AttrNumber  needed[2] = {id_attnum, cols.fp_attnum};

        for (int i = 0; i < 2; i++)
        {
            AclResult   acl = pg_attribute_aclcheck(relid, needed[i], GetUserId(), ACL_SELECT);

            if (acl != ACLCHECK_OK)
                aclcheck_error_col(acl, get_relkind_objtype(rel->rd_rel->relkind), relname,
                                   NameStr(TupleDescAttr(desc, needed[i] - 1)->attname));
        }
    }
    cols.relid = relid;
    cols.id_attnum = id_attnum;
    cols.id = pstrdup(quote_identifier(NameStr(TupleDescAttr(desc, id_attnum - 1)->attname)));
    cols.relation = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)), relname);
    relation_close(rel, AccessShareLock);
    return cols;
}

/*
 * Finds the catalogue rows that contain the query and writes the accepted ones,
 * best first, to the SRF result: the search and its stages are the core's
 * Searcher (src/core/searcher.hpp), the catalogue its candidate source.
 */
static void
match_into_result(FunctionCallInfo fcinfo, AfpDatum *query, AfpDatum *reference, Oid catalog, int32 max_results)
{
    Oid         ext_nsp;
    Oid         afp_type;
    CatalogColumns cols;
    CandidateSource *source;
    AfpMatch   *matches;
    uint32      nmatches;

    afp_check_max_results(max_results);
    afp_check_clip_query(query);
    InitMaterializedSRF(fcinfo, 0);
    afp_type = afp_type_oid(fcinfo, &ext_nsp);
    cols = afp_catalog_columns_of(catalog, afp_type);
    /* An empty fingerprint (a silent or very short clip) matches nothing. */
    if (query->header.count == 0)
        return;
    source = afp_local_source(&cols, ext_nsp, afp_type);
    matches = afp_search_run(source, query, reference, &nmatches);
    afp_search_emit(fcinfo, source, matches, nmatches, query, max_results);
}

/* match_afp(query afp, catalog regclass, max_results int). */
Datum
afp_match_afp(PG_FUNCTION_ARGS)
{
    AfpDatum   *query = PG_GETARG_AFP_P(0);

    /* A fingerprint made by fingerprint() has reference density: it is its own fast-path probe. */
    match_into_result(fcinfo, query, query, PG_GETARG_OID(1), PG_GETARG_INT32(2));
    return (Datum) 0;
}

/* The afp_tracks table of the extension's schema. */
static Oid
default_catalog(FunctionCallInfo fcinfo)
{
    Oid         nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
    Oid         relid = get_relname_relid("afp_tracks", nsp);

    if (!OidIsValid(relid))
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_TABLE),
                 errmsg("table \"afp_tracks\" of the afp extension does not exist"),
                 errhint("Pass a catalogue: match_clip(clip, 'my_table'::regclass).")));
    return relid;
}

/* match_clip(clip bytea[, catalog regclass], max_results int): fingerprints, then matches. */
Datum
afp_match_clip(PG_FUNCTION_ARGS)
{
    bytea      *clip = PG_GETARG_BYTEA_PP(0);
    Oid         catalog;
    int32       max_results;
    AfpDatum   *query;
    AfpDatum   *reference;

    /*
     * match_clip(clip, max_results): the overload of SQL version 0.1.0 (0.2.0
     * dropped it), served while an installation still runs 0.1.0's script. Goes
     * with default_catalog() when 0.1.0 stops being installable.
     */
    if (PG_NARGS() == 2)
    {
        catalog = default_catalog(fcinfo);
        max_results = PG_GETARG_INT32(1);
    }
    else
    {
        catalog = PG_GETARG_OID(1);
        max_results = PG_GETARG_INT32(2);
    }
    afp_check_max_results(max_results);
    /* A clip gets the query analysis; silence is not an error here, it matches nothing. */
    query = afp_fingerprint_clip(VARDATA_ANY(clip), VARSIZE_ANY_EXHDR(clip), &reference);
    match_into_result(fcinfo, query, reference, catalog, max_results);
    return (Datum) 0;
}

/*
 * afp_catalog_columns(catalog regclass) -> (id name, fp name, title name):
 * the columns match_* read, by the one rule they use (afp_catalog_columns_of), for
 * SQL (afp_catalog_column, afp_catalog_stats) and tools (afp-plot). title is NULL
 * when the catalogue has none the caller may read.
 */
Datum
afp_catalog_columns(PG_FUNCTION_ARGS)
{
    Oid         ext_nsp;
    Oid         afp_type = afp_type_oid(fcinfo, &ext_nsp);
    Oid         relid = PG_GETARG_OID(0);
    CatalogColumns cols = afp_catalog_columns_of(relid, afp_type);
    TupleDesc   desc;
    Datum       values[3];
    bool        nulls[3] = {0};

    if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "afp_catalog_columns must return a record");
    desc = BlessTupleDesc(desc);
    values[0] = CStringGetDatum(get_attname(relid, cols.id_attnum, false));
    values[1] = CStringGetDatum(get_attname(relid, cols.fp_attnum, false));
    if (cols.title_attnum != InvalidAttrNumber)
        values[2] = CStringGetDatum(get_attname(relid, cols.title_attnum, false));
    else
        nulls[2] = true;
    for (int i = 0; i < 3; i++)
        if (!nulls[i])
            values[i] = DirectFunctionCall1(namein, values[i]);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
