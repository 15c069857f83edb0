-- Signatures and labels of everything the extension installs.
BEGIN;
SELECT plan(167);
-- Settings are registered when the library loads; load it as a first call would.
LOAD 'afp';

SELECT has_extension('afp');
SELECT has_type('afp');
SELECT is((SELECT trusted FROM pg_available_extension_versions WHERE name = 'afp' AND version = '0.1.0'),
          false, 'afp is not a trusted extension');
SELECT is((SELECT relocatable FROM pg_available_extension_versions WHERE name = 'afp' AND version = '0.1.0'),
          false, 'afp is not relocatable (its C code looks objects up in its own schema)');

-- Every function: return type, volatility, strictness and parallel label.
CREATE TEMP TABLE expected_labels (sig regprocedure, returns text, volatility text, strict bool, parallel "char");
INSERT INTO expected_labels VALUES
  ('afp_in(cstring)',                'afp',              'i', true, 's'),
  ('afp_out(afp)',                   'cstring',          'i', true, 's'),
  ('afp_recv(internal)',             'afp',              'i', true, 's'),
  ('afp_send(afp)',                  'bytea',            'i', true, 's'),
  ('fingerprint(bytea)',             'afp',              'i', true, 's'),
  ('afp_duration(afp)',              'double precision', 'i', true, 's'),
  ('afp_landmark_count(afp)',        'integer',          'i', true, 's'),
  ('afp_param_set(afp)',             'integer',          'i', true, 's'),
  ('afp_hashes(afp)',                'integer[]',        'i', true, 's'),
  ('afp_landmarks(afp)',             'record',           'i', true, 's'),
  ('afp_shared_hashes(afp, afp)',    'integer',          'i', true, 's'),
  ('afp_overlaps(afp, afp)',         'boolean',          'i', true, 's'),
  ('afp_shares(afp, afp)',           'boolean',          's', true, 's'),
  ('match_afp(afp, regclass, int)',  'record',           's', true, 'r'),
  ('match_clip(bytea, regclass, int)', 'record',         's', true, 'r'),
  ('afp_slice(afp, float8, float8)', 'afp',              'i', true, 's'),
  ('afp_catalog_column(regclass)',   'name',             's', true, 's'),
  ('afp_catalog_stats(regclass)',    'record',           's', true, 'r'),
  ('match_segments(bytea, regclass, float8, float8)', 'record', 's', true, 'r'),
  ('afp_shard_estimates(afp[], int)', 'record',         's', true, 'r'),
  ('afp_shard_rank(afp[], bigint[], int[], int[])', 'record', 's', true, 'r'),
  ('afp_shard_vote(afp, bigint[], float8[], float8[], float8[])', 'record', 's', true, 'r'),
  ('afp_shard_protocol()',           'integer',          's', true, 's'),
  ('afp_shard_insert(bigint, text, afp, jsonb)', 'bigint', 'v', false, 'u'),
  ('afp_shard_delete(bigint)',       'bigint',           'v', false, 'u'),
  ('afp_catalog_columns(regclass)',  'record',           's', true, 's'),
  ('afp_default_catalog()',          'regclass',         's', false, 's'),
  ('afp_create_catalog(text)',       'regclass',         'v', true, 'u'),
  ('afp_shared_audio(afp, regclass, float8, float8)', 'record', 's', true, 'r'),
  ('afp_duplicates(regclass, float8)', 'record',        's', true, 'r');

SELECT is(format_type(p.prorettype, NULL), e.returns, e.sig::text || ' returns ' || e.returns)
FROM expected_labels e JOIN pg_proc p ON p.oid = e.sig ORDER BY e.sig::text;
SELECT is(p.provolatile::text, e.volatility, e.sig::text || ' volatility')
FROM expected_labels e JOIN pg_proc p ON p.oid = e.sig ORDER BY e.sig::text;
SELECT is(p.proisstrict, e.strict, e.sig::text || ' is strict')
FROM expected_labels e JOIN pg_proc p ON p.oid = e.sig ORDER BY e.sig::text;
SELECT is(p.proparallel, e.parallel, e.sig::text || ' parallel label')
FROM expected_labels e JOIN pg_proc p ON p.oid = e.sig ORDER BY e.sig::text;

