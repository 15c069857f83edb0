# A sharded catalogue (afp_shards over PL/Proxy): a coordinator and three shards hold the same
# tracks as one node, and every clip gets one node's answer from the coordinator, row for row
# (track, score, offset, confidence and every other column); a shard that is down is named in the
# error, within statement_timeout, or left out with a warning under afp.shard_allow_partial, and
# the coordinator answers in full again once it is back; ingest and removal are routed by id.
# A streaming standby of the one node answers for a track within a second of its commit.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use AfpTest;

my $db = 'postgres';
my @clip_files = (sort(keys %AfpTest::clips), 'clip_song3_tempo_1.05_at_6s.wav', 'clip_song3_pitch_up_1_at_6s.wav');

# One node: the fixture songs and 10 distractors of each (ids 1 .. 66), in afp_tracks.
my $single = AfpTest::node('single', allows_streaming => 1);
$single->safe_psql($db, q{
	INSERT INTO afp_tracks (id, title, fp) OVERRIDING SYSTEM VALUE
	SELECT id, title, fp FROM songs
	UNION ALL
	SELECT 6 + (s.id - 1) * 10 + k, 'distractor ' || s.id || '/' || k, distractor(s.fp, s.id * 100 + k)
	  FROM songs s, generate_series(1, 10) k;
});
my $standby = AfpTest::standby($single, 'standby');

