# A catalogue moved from a server of an older PostgreSQL major to one of this major: pg_dump on the
# older server restored with this major's pg_restore, this major's pg_dump of the older server
# restored the same way, and pg_upgrade of the older server's data directory. Each time the rows,
# the fingerprints byte for byte and the answers to the same clips (match_clip, and ORDER BY
# fp <~> q LIMIT 1 through the afp_landmark index and through a sequential scan) are the same.
#
# The older server is the installation whose pg_config AFP_OLD_PG_CONFIG names, with afp
# installed there (scripts/pg-versions test sets it to the system's PostgreSQL 15 when it tests a
# newer major); without it there is nothing to compare and the test is skipped.
use strict;
use warnings;

use Cwd;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use AfpTest;

my $old_config = $ENV{AFP_OLD_PG_CONFIG};
plan skip_all => 'no older PostgreSQL major to dump from (AFP_OLD_PG_CONFIG; scripts/pg-versions test sets it)'
  unless $old_config;
chomp(my $old_bindir = `$old_config --bindir`);
(my $old_install = $old_bindir) =~ s{/bin/?$}{};
die "AFP_OLD_PG_CONFIG=$old_config: no installation around $old_bindir" unless -x "$old_install/bin/pg_ctl";

my $db = 'postgres';
my $old = AfpTest::node('old', install_path => $old_install);
$old->safe_psql($db, q{
	INSERT INTO afp_tracks (title, fp, meta) SELECT title, fp, jsonb_build_object('n', id) FROM songs ORDER BY id;
	CREATE TABLE my_music (id int PRIMARY KEY, title text, fp afp COMPRESSION lz4 NOT NULL);
	INSERT INTO my_music SELECT id, title, fp FROM songs;
	INSERT INTO my_music SELECT 100 * k + id, 'distractor', distractor(fp, k) FROM songs, generate_series(1, 30) k;
	CREATE INDEX my_music_landmark ON my_music USING afp_landmark (fp);
	CREATE INDEX my_music_gin ON my_music USING gin (fp);
	CREATE TABLE probe_clips (name text PRIMARY KEY, audio bytea);
});
$old->safe_psql($db, "INSERT INTO probe_clips VALUES ('c1', " . AfpTest::sql_file('clip_song2_at_11.25s_snr5.mp3')
	. "), ('c2', " . AfpTest::sql_file('clip_song3_at_7.5s.wav') . "), ('c3', "
	. AfpTest::sql_file('clip_song1_at_12s.ogg') . "), ('u', " . AfpTest::sql_file('clip_unknown.wav') . ')');
# Rows inserted after the index was built sit in its pending postings: they must come across too.
$old->safe_psql($db, q{INSERT INTO my_music SELECT 1000 + k, 'late distractor', distractor(fp, k) FROM songs, generate_series(31, 35) k WHERE id = 1});

# Everything a user would see of the catalogue, as one string per item.
sub answers
{
	my ($node, $dbname) = @_;
	my %a;
	$a{match_clip} = $node->safe_psql($dbname, q{
		SELECT string_agg(p.name || ':' || m.track_id || ':' || round(m.offset_s::numeric, 2), ',' ORDER BY p.name, m.track_id)
		FROM probe_clips p, LATERAL (SELECT * FROM match_clip(p.audio) UNION ALL SELECT * FROM match_clip(p.audio, 'my_music')) m});
	for my $by_index (1, 0)
	{
		my $top = AfpTest::top_per_probe($node, $dbname, 'my_music', 'SELECT name, q FROM clips', $by_index);
		$a{ $by_index ? 'top by index' : 'top by seqscan' } = join(',', map { "$_=$top->{$_}" } sort keys %$top);
	}
	$a{fingerprints} = $node->safe_psql($dbname, q{
		SELECT count(*) || ' ' || md5(string_agg(id || title || afp_send(fp)::text, '' ORDER BY id)) FROM my_music});
	$a{tracks} = $node->safe_psql($dbname, q{
		SELECT string_agg(id || title || meta::text || md5(afp_send(fp)::text), ',' ORDER BY id) FROM afp_tracks});
	return \%a;
}

my $before = answers($old, $db);
like($before->{match_clip}, qr/^c1:2:.*c3:1:/, "the older server answers the clips ($before->{match_clip})");
is($before->{'top by index'}, $before->{'top by seqscan'}, 'the index and a sequential scan agree on the older server');