-- Result columns of the recognition functions.
SELECT is(
  (SELECT array_agg(a ORDER BY n) FROM pg_proc p, unnest(p.proargnames, p.proargmodes) WITH ORDINALITY u(a, m, n)
   WHERE p.oid = 'match_clip(bytea, regclass, int)'::regprocedure AND m = 'o'),
  ARRAY['track_id', 'title', 'score', 'offset_s', 'confidence', 'matched_s', 'clip_start_s', 'clip_end_s',
        'track_start_s', 'track_end_s', 'speed', 'tempo', 'pitch']::text[],
  'match_clip returns track_id, title, score, offset_s, confidence, the matched time ranges, the speed, tempo and pitch');
SELECT is(
  (SELECT pg_get_function_arguments(oid) FROM pg_proc WHERE oid = 'match_clip(bytea, regclass, int)'::regprocedure),
  'clip bytea, catalog regclass DEFAULT afp_default_catalog(), max_results integer DEFAULT 5, OUT track_id bigint, OUT title text, OUT score integer, OUT offset_s double precision, OUT confidence real, OUT matched_s double precision, OUT clip_start_s double precision, OUT clip_end_s double precision, OUT track_start_s double precision, OUT track_end_s double precision, OUT speed double precision, OUT tempo double precision, OUT pitch double precision',
  'match_clip(clip, catalog DEFAULT afp_tracks, max_results DEFAULT 5): one function, no ambiguous overloads');
SELECT is((SELECT count(*) FROM pg_proc WHERE proname = 'match_clip'), 1::bigint, 'match_clip has a single signature');
-- What a shard answers a coordinator's full votes with (src/pg/shardprotocol.h, protocol 2).
SELECT is(
  (SELECT array_agg(a ORDER BY n) FROM pg_proc p, unnest(p.proargnames, p.proargmodes) WITH ORDINALITY u(a, m, n)
   WHERE p.oid = 'afp_shard_vote(afp, bigint[], float8[], float8[], float8[])'::regprocedure AND m = 'o'),
  ARRAY['item', 'id', 'title', 'score', 'anchors', 'aligned_pairs', 'total_pairs', 'offset_frames',
        'clip_first_frame', 'clip_last_frame', 'log_chance', 'drift_pairs']::text[],
  'afp_shard_vote returns a vote field for field, drift_pairs last');
SELECT is(afp_shard_protocol(), 2, 'this afp speaks shard protocol 2');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'afp'), '0.7.0', 'CREATE EXTENSION installs 0.7.0');
SELECT is((SELECT trusted FROM pg_available_extension_versions WHERE name = 'afp' AND version = '0.7.0'),
          false, 'afp 0.7.0 is not a trusted extension either');

-- The afp_landmark index's directory size option (0 sizes each run from its postings).
CREATE TEMP TABLE dir_bits_t (fp afp);
SELECT throws_ok('CREATE INDEX ON dir_bits_t USING afp_landmark (fp) WITH (directory_bits = 2)', '22023',
                 'directory_bits must be 0 or between 4 and 23', 'directory_bits below 4 is refused (22023)');
SELECT lives_ok('CREATE INDEX ON dir_bits_t USING afp_landmark (fp) WITH (directory_bits = 12)',
                'directory_bits = 12 is accepted');