# Three shards with the afp extension, and a coordinator with afp, plproxy and afp_shards.
my @shards = map { AfpTest::node("shard$_", empty => 1) } 1 .. 3;
$_->safe_psql($db, 'CREATE EXTENSION afp; SELECT afp_create_catalog()') for @shards;
my $coord = AfpTest::node('coordinator');
my $partitions = join(', ', map { sprintf("p%d '%s'", $_, $shards[$_]->connstr($db) =~ s/'//gr) } 0 .. $#shards);
$coord->safe_psql($db, qq{
	CREATE EXTENSION plproxy;
	CREATE EXTENSION afp_shards;
	CREATE SERVER afp_shards FOREIGN DATA WRAPPER plproxy OPTIONS (modular_mapping '1', $partitions);
	CREATE USER MAPPING FOR PUBLIC SERVER afp_shards;
});

# Ingest through the coordinator, with the one node's ids: each track goes to the shard its id routes to.
$coord->safe_psql($db, q{
	SELECT afp_shards.add_track(title, fp, NULL, id) FROM (
	  SELECT id, title, fp FROM songs
	  UNION ALL
	  SELECT 6 + (s.id - 1) * 10 + k, 'distractor ' || s.id || '/' || k, distractor(s.fp, s.id * 100 + k)
	    FROM songs s, generate_series(1, 10) k) t ORDER BY id;
	SELECT setval('afp_shards.track_ids', 66);
});
my @counts = map { $_->safe_psql($db, 'SELECT count(*) FROM afp_tracks') } @shards;
is(eval { my $s = 0; $s += $_ for @counts; $s }, 66, "66 tracks spread over 3 shards (@counts)");
ok(!(grep { $_ == 0 } @counts), 'every shard holds some tracks');
my $misrouted = 0;
for my $i (0 .. $#shards)
{
	my $ids = $shards[$i]->safe_psql($db, 'SELECT string_agg(id::text, \',\') FROM afp_tracks');
	$misrouted += $coord->safe_psql($db, "SELECT count(*) FROM unnest('{$ids}'::bigint[]) id WHERE afp_shards.shard_of(id) <> $i");
}
is($misrouted, 0, 'every track is on the shard afp_shards.shard_of names');

# The same directory on every index (that of the one node), built after the load, and fresh statistics.
for my $node ($single, @shards)
{
	$node->safe_psql($db, q{
		ALTER INDEX afp_tracks_fp_landmark_idx SET (directory_bits = 10);
		REINDEX INDEX afp_tracks_fp_landmark_idx;
		ANALYZE afp_tracks;
	});
}

my $columns = 'track_id, title, score, offset_s, confidence, matched_s, clip_start_s, clip_end_s, '
  . 'track_start_s, track_end_s, speed, tempo, pitch';
sub answers
{
	my ($node, $schema, $arg) = @_;
	return $node->safe_psql($db, "SET extra_float_digits = 3; SELECT $columns FROM $schema.match_clip($arg, max_results => 10)");
}

# Exactness: every clip, and every song's own fingerprint through match_afp.
sub exact
{
	my ($stage) = @_;
	my $same = 0;
	my $found = 0;
	for my $clip (@clip_files)
	{
		my $arg = AfpTest::sql_file($clip);
		my $one = answers($single, 'public', $arg);
		my $sharded = answers($coord, 'afp_shards', $arg);
		$found++ if $one ne '';
		if ($one eq $sharded) { $same++ }
		else { diag("$clip:\none node:\n$one\nshards:\n$sharded") }
	}
	for my $id (1 .. 6)
	{
		my $q = "SET extra_float_digits = 3; SELECT $columns FROM %s.match_afp((SELECT fp FROM afp_tracks WHERE id = $id), max_results => 10)";
		my $one = $single->safe_psql($db, sprintf($q, 'public'));
		my $sharded = $coord->safe_psql($db, sprintf($q =~ s/FROM afp_tracks/FROM songs/r, 'afp_shards'));
		$found++ if $one ne '';
		if ($one eq $sharded) { $same++ }
		else { diag("match_afp of track $id:\none node:\n$one\nshards:\n$sharded") }
	}
	is($same, @clip_files + 6, "$stage: the coordinator's answer equals one node's for every clip and fingerprint ($found of them found)");
	return;
}
exact('3 shards');
like(answers($coord, 'afp_shards', AfpTest::sql_file('clip_song3_tempo_1.05_at_6s.wav')), qr/^3\|song3\|/,
	'a tempo-changed clip is found through the renditions round');
is(answers($coord, 'afp_shards', AfpTest::sql_file('clip_unknown.wav')), '', 'a clip of no track matches nothing');

my ($rc, $out, $err) = $coord->psql($db, "SELECT * FROM afp_shards.match_clip(" . AfpTest::sql_file('clip_song1_at_12s.ogg') . ", 'songs')");
like($err, qr/a sharded match searches afp_tracks on the shards/, 'a catalogue other than afp_tracks is refused');

# Faults: shard p1 down.
$shards[1]->stop('immediate');
my $t0 = time;
($rc, $out, $err) = $coord->psql($db,
	"SET statement_timeout = '5s'; SELECT * FROM afp_shards.match_clip(" . AfpTest::sql_file('clip_song1_at_12s.ogg') . ")",
	extra_params => ['-v', 'VERBOSITY=verbose']);
my $elapsed = time - $t0;
like($err, qr/08006: shard p1 of cluster "afp_shards" failed/, 'a shard that is down: 08006 naming it');
like($err, qr/SET afp.shard_allow_partial = on/, '... with a hint');
cmp_ok($elapsed, '<', 5, sprintf('... within statement_timeout (%.2f s)', $elapsed));

($rc, $out, $err) = $coord->psql($db,
	"SET afp.shard_allow_partial = on; SELECT count(*) FROM afp_shards.match_clip(" . AfpTest::sql_file('clip_song1_at_12s.ogg') . ")");
like($err, qr/WARNING:  the answer is partial: 1 of 3 shards did not answer/, 'afp.shard_allow_partial: a warning says the answer is partial');
is($rc, 0, '... and the query succeeds');
my $holder = $coord->safe_psql($db, 'SELECT afp_shards.shard_of(1)');
is($out, $holder == 1 ? '0' : '1', "... with what the other shards hold (song1 is on p$holder)");

$shards[1]->start;
exact('shard p1 back');

# Removal is routed too, and the coordinator no longer names the track.
is($coord->safe_psql($db, 'SELECT afp_shards.remove_track(1)'), 't', 'remove_track(1) removes it from its shard');
is($coord->safe_psql($db, 'SELECT afp_shards.remove_track(1)'), 'f', '... once');
is($coord->safe_psql($db, "SELECT count(*) FROM afp_shards.match_clip(" . AfpTest::sql_file('clip_song1_at_12s.ogg') . ") WHERE track_id = 1"),
	'0', '... and match_clip no longer finds it');

# The standby answers for a track within a second of its commit on the one node.
$single->wait_for_catchup($standby, 'replay');
my $probe = "SELECT count(*) FROM match_afp((SELECT fp FROM songs WHERE id = 4)) WHERE track_id = 1004";
is($standby->safe_psql($db, $probe), '0', 'the standby does not know track 1004 yet');
$single->safe_psql($db, "INSERT INTO afp_tracks (id, title, fp) OVERRIDING SYSTEM VALUE SELECT 1004, 'song4 again', fp FROM songs WHERE id = 4");
my $committed = time;
my $seen;
for (1 .. 200)
{
	if ($standby->safe_psql($db, $probe) eq '1') { $seen = time - $committed; last }
	usleep(10_000);
}
ok(defined $seen && $seen < 1, sprintf('the standby matches a track %.3f s after its commit on the primary', $seen // -1));

done_testing();
