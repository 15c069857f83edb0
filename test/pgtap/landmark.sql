-- The afp_landmark index access method (0.3.0; runs and merges 0.6.0): signatures and labels of
-- its functions as the install and upgrade scripts declare them, the operator, access method and
-- operator class, afp_tracks's index, the settings, and every error kind with its SQLSTATE.
BEGIN;
SELECT plan(105);
-- Settings are registered when the library loads; load it as a first call would.
LOAD 'afp';

SELECT ok((SELECT extversion FROM pg_extension WHERE extname = 'afp') >= '0.3.0', 'the installed version has the landmark index (0.3.0 and later)');

-- Functions: signature, return type, volatility, strictness, parallel label.
SELECT has_function('afp_vote_distance', ARRAY['afp', 'afp']);
SELECT has_function('afp_index_stats', ARRAY['regclass']);
SELECT has_function('afp_index_check', ARRAY['regclass']);
SELECT has_function('afp_index_merge', ARRAY['regclass']);
SELECT ok(NOT has_function_privilege('public', 'afp_index_check(regclass)', 'EXECUTE'),
          'afp_index_check() is not executable by PUBLIC (it holds every row''s landmarks in memory)');
SELECT ok(NOT has_function_privilege('public', 'afp_index_merge(regclass)', 'EXECUTE'),
          'afp_index_merge() is not executable by PUBLIC (it rewrites the index, as VACUUM does)');
SELECT has_function('afp_landmark_handler', ARRAY['internal']);

CREATE TEMP TABLE expected_labels (sig regprocedure, returns text, volatility text, strict bool, parallel "char");
INSERT INTO expected_labels VALUES
  ('afp_vote_distance(afp, afp)',     'double precision', 'i', true,  's'),
  ('afp_index_stats(regclass)',       'record',           's', true,  'r'),
  ('afp_index_check(regclass)',       'record',           'v', true,  'r'),
  ('afp_index_merge(regclass)',       'bigint',           'v', true,  'u'),
  ('afp_landmark_handler(internal)',  'index_am_handler', 'v', false, 'u');
SELECT is(format_type(p.prorettype, NULL), e.returns, e.sig::text || ' returns ' || e.returns)
FROM expected_labels e JOIN pg_proc p ON p.oid = e.sig ORDER BY e.sig::text;
SELECT is(p.provolatile::text, e.volatility, e.sig::text || ' volatility')
FROM expected_labels e JOIN pg_proc p ON p.oid = e.sig ORDER BY e.sig::text;
SELECT is(p.proisstrict, e.strict, e.sig::text || ' strictness')
FROM expected_labels e JOIN pg_proc p ON p.oid = e.sig ORDER BY e.sig::text;
SELECT is(p.proparallel, e.parallel, e.sig::text || ' parallel label')
FROM expected_labels e JOIN pg_proc p ON p.oid = e.sig ORDER BY e.sig::text;
SELECT is((SELECT procost FROM pg_proc WHERE oid = 'afp_vote_distance(afp, afp)'::regprocedure), 10000::real,
          'afp_vote_distance costs 10000 (a full vote per row)');
SELECT is((SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
           WHERE p.oid = 'afp_vote_distance(afp, afp)'::regprocedure), 'c', 'afp_vote_distance is C');
SELECT is(
  (SELECT pg_get_function_arguments(oid) FROM pg_proc WHERE oid = 'afp_index_stats(regclass)'::regprocedure),
  'index regclass, OUT rows bigint, OUT packed_postings bigint, OUT pending_postings bigint, OUT removed_postings bigint, OUT buckets bigint, OUT largest_bucket bigint, OUT pages bigint, OUT bytes bigint, OUT runs integer, OUT free_pages bigint',
  'afp_index_stats(index) returns rows, postings in runs, pending and removed, buckets, the largest bucket, pages, bytes, runs, free pages');
