# pg_dump and pg_restore of a database using afp, between two throwaway nodes: afp_tracks' rows,
# ids and identity sequence come back, a user catalogue with lz4-compressed fingerprints comes
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

my $target = AfpTest::node('dump_target', empty => 1);
my $dump = $source->basedir . '/afp.dump';
command_ok([ 'pg_dump', '-Fc', '-d', $source->connstr($db), '-f', $dump ], 'pg_dump of a database using afp succeeds');
command_ok([ 'pg_restore', '-d', $target->connstr($db), $dump ], 'pg_restore into an empty database succeeds');
is($target->safe_psql($db, q{SELECT string_agg(id || title, ',' ORDER BY id) FROM afp_tracks}), '1song1,2song2,3song3',
	'afp_tracks rows and their ids come back');
is($target->safe_psql($db, q{INSERT INTO afp_tracks (title, fp) SELECT 'x', fp FROM afp_tracks LIMIT 1 RETURNING id}), '4',
	'the identity sequence continues after the restored ids');
$target->safe_psql($db, 'DELETE FROM afp_tracks WHERE id = 4');
my $after = $target->safe_psql($db, $answers);
ok($before ne '' && $before eq $after, "match_clip answers are the same after the restore ($before)");
my $digest = q{SELECT md5(string_agg(afp_send(fp)::text, '' ORDER BY id)) FROM my_music};
is($target->safe_psql($db, $digest), $source->safe_psql($db, $digest), 'the fingerprints are byte for byte the same');

done_testing();
