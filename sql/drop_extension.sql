-- A catalogue is the user's table, never a member of the extension (0.7.0): CREATE EXTENSION makes
-- none, afp_create_catalog() does; a plain DROP EXTENSION refuses while a table holds afp data;
-- the upgrade from 0.6.0 leaves afp_tracks a table of its own, with its rows.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS afp CASCADE;
DROP TABLE IF EXISTS afp_tracks, de_music;
RESET client_min_messages;

-- A fresh CREATE EXTENSION: no table, and the default catalogue says how to make one.
CREATE EXTENSION afp;
SELECT to_regclass('afp_tracks') IS NULL AS no_catalogue_yet, extconfig FROM pg_extension WHERE extname = 'afp';
SELECT * FROM match_afp('1:1:8000:128:8000:23341697@5');
SELECT afp_create_catalog();
SELECT afp_create_catalog();
SELECT afp_create_catalog('a.b.c');
SELECT afp_create_catalog('public.de_music');
-- Index names that fit in 63 bytes and are free: a catalogue sharing 62 characters with another,
-- and one of 30 two-byte characters (the names were cut by characters, and collided).
SELECT afp_create_catalog(repeat('a', 63)) IS NOT NULL AS made_63,
       afp_create_catalog(repeat('a', 62) || 'b') IS NOT NULL AS made_62_shared,
       afp_create_catalog(repeat('ü', 30)) IS NOT NULL AS made_multibyte;
SELECT a.amname, count(*) AS indexes, count(DISTINCT c.relname) AS names, bool_and(octet_length(c.relname) <= 63) AS fit
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
WHERE i.indrelid IN (repeat('a', 63)::regclass, (repeat('a', 62) || 'b')::regclass, quote_ident(repeat('ü', 30))::regclass)
GROUP BY 1 ORDER BY 1;
SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'afp_tracks'::regclass ORDER BY 1;
SELECT format('DROP TABLE %I, %I, %I', repeat('a', 63), repeat('a', 62) || 'b', repeat('ü', 30)) \gexec
SELECT c.relname, a.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
WHERE i.indrelid IN ('afp_tracks'::regclass, 'de_music'::regclass) ORDER BY 1;
SELECT attname, format_type(atttypid, atttypmod), attnotnull, attidentity FROM pg_attribute
WHERE attrelid = 'afp_tracks'::regclass AND attnum > 0 ORDER BY attnum;
SELECT count(*) AS extension_members FROM pg_depend
WHERE deptype = 'e' AND classid = 'pg_class'::regclass AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'afp');
INSERT INTO afp_tracks (title, fp) VALUES ('one', '1:1:8000:128:8000:23341697@5');
-- The default resolves to it now (a three-landmark query is too short to match).
SELECT track_id, title FROM match_afp('1:1:8000:128:8000:23341697@5,23341697@9,23348097@1');

-- A plain DROP EXTENSION refuses, as for any user table with an afp column; the owner drops a
-- catalogue like any table (no function of the extension depends on it).
DROP EXTENSION afp;
DROP TABLE de_music;
DROP TABLE afp_tracks;
DROP EXTENSION afp;

-- The upgrade from 0.6.0, where afp_tracks was a member (and a pg_extension_config_dump table).
CREATE EXTENSION afp VERSION '0.6.0';
INSERT INTO afp_tracks (title, fp) VALUES ('kept', '1:1:8000:128:8000:23341697@5');
GRANT SELECT ON afp_tracks TO PUBLIC;
SELECT count(*) AS members_in_0_6_0 FROM pg_depend
WHERE deptype = 'e' AND objid IN ('afp_tracks'::regclass, 'afp_tracks_id_seq'::regclass);
ALTER EXTENSION afp UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'afp';
SELECT count(*) AS members_in_0_7_0 FROM pg_depend
WHERE deptype = 'e' AND objid IN ('afp_tracks'::regclass, 'afp_tracks_id_seq'::regclass);
SELECT extconfig FROM pg_extension WHERE extname = 'afp';
SELECT id, title FROM afp_tracks;
SELECT has_table_privilege('public', 'afp_tracks', 'SELECT') AS grant_kept;
SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'afp_tracks'::regclass ORDER BY 1;
INSERT INTO afp_tracks (title, fp) VALUES ('after', '1:1:8000:128:8000:23341697@5') RETURNING id;
SELECT title FROM match_afp('1:1:8000:128:8000:23341697@5,23341697@9,23348097@1') ORDER BY track_id;
DROP EXTENSION afp;
DROP TABLE afp_tracks;
DROP EXTENSION afp;

-- Created at 0.6.0 and updated in one transaction, as CREATE EXTENSION does it: the empty table
-- of the install script goes; with a row in it, it stays, out of the extension.
BEGIN;
CREATE EXTENSION afp VERSION '0.6.0';
ALTER EXTENSION afp UPDATE;
SELECT to_regclass('afp_tracks') IS NULL AS dropped_when_empty, extconfig FROM pg_extension WHERE extname = 'afp';
ROLLBACK;
BEGIN;
CREATE EXTENSION afp VERSION '0.6.0';
INSERT INTO afp_tracks (title, fp) VALUES ('kept', '1:1:8000:128:8000:23341697@5');
ALTER EXTENSION afp UPDATE;
SELECT title, (SELECT count(*) FROM pg_depend WHERE deptype = 'e' AND objid = 'afp_tracks'::regclass) AS members FROM afp_tracks;
ROLLBACK;

-- A 0.6.0 catalogue its owner renamed and moved to another schema is still the extension's
-- member: the update takes it out by membership, not by name, so a plain DROP EXTENSION refuses
-- instead of dropping it with its rows.
CREATE EXTENSION afp VERSION '0.6.0';
CREATE SCHEMA music;
ALTER TABLE afp_tracks RENAME TO tracks;
ALTER TABLE tracks SET SCHEMA music;
INSERT INTO music.tracks (title, fp) VALUES ('renamed', '1:1:8000:128:8000:23341697@5');
ALTER EXTENSION afp UPDATE;
SELECT count(*) AS members_in_0_7_0 FROM pg_depend
WHERE deptype = 'e' AND classid = 'pg_class'::regclass AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'afp');
DROP EXTENSION afp;
SELECT title FROM music.tracks;
DROP SCHEMA music CASCADE;
DROP EXTENSION afp;

-- Back to what the other files expect.
CREATE EXTENSION afp;
SELECT afp_create_catalog() \gset