my $old_version = $old->safe_psql($db, 'SHOW server_version');
my $new = AfpTest::node('new', empty => 1);
my $new_version = $new->safe_psql($db, 'SHOW server_version');
cmp_ok($old->pg_version->major, '<', $new->pg_version->major, "from PostgreSQL $old_version to $new_version");

# 1. The older server's pg_dump, this major's pg_restore (the first on PATH).
my $dump_old = $old->basedir . '/old_pg_dump.dump';
command_ok([ "$old_bindir/pg_dump", '-Fc', '-d', $old->connstr($db), '-f', $dump_old ],
	"pg_dump $old_version of the catalogue");
$new->safe_psql($db, 'CREATE DATABASE from_old_dump');
command_ok([ 'pg_restore', '--exit-on-error', '-d', $new->connstr('from_old_dump'), $dump_old ],
	"pg_restore $new_version of that dump");
is_deeply(answers($new, 'from_old_dump'), $before, 'the restored catalogue answers the same clips the same way');
is(AfpTest::health($new, 'from_old_dump', 'my_music_landmark'), 'missing=0 orphaned=0',
	'the restored afp_landmark index is complete');

# This major's pg_dump reading the older server is what PostgreSQL's documentation recommends, and
# pg_upgrade runs it too. It cannot work when that pg_dump predates the older server's minor
# release: 15.20 keeps a pg_attver option on every column that earlier pg_dump releases of every
# major copy as a user's column option, which the newer server then refuses (a skew of minor
# releases, not of afp). Then steps 2 and 3 are skipped and say so.
my ($schema) = run_command([ 'pg_dump', '--schema-only', '-t', 'my_music', '-d', $old->connstr($db) ]);
my $skew = $schema =~ /pg_attver=/
  ? "pg_dump $new_version copies the pg_attver column options of $old_version as user options: "
  . 'it predates that minor release' : '';

SKIP:
{
	skip $skew, 3 if $skew;
	# 2. This major's pg_dump of the older server.
	my $dump_new = $new->basedir . '/new_pg_dump.dump';
	command_ok([ 'pg_dump', '-Fc', '-d', $old->connstr($db), '-f', $dump_new ], "pg_dump $new_version of the older server");
	$new->safe_psql($db, 'CREATE DATABASE from_new_dump');
	command_ok([ 'pg_restore', '--exit-on-error', '-d', $new->connstr('from_new_dump'), $dump_new ], 'pg_restore of that dump');
	is_deeply(answers($new, 'from_new_dump'), $before, 'that catalogue answers the same too');
}

SKIP:
{
	skip $skew, 4 if $skew;
	# 3. pg_upgrade of the older data directory, its index files copied as they are: the index
	#    pages' format is afp's own and does not depend on the major.
	my $upgraded = AfpTest::node('upgraded', empty => 1,
		init => { $new->pg_version >= 18 ? (no_data_checksums => 1) : () });    # 18 enables them by default
	$upgraded->stop;
	$old->stop;
	chomp(my $new_bindir = `pg_config --bindir`);
	my $cwd = getcwd();
	chdir $upgraded->basedir or die $!;
	command_ok(
		[ 'pg_upgrade', '--no-sync', '-d', $old->data_dir, '-D', $upgraded->data_dir, '-b', $old_bindir,
		  '-B', $new_bindir, '-s', $upgraded->host, '-p', $old->port, '-P', $upgraded->port ],
		"pg_upgrade from $old_version to $new_version");
	chdir $cwd or die $!;
	$upgraded->start;
	is_deeply(answers($upgraded, $db), $before, 'the upgraded server answers the same clips the same way');
	is(AfpTest::health($upgraded, $db, 'my_music_landmark'), 'missing=0 orphaned=0', 'the upgraded afp_landmark index is complete');
	$upgraded->safe_psql($db, q{INSERT INTO my_music SELECT 2000 + k, 'after upgrade', distractor(fp, k) FROM songs, generate_series(36, 38) k WHERE id = 2});
	is(AfpTest::health($upgraded, $db, 'my_music_landmark'), 'missing=0 orphaned=0', 'and takes new rows');
}

done_testing();
