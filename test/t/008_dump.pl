# pg_dump and pg_restore of a database using afp, between two throwaway nodes: afp_tracks (a table
# of the user's, made by afp_create_catalog(), which a plain DROP EXTENSION does not take) comes
# back with its rows, ids, identity sequence and indexes, restored after CREATE EXTENSION without
# a clash, a user catalogue with lz4-compressed fingerprints comes
# back byte for byte, and match_clip answers the same on both.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use AfpTest;

my $db = 'postgres';
my $source = AfpTest::node('dump_source');
$source->safe_psql($db, q{
	INSERT INTO afp_tracks (title, fp, meta) SELECT title, fp, CASE WHEN id = 1 THEN '{"n": 1}'::jsonb END
	  FROM songs WHERE id <= 3 ORDER BY id;
	CREATE TABLE my_music (id int PRIMARY KEY, title text, fp afp COMPRESSION lz4);
	INSERT INTO my_music SELECT id * 10, title, fp FROM songs WHERE id IN (4, 5);
	CREATE INDEX ON my_music USING gin (fp);
	CREATE TABLE probe_clips (name text, audio bytea);
});
$source->safe_psql($db, "INSERT INTO probe_clips VALUES ('c1', " . AfpTest::sql_file('clip_song2_at_11.25s_snr5.mp3')
	. "), ('c2', " . AfpTest::sql_file('clip_song3_at_7.5s.wav') . "), ('s5', " . AfpTest::sql_file('song5.opus') . ')');
my $answers = q{SELECT string_agg(p.name || ':' || m.track_id || ':' || round(m.offset_s::numeric, 2), ',' ORDER BY p.name, m.track_id)
                FROM probe_clips p, LATERAL (SELECT * FROM match_clip(p.audio) UNION ALL SELECT * FROM match_clip(p.audio, 'my_music')) m};
my $before = $source->safe_psql($db, $answers);
is($source->safe_psql($db, q{SELECT count(*) FROM pg_depend WHERE deptype = 'e' AND objid = 'afp_tracks'::regclass}), '0',
	'afp_tracks is a table of the user, not a member of the extension');
my ($drop_rc, $drop_out, $drop_err) = $source->psql($db, 'DROP EXTENSION afp');
ok($drop_rc != 0 && $drop_err =~ /cannot drop extension afp because other objects depend on it/
	  && $drop_err =~ /column fp of table afp_tracks depends on type afp/,
	'a plain DROP EXTENSION afp refuses while afp_tracks holds tracks');
is($source->safe_psql($db, 'SELECT count(*) FROM afp_tracks'), '3', '... and the tracks are still there');

my $target = AfpTest::node('dump_target', empty => 1);
my $dump = $source->basedir . '/afp.dump';
command_ok([ 'pg_dump', '-Fc', '-d', $source->connstr($db), '-f', $dump ], 'pg_dump of a database using afp succeeds');
command_ok([ 'pg_restore', '-d', $target->connstr($db), $dump ], 'pg_restore into an empty database succeeds');
is($target->safe_psql($db, q{SELECT string_agg(id || title, ',' ORDER BY id) FROM afp_tracks}), '1song1,2song2,3song3',
	'afp_tracks rows and their ids come back');
is($target->safe_psql($db, q{INSERT INTO afp_tracks (title, fp) SELECT 'x', fp FROM afp_tracks LIMIT 1 RETURNING id}), '4',
	'the identity sequence continues after the restored ids');
$target->safe_psql($db, 'DELETE FROM afp_tracks WHERE id = 4');
is($target->safe_psql($db, q{SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_index i
	JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'afp_tracks'::regclass}),
	'afp_tracks_fp_idx,afp_tracks_fp_landmark_idx,afp_tracks_pkey', 'afp_tracks comes back with its indexes');
my $after = $target->safe_psql($db, $answers);
ok($before ne '' && $before eq $after, "match_clip answers are the same after the restore ($before)");
my $digest = q{SELECT md5(string_agg(afp_send(fp)::text, '' ORDER BY id)) FROM my_music};
is($target->safe_psql($db, $digest), $source->safe_psql($db, $digest), 'the fingerprints are byte for byte the same');

# A database whose afp_tracks was made by the extension (0.6.0, a member then) and left it on the
# update: dumped and restored like any table, its rows and identity with it.
$source->safe_psql('postgres', 'CREATE DATABASE upgraded');
$source->safe_psql('upgraded', q{CREATE EXTENSION afp VERSION '0.6.0'});
$source->safe_psql('upgraded', 'INSERT INTO afp_tracks (title, fp) SELECT title, fp FROM (VALUES (1)) v, LATERAL (SELECT '
	  . "'up' || n AS title, fingerprint(" . AfpTest::sql_file('song1.wav') . ') AS fp FROM generate_series(1, 2) n) x');
$source->safe_psql('upgraded', 'ALTER EXTENSION afp UPDATE');
my $up_dump = $source->basedir . '/upgraded.dump';
command_ok([ 'pg_dump', '-Fc', '-d', $source->connstr('upgraded'), '-f', $up_dump ], 'pg_dump of a database updated from 0.6.0');
$target->safe_psql('postgres', 'CREATE DATABASE upgraded');
command_ok([ 'pg_restore', '-d', $target->connstr('upgraded'), $up_dump ], '... restores without a clash');
is($target->safe_psql('upgraded', q{SELECT string_agg(id || title, ',' ORDER BY id) FROM afp_tracks}), '1up1,2up2',
	'... with the rows afp_tracks had when it was a member of the extension');
is($target->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'afp'}), '0.7.0',
	'... and afp at 0.7.0');

done_testing();