SELECT is(
  (SELECT pg_get_function_arguments(oid) FROM pg_proc WHERE oid = 'afp_index_check(regclass)'::regprocedure),
  'index regclass, OUT rows bigint, OUT postings bigint, OUT missing bigint, OUT orphaned bigint',
  'afp_index_check(index) returns rows, postings, missing, orphaned');
SELECT is(
  (SELECT array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text)
   FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
   WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'afp')
     AND p.proname IN ('afp_vote_distance', 'afp_index_stats', 'afp_index_check', 'afp_index_merge', 'afp_landmark_handler')),
  ARRAY['afp_index_check(regclass)', 'afp_index_merge(regclass)', 'afp_index_stats(regclass)',
        'afp_landmark_handler(internal)', 'afp_vote_distance(afp,afp)'],
  'the five functions belong to the extension');

-- The ordering operator.
SELECT has_operator('afp', '<~>', 'afp', 'double precision');
SELECT is((SELECT oprcode::regproc::text FROM pg_operator WHERE oprname = '<~>'
           AND oprleft = 'afp'::regtype AND oprright = 'afp'::regtype), 'afp_vote_distance',
          '<~> is afp_vote_distance');
SELECT isnt(obj_description((SELECT oid FROM pg_operator WHERE oprname = '<~>' AND oprleft = 'afp'::regtype), 'pg_operator'),
            NULL, '<~> has a comment');
SELECT is(('1:1:8000:128:8000:23341697@5,23341825@9'::afp <~> '1:1:8000:128:8000:23341697@5,23341825@9'::afp),
          -2::float8, 'a fingerprint against itself: minus its distinct hashes');
SELECT is(('1:1:8000:128:8000:23341697@5'::afp <~> NULL::afp), NULL, '<~> with NULL is NULL');

-- The access method and its operator class.
SELECT is((SELECT amtype::text FROM pg_am WHERE amname = 'afp_landmark'), 'i', 'afp_landmark is an index access method');
SELECT is((SELECT amhandler::regproc::text FROM pg_am WHERE amname = 'afp_landmark'), 'afp_landmark_handler',
          'afp_landmark is served by afp_landmark_handler');
SELECT isnt(obj_description((SELECT oid FROM pg_am WHERE amname = 'afp_landmark'), 'pg_am'), NULL,
            'afp_landmark has a comment');
SELECT ok(EXISTS (SELECT 1 FROM pg_depend d JOIN pg_am a ON a.oid = d.objid AND d.classid = 'pg_am'::regclass
                  WHERE a.amname = 'afp_landmark' AND d.deptype = 'e'
                    AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'afp')),
          'afp_landmark belongs to the extension');
SELECT is(pg_indexam_has_property((SELECT oid FROM pg_am WHERE amname = 'afp_landmark'), p), false,
          'afp_landmark: no ' || p)
FROM unnest(ARRAY['can_order', 'can_unique', 'can_multi_col', 'can_include']) p;
SELECT has_opclass('afp_landmark_ops');
SELECT is((SELECT a.amname::text FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod WHERE c.opcname = 'afp_landmark_ops'),
          'afp_landmark', 'afp_landmark_ops belongs to afp_landmark');
SELECT is((SELECT opcdefault FROM pg_opclass WHERE opcname = 'afp_landmark_ops'), true,
          'afp_landmark_ops is the default for afp');
SELECT is((SELECT format_type(opcintype, NULL) FROM pg_opclass WHERE opcname = 'afp_landmark_ops'), 'afp',
          'afp_landmark_ops indexes afp');
SELECT is(
  (SELECT array_agg(o.amopstrategy || ':' || o.amoppurpose::text || ':' || o.amopopr::regoperator::text || ':' || f.opfname)
   FROM pg_amop o JOIN pg_opclass c ON c.opcfamily = o.amopfamily JOIN pg_opfamily f ON f.oid = o.amopsortfamily
   WHERE c.opcname = 'afp_landmark_ops'),
  ARRAY['1:o:<~>(afp,afp):float_ops'],
  'afp_landmark_ops: one ordering operator, <~>, sorted by float_ops');