-- Functions in SQL or PL/pgSQL run with a pinned search_path, so a caller's schemas cannot
-- substitute objects (C functions look objects up in the extension's schema themselves).
SELECT is(array_agg(p.oid::regprocedure::text), NULL, 'every SQL and PL/pgSQL function of afp pins search_path')
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
     JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'afp'
     JOIN pg_language l ON l.oid = p.prolang
WHERE l.lanname IN ('sql', 'plpgsql')
  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');
SELECT ok(
  (SELECT pg_get_function_identity_arguments(oid) FROM pg_proc WHERE oid = 'match_afp(afp, regclass, int)'::regprocedure)
    LIKE 'query afp, catalog regclass, max_results integer, OUT track_id bigint%',
  'match_afp(query, catalog, max_results) returns the columns of match_clip');
SELECT ok((SELECT pg_get_function_arguments(oid) FROM pg_proc WHERE oid = 'match_afp(afp, regclass, int)'::regprocedure)
          LIKE '%catalog regclass DEFAULT afp_default_catalog()%', 'match_afp searches afp_tracks by default');

-- Operators and the GIN operator class.
SELECT has_operator('afp', '&&', 'afp', 'boolean');
SELECT has_operator('afp', '%', 'afp', 'boolean');
SELECT has_opclass('afp_ops');
SELECT is((SELECT opcdefault FROM pg_opclass WHERE opcname = 'afp_ops'), true, 'afp_ops is the default opclass for afp');
SELECT is((SELECT amname FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod WHERE opcname = 'afp_ops'),
          'gin', 'afp_ops is a GIN operator class');
SELECT is((SELECT format_type(opckeytype, NULL) FROM pg_opclass WHERE opcname = 'afp_ops'), 'integer',
          'afp_ops stores int4 keys');
SELECT is((SELECT array_agg(amprocnum ORDER BY amprocnum) FROM pg_amproc p JOIN pg_opclass c ON c.opcfamily = p.amprocfamily
           WHERE c.opcname = 'afp_ops'), ARRAY[1, 2, 3, 4, 6]::int2[],
          'afp_ops has compare, extractValue, extractQuery, consistent and triConsistent');

-- The catalogue table, as afp_create_catalog() makes it (the test database's setup calls it).
SELECT has_table('afp_tracks');
SELECT columns_are('afp_tracks', ARRAY['id', 'title', 'fp', 'meta', 'added_at']);
SELECT col_type_is('afp_tracks', 'id', 'bigint');
SELECT col_is_pk('afp_tracks', 'id');
SELECT is((SELECT attidentity FROM pg_attribute WHERE attrelid = 'afp_tracks'::regclass AND attname = 'id'), 'a',
          'afp_tracks.id is GENERATED ALWAYS AS IDENTITY');
SELECT col_type_is('afp_tracks', 'title', 'text');
SELECT col_type_is('afp_tracks', 'fp', 'afp');
SELECT col_not_null('afp_tracks', 'fp');
SELECT col_type_is('afp_tracks', 'meta', 'jsonb');
SELECT col_type_is('afp_tracks', 'added_at', 'timestamp with time zone');
SELECT col_has_default('afp_tracks', 'added_at');
SELECT has_index('afp_tracks', 'afp_tracks_fp_idx', 'fp');
SELECT index_is_type('afp_tracks', 'afp_tracks_fp_idx', 'gin');
SELECT is((SELECT count(*) FROM pg_depend WHERE deptype = 'e' AND classid = 'pg_class'::regclass
            AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'afp')), 0::bigint,
          'no table or sequence is a member of the extension: a catalogue is the user''s (pg_dump dumps it as a table)');
SELECT is((SELECT extconfig FROM pg_extension WHERE extname = 'afp'), NULL, 'the extension lists no configuration tables');
SELECT throws_ok('DROP EXTENSION afp', '2BP01', 'cannot drop extension afp because other objects depend on it',
                 'a plain DROP EXTENSION afp refuses while a catalogue exists');

-- Settings.
SELECT is(current_setting('afp.max_audio_seconds'), '1h', 'afp.max_audio_seconds defaults to one hour');
SELECT is(current_setting('afp.max_audio_bytes'), '256MB', 'afp.max_audio_bytes defaults to 256 MB');
SELECT is(current_setting('afp.min_shared_hashes'), '5', 'afp.min_shared_hashes defaults to 5');
SELECT is(current_setting('afp.max_speed_change'), '0.05', 'afp.max_speed_change defaults to 5%');
SELECT is((SELECT context FROM pg_settings WHERE name = 'afp.max_speed_change'), 'user',
          'anyone may narrow or widen the speed search');
SELECT is(current_setting('afp.min_confidence'), '0.5', 'afp.min_confidence defaults to 0.5');
SELECT is((SELECT context FROM pg_settings WHERE name = 'afp.max_audio_seconds'), 'superuser',
          'only a superuser raises the duration cap');
SELECT is((SELECT context FROM pg_settings WHERE name = 'afp.max_audio_bytes'), 'superuser',
          'only a superuser raises the size cap');

SELECT * FROM finish();
ROLLBACK;