SELECT is((SELECT count(*) FROM pg_amop o JOIN pg_opclass c ON c.opcfamily = o.amopfamily
           WHERE c.opcname = 'afp_landmark_ops' AND o.amoppurpose = 's'), 0::bigint,
          'afp_landmark_ops has no search operator');
SELECT is((SELECT count(*) FROM pg_amproc p JOIN pg_opclass c ON c.opcfamily = p.amprocfamily
           WHERE c.opcname = 'afp_landmark_ops'), 0::bigint, 'afp_landmark_ops has no support function');

-- afp_tracks has the index, valid, on fp.
SELECT has_index('afp_tracks', 'afp_tracks_fp_landmark_idx', 'fp');
SELECT index_is_type('afp_tracks', 'afp_tracks_fp_landmark_idx', 'afp_landmark');
SELECT has_index('afp_tracks', 'afp_tracks_fp_idx', 'fp', 'afp_tracks keeps its GIN index');
SELECT is((SELECT indisvalid AND indisready FROM pg_index WHERE indexrelid = 'afp_tracks_fp_landmark_idx'::regclass),
          true, 'afp_tracks_fp_landmark_idx is valid');
SELECT is(pg_index_column_has_property('afp_tracks_fp_landmark_idx'::regclass, 1, 'distance_orderable'), true,
          'the index orders by distance (<~>)');
SELECT is(pg_index_column_has_property('afp_tracks_fp_landmark_idx'::regclass, 1, 'orderable'), false,
          'the index has no order of its own');
SELECT is(pg_index_column_has_property('afp_tracks_fp_landmark_idx'::regclass, 1, 'search_nulls'), false,
          'the index does not search NULLs');
SELECT lives_ok($$SELECT * FROM afp_index_stats('afp_tracks_fp_landmark_idx')$$, 'afp_index_stats reads afp_tracks''s index');
SELECT is((SELECT missing + orphaned FROM afp_index_check('afp_tracks_fp_landmark_idx')), 0::bigint,
          'afp_tracks''s index is healthy');
SELECT is((SELECT rows FROM afp_index_stats(NULL)), NULL, 'afp_index_stats(NULL) is NULL');
SELECT is((SELECT rows FROM afp_index_check(NULL)), NULL, 'afp_index_check(NULL) is NULL');

-- Settings.
SELECT is(current_setting('afp.use_landmark_index'), 'on', 'afp.use_landmark_index defaults to on');
SELECT is(current_setting('afp.index_max_postings'), '50000', 'afp.index_max_postings defaults to 50000');
SELECT is(current_setting('afp.index_min_votes'), '3', 'afp.index_min_votes defaults to 3');
SELECT is(current_setting('afp.index_candidates'), '10', 'afp.index_candidates defaults to 10');
SELECT is(current_setting('afp.index_pending_limit'), '256kB', 'afp.index_pending_limit defaults to 256kB');
SELECT is((SELECT unit FROM pg_settings WHERE name = 'afp.index_pending_limit'), 'kB', 'afp.index_pending_limit is in kB');
SELECT is((SELECT array_agg(DISTINCT context) FROM pg_settings
           WHERE name IN ('afp.use_landmark_index', 'afp.index_max_postings', 'afp.index_min_votes', 'afp.index_candidates',
                          'afp.index_pending_limit')),
          ARRAY['user'], 'anyone may tune the index scan and the pending limit');
SELECT throws_ok($$SET afp.index_pending_limit = 63$$, '22023', NULL, 'afp.index_pending_limit below 64 kB: 22023');
SELECT throws_ok($$SET afp.index_max_postings = 999$$, '22023', NULL, 'afp.index_max_postings below 1000: 22023');
SELECT throws_ok($$SET afp.index_min_votes = 0$$, '22023', NULL, 'afp.index_min_votes below 1: 22023');
SELECT throws_ok($$SET afp.index_candidates = 10001$$, '22023', NULL, 'afp.index_candidates above 10000: 22023');

-- Errors.
CREATE TABLE lm_tap (id int PRIMARY KEY, title text, fp afp);
INSERT INTO lm_tap VALUES (1, 'a', '1:1:8000:128:8000:23341697@5,23341825@9,23341953@12,23342081@20'), (2, 'b', NULL);
CREATE INDEX lm_tap_fp_idx ON lm_tap USING afp_landmark (fp);
CREATE INDEX lm_tap_gin_idx ON lm_tap USING gin (fp);
SELECT throws_ok($$CREATE INDEX ON lm_tap USING afp_landmark (fp) WITH (fillfactor = 50)$$,
                 '22023', 'unrecognized parameter "fillfactor"', 'CREATE INDEX ... WITH (fillfactor): 22023');
SELECT throws_ok($$CREATE INDEX ON lm_tap USING afp_landmark (fp) WITH (dir_bits = 8)$$,
                 '22023', 'unrecognized parameter "dir_bits"', 'CREATE INDEX ... WITH (an unknown option): 22023');
SELECT throws_ok($$ALTER INDEX lm_tap_fp_idx SET (fillfactor = 50)$$,
                 '22023', 'unrecognized parameter "fillfactor"', 'ALTER INDEX ... SET (...): 22023');
SELECT throws_ok($$ALTER INDEX lm_tap_fp_idx SET (pending_limit = -5)$$,
                 '22023', NULL, 'pending_limit below -1: 22023');
SELECT throws_ok($$ALTER INDEX lm_tap_fp_idx SET (directory_bits = 24)$$,
                 '22023', NULL, 'directory_bits above 23: 22023');
SELECT lives_ok($$ALTER INDEX lm_tap_fp_idx SET (pending_limit = 128)$$, 'pending_limit = 128 kB is taken');
SELECT lives_ok($$ALTER INDEX lm_tap_fp_idx RESET (pending_limit)$$, 'pending_limit can be reset');
SELECT throws_ok($$SELECT afp_index_merge('lm_tap_pkey')$$,
                 '42809', 'index "lm_tap_pkey" is not an afp_landmark index', 'afp_index_merge on a btree index: 42809');
SELECT throws_ok($$SELECT afp_index_merge('lm_tap')$$,
                 '42809', '"lm_tap" is not an index', 'afp_index_merge on a table: 42809');
SELECT is(afp_index_merge('lm_tap_fp_idx'), 4::bigint, 'afp_index_merge returns the postings of the merged run');
SELECT is((SELECT runs || '/' || pending_postings FROM afp_index_stats('lm_tap_fp_idx')), '1/0',
          'after afp_index_merge: one run, nothing pending');
SELECT throws_ok($$SELECT * FROM afp_index_stats('lm_tap_pkey')$$,
                 '42809', 'index "lm_tap_pkey" is not an afp_landmark index', 'afp_index_stats on a btree index: 42809');
SELECT throws_ok($$SELECT * FROM afp_index_stats('lm_tap_gin_idx')$$,
                 '42809', 'index "lm_tap_gin_idx" is not an afp_landmark index', 'afp_index_stats on a GIN index: 42809');
SELECT throws_ok($$SELECT * FROM afp_index_stats('lm_tap')$$,
                 '42809', '"lm_tap" is not an index', 'afp_index_stats on a table: 42809');
SELECT throws_ok($$SELECT * FROM afp_index_check('lm_tap_pkey')$$,
                 '42809', 'index "lm_tap_pkey" is not an afp_landmark index', 'afp_index_check on a btree index: 42809');
SELECT throws_ok($$SELECT * FROM afp_index_check('lm_tap_gin_idx')$$,
                 '42809', 'index "lm_tap_gin_idx" is not an afp_landmark index', 'afp_index_check on a GIN index: 42809');
SELECT throws_ok($$SELECT * FROM afp_index_check('lm_tap')$$,
                 '42809', '"lm_tap" is not an index', 'afp_index_check on a table: 42809');
SELECT throws_ok($$INSERT INTO lm_tap VALUES (3, 'c', '1:1:8000:128:400000000:23341697@2097152')$$,
                 '54000', 'fingerprint is too long for afp_landmark index "lm_tap_fp_idx"',
                 'a landmark past frame 2^21 - 1, inserted: 54000');
SELECT lives_ok($$INSERT INTO lm_tap VALUES (4, 'd', '1:1:8000:128:400000000:23341697@2097151')$$,
                'a landmark at frame 2^21 - 1 fits');
CREATE TABLE lm_tap_long (id int, fp afp);
INSERT INTO lm_tap_long VALUES (1, '1:1:8000:128:400000000:23341697@2097152');
SELECT throws_ok($$CREATE INDEX ON lm_tap_long USING afp_landmark (fp)$$,
                 '54000', 'fingerprint is too long for afp_landmark index "lm_tap_long_fp_idx"',
                 'a landmark past frame 2^21 - 1, at build: 54000');
SELECT throws_ok($$CREATE INDEX ON lm_tap USING afp_landmark (fp, id)$$,
                 '0A000', NULL, 'a multicolumn afp_landmark index: 0A000');
SELECT throws_ok($$CREATE UNIQUE INDEX ON lm_tap USING afp_landmark (fp)$$,
                 '0A000', NULL, 'a unique afp_landmark index: 0A000');
SELECT throws_ok($$CREATE INDEX ON lm_tap USING afp_landmark (title)$$,
                 '42704', NULL, 'an afp_landmark index on text: 42704');
CREATE ROLE afp_tap_landmark_reader;
SET LOCAL ROLE afp_tap_landmark_reader;
SELECT throws_ok($$SELECT * FROM afp_index_check('lm_tap_fp_idx')$$,
                 '42501', 'permission denied for function afp_index_check', 'afp_index_check by a role not granted EXECUTE: 42501');
SELECT throws_ok($$SELECT * FROM afp_index_stats('lm_tap_fp_idx')$$,
                 '42501', 'permission denied for table lm_tap', 'afp_index_stats without SELECT on the table: 42501');
SELECT throws_ok($$SELECT afp_index_merge('lm_tap_fp_idx')$$,
                 '42501', 'permission denied for function afp_index_merge', 'afp_index_merge by a role not granted EXECUTE: 42501');
RESET ROLE;
GRANT EXECUTE ON FUNCTION afp_index_merge(regclass) TO afp_tap_landmark_reader;
GRANT SELECT, INSERT ON lm_tap TO afp_tap_landmark_reader;
SET LOCAL ROLE afp_tap_landmark_reader;
SELECT throws_ok($$SELECT afp_index_merge('lm_tap_fp_idx')$$,
                 '42501', 'must be owner of table lm_tap', 'afp_index_merge by a role that does not own the table: 42501');
RESET ROLE;
REVOKE SELECT, INSERT ON lm_tap FROM afp_tap_landmark_reader;
GRANT EXECUTE ON FUNCTION afp_index_check(regclass) TO afp_tap_landmark_reader;
SET LOCAL ROLE afp_tap_landmark_reader;
SELECT throws_ok($$SELECT * FROM afp_index_check('lm_tap_fp_idx')$$,
                 '42501', 'permission denied for table lm_tap', 'afp_index_check granted EXECUTE but without SELECT on the table: 42501');
RESET ROLE;
-- An index scan of the test table, healthy after all that.
SET LOCAL enable_seqscan = off;
SELECT results_eq($$SELECT id FROM lm_tap ORDER BY fp <~> '1:1:8000:128:8000:23341697@7,23341825@11,23341953@14'::afp LIMIT 1$$,
                  ARRAY[1], 'ORDER BY fp <~> q LIMIT 1 by the index finds the row');
SELECT is((SELECT missing + orphaned FROM afp_index_check('lm_tap_fp_idx')), 0::bigint, 'the test index is healthy');

SELECT * FROM finish();
ROLLBACK;
