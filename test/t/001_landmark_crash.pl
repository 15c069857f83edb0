# Crash safety of the afp_landmark index: the whole server is killed with SIGKILL (postmaster
# and every backend at once) during CREATE INDEX, early and late in the build and while a parallel
# build's workers scan the table, and during a stream
# of single-row inserts into an indexed table (with a checkpoint in the middle and a session holding
# uncommitted rows); an unlogged table's index goes through an immediate shutdown. After crash
# recovery: the interrupted build left no index and building it again works; every committed row is
# there and is what ORDER BY fp <~> finds for a slice of it; afp_index_check reports 0 missing and
# 0 orphaned, before and after VACUUM and REINDEX; the unlogged index is empty and usable.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use AfpTest;

my $node = AfpTest::node('crash');
my $db = 'postgres';

sub start_psql { return AfpTest::start_psql($node, $db, @_); }
sub finish_psql { return AfpTest::finish_psql(@_); }

# ---------------------------------------------------------------------------------------------
# 1. SIGKILL during CREATE INDEX ... USING afp_landmark.
$node->safe_psql($db, q{
	CREATE TABLE big (id int PRIMARY KEY, fp afp);
	INSERT INTO big SELECT g, s.fp FROM generate_series(1, 12000) g JOIN songs s ON s.id = (g - 1) % 6 + 1;
});
my $build_sql = "SET maintenance_work_mem = '512MB';\nCREATE INDEX big_fp_idx ON big USING afp_landmark (fp);\n\\echo built\n";

# A full build first, for the size of the finished index. The kills are aimed by the size of the
# new index's file, which grows page by page while the build writes (the meta page is allocated
# first, the rest once the heap scan is done): early (only the meta page: the heap scan), in the
# middle (half the pages written) and late (every page allocated: the meta page, WAL-logging every
# page, and the commit are left). The test makes its own timing: the building backend is stopped
# (SIGSTOP) the moment its file reaches the mark, before the server is killed, so however busy the
# machine, the build cannot run on while the crash is being prepared (listing the server's
# processes takes a fork); the table (12,000 rows, a ~45 MB index) leaves the second half of the
# writing far longer than the few system calls between seeing the mark and stopping the backend.
$node->safe_psql($db, $build_sql);
my $final_bytes = $node->safe_psql($db, "SELECT bytes FROM afp_index_stats('big_fp_idx')");
$node->safe_psql($db, 'DROP INDEX big_fp_idx; CHECKPOINT');
my $dbdir = $node->data_dir . '/base/' . $node->safe_psql($db, 'SELECT oid FROM pg_database WHERE datname = current_database()');

sub relation_files
{
	opendir my $dh, $dbdir or die "$dbdir: $!";
	my @files = grep { /^\d+$/ } readdir $dh;
	closedir $dh;
	return @files;
}

for my $when ([ 'early', 1 ], [ 'in the middle', int($final_bytes / 2) ], [ 'late', $final_bytes ])
{
	my ($label, $trigger) = @$when;
	my %before = map { $_ => 1 } relation_files();
	my $run = start_psql($build_sql);
	my ($file, $size, $pid) = (undef, 0, undef);
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline && $run->[0]->pumpable)
	{
		($file) = grep { !$before{$_} } relation_files() unless defined $file;
		$size = -s "$dbdir/$file" // 0 if defined $file;
		if ($size >= $trigger && defined $pid)
		{
			kill 'STOP', $pid;
			$size = -s "$dbdir/$file" // 0;
			last;
		}
		if (!defined $pid)
		{
			my $p = $node->safe_psql($db, q{SELECT pid FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX big_fp_idx%'});
			$pid = $p if $p =~ /^\d+$/;
		}
		usleep(1000);
	}
	note "$label: the building backend " . (defined $pid ? "($pid) was stopped" : 'was not found');
	AfpTest::crash_server($node);
	my ($out, $err) = finish_psql($run);
	note "$label: killed with the new index file at $size of $final_bytes bytes";
	$node->start;
	if ($out =~ /built/)
	{
		# The commit won the race: then the index must be there, valid and healthy.
		ok($label eq 'late', "$label in the build: CREATE INDEX returned before the kill only when aimed late");
		is(AfpTest::health($node, $db, 'big_fp_idx'), 'missing=0 orphaned=0',
			"$label in the build: committed just before the crash, the index is healthy after recovery");
		$node->safe_psql($db, 'DROP INDEX big_fp_idx');
	}
	else
	{
		cmp_ok($size, '>=', $trigger, "$label in the build: the server was killed while CREATE INDEX ran");
		is($node->safe_psql($db, "SELECT count(*) FROM pg_class WHERE relname = 'big_fp_idx'"), '0',
			"$label in the build: after recovery the interrupted index does not exist");
	}
	is($node->safe_psql($db, 'SELECT count(*) FROM big'), '12000', "$label in the build: the table is whole");
}

# A parallel build (the table asks for two workers) killed while its workers scan the table: no
# index after recovery either, and the serial build below works.
{
	$node->safe_psql($db, 'ALTER TABLE big SET (parallel_workers = 2)');
	my $run = start_psql("SET maintenance_work_mem = '512MB';\nSET max_parallel_maintenance_workers = 2;\n"
		  . "CREATE INDEX big_fp_idx ON big USING afp_landmark (fp);\n\\echo built\n");
	my $workers = $node->poll_query_until($db, "SELECT count(*) > 0 FROM pg_stat_activity "
		  . "WHERE backend_type = 'parallel worker' AND query LIKE 'CREATE INDEX big_fp_idx%'");
	ok($workers, 'the parallel build ran with workers');
	AfpTest::crash_server($node);
	my ($out) = finish_psql($run);
	$node->start;
	unlike($out, qr/built/, 'the parallel build was killed before it committed');
	is($node->safe_psql($db, "SELECT count(*) FROM pg_class WHERE relname = 'big_fp_idx'"), '0',
		'after recovery the interrupted parallel build left no index');
	$node->safe_psql($db, 'ALTER TABLE big RESET (parallel_workers)');
}

$node->safe_psql($db, $build_sql);
is($node->safe_psql($db, "SELECT indisvalid AND indisready FROM pg_index WHERE indexrelid = 'big_fp_idx'::regclass"),
	't', 'the index builds again after the crashes');
is(AfpTest::health($node, $db, 'big_fp_idx'), 'missing=0 orphaned=0', 'the rebuilt index is healthy');
# Duplicated songs: the top row must hold the song the slice was cut from.
my $top = AfpTest::top_per_probe($node, $db, 'big', 'SELECT id::text, afp_slice(fp, 4, 9) FROM songs', 1);
for my $song (1 .. 6)
{
	my $id = $top->{$song} || 'NULL';
	is($node->safe_psql($db, "SELECT (SELECT fp::text FROM big WHERE id = $id) IS NOT DISTINCT FROM (SELECT fp::text FROM songs WHERE id = $song)"),
		't', "the rebuilt index finds a copy of song $song for a slice of it");
}
$node->safe_psql($db, 'DROP TABLE big');

# ---------------------------------------------------------------------------------------------
# 2. SIGKILL during a stream of inserts into an indexed table.
$node->safe_psql($db, q{
	CREATE TABLE stream (id int PRIMARY KEY, fp afp NOT NULL);
	INSERT INTO stream SELECT id, fp FROM songs;
	CREATE INDEX stream_fp_idx ON stream USING afp_landmark (fp);
	CREATE UNLOGGED TABLE ul (id int PRIMARY KEY, fp afp NOT NULL);
	INSERT INTO ul SELECT id, fp FROM songs WHERE id <= 3;
	CREATE INDEX ul_fp_idx ON ul USING afp_landmark (fp);
	INSERT INTO ul SELECT id, fp FROM songs WHERE id > 3;
});
# A session that inserts rows and never commits them.
my $holder = $node->background_psql($db, on_error_stop => 0);
$holder->query_safe(q{BEGIN;
	INSERT INTO stream SELECT 100000 + s.id, distractor(s.fp, 100000 + s.id) FROM songs s WHERE s.id <= 3;});
# The stream: one row per transaction, each a distinct distractor; psql prints the id once the row is
# committed (the server commits before it reports the command complete). A checkpoint after the
# 30th row makes recovery start in the middle of the stream.
my $stream_sql = join('', map {
	"INSERT INTO stream SELECT $_, distractor(fp, $_) FROM songs WHERE id = " . (($_ - 1) % 6 + 1) . " RETURNING id;\n"
	  . ($_ == 36 ? "CHECKPOINT;\n" : '')
} 7 .. 5000);
my $run = start_psql($stream_sql);
$node->poll_query_until($db, 'SELECT count(*) >= 100 FROM stream') or die 'the stream did not start';
AfpTest::crash_server($node);
my ($out, $err) = finish_psql($run);
eval { $holder->quit };
$node->start;

my @seen = grep { /^\d+$/ } split /\n/, $out;
my @present = split /\n/, $node->safe_psql($db, 'SELECT id FROM stream WHERE id BETWEEN 7 AND 99999 ORDER BY id');
note scalar(@seen) . ' rows acknowledged before the crash, ' . scalar(@present) . ' present after recovery';
cmp_ok(scalar(@seen), '>=', 80, 'the stream was killed well into it');
my %present = map { $_ => 1 } @present;
is(scalar(grep { !$present{$_} } @seen), 0, 'every acknowledged row is there after recovery');
is_deeply(\@present, [ 7 .. 6 + scalar(@present) ], 'the rows present are the stream\'s first ones, without a gap');
cmp_ok(scalar(@present) - scalar(@seen), '<=', 1, 'at most the row in flight is beyond the acknowledged ones');
is($node->safe_psql($db, 'SELECT count(*) FROM stream WHERE id >= 100000'), '0', 'no uncommitted row is there');

my $rows = 6 + scalar(@present);
is(AfpTest::check_index($node, $db, 'stream_fp_idx') =~ s/ \d+ / /r, "$rows 0 0",
	"after recovery afp_index_check sees the $rows rows, 0 missing, 0 orphaned");
is($node->safe_psql($db, "SELECT rows >= $rows FROM afp_index_stats('stream_fp_idx')"), 't',
	'the index lists every committed row (and the uncommitted ones until VACUUM)');

# Every committed row is found by ORDER BY fp <~> for a slice of it, by the index and by a seqscan.
sub found_rows
{
	my ($stage, @ids) = @_;
	my $probes = 'SELECT id::text, afp_slice(fp, 6, 11) FROM stream WHERE id IN (' . join(',', @ids) . ')';
	my $by_index = AfpTest::top_per_probe($node, $db, 'stream', $probes, 1);
	my $by_scan = AfpTest::top_per_probe($node, $db, 'stream', $probes, 0);
	is(join(' ', grep { ($by_index->{$_} // '') ne $_ } @ids), '',
		"$stage: ORDER BY fp <~> a slice of each of " . scalar(@ids) . " rows finds that row by the index");
	is(join(' ', grep { ($by_scan->{$_} // '') ne $_ } @ids), '', "$stage: and by a sequential scan");
	return;
}
found_rows('after recovery', 1 .. 6, @present);

# The uncommitted rows' postings are there until VACUUM; then they are removed.
$node->safe_psql($db, 'VACUUM stream');
is(AfpTest::health($node, $db, 'stream_fp_idx'), 'missing=0 orphaned=0', 'healthy after VACUUM');
is($node->safe_psql($db,
		"SELECT rows, packed_postings + pending_postings = (SELECT sum(afp_landmark_count(fp)) FROM stream) "
		  . "FROM afp_index_stats('stream_fp_idx')"), "$rows|t",
	'VACUUM removed the postings of the rows that never committed (the index holds the committed rows\' only)');
# Inserts go on after recovery.
$node->safe_psql($db, 'INSERT INTO stream SELECT 90000 + id, distractor(fp, 90000 + id) FROM songs');
is(AfpTest::health($node, $db, 'stream_fp_idx'), 'missing=0 orphaned=0', 'healthy after more inserts');
found_rows('after more inserts', map { 90000 + $_ } 1 .. 6);
$node->safe_psql($db, 'REINDEX INDEX stream_fp_idx');
is(AfpTest::health($node, $db, 'stream_fp_idx'), 'missing=0 orphaned=0', 'healthy after REINDEX');
found_rows('after REINDEX', 1 .. 6, @present[0 .. 9], @present[-5 .. -1], map { 90000 + $_ } 1 .. 6);

# ---------------------------------------------------------------------------------------------
# 3. The unlogged table: emptied by crash recovery (its index from the init fork), then usable.
is($node->safe_psql($db, 'SELECT count(*) FROM ul'), '0', 'after the crash the unlogged table is empty');
is($node->safe_psql($db, "SELECT rows, packed_postings, pending_postings FROM afp_index_stats('ul_fp_idx')"), '0|0|0',
	'and its index is the empty one of the init fork');
is(AfpTest::health($node, $db, 'ul_fp_idx'), 'missing=0 orphaned=0', 'the reset unlogged index is healthy');
is(AfpTest::top_ids($node, $db, 'ul', "SELECT q FROM clips WHERE expect_id = 1", 3, 1), '', 'and answers nothing');
$node->safe_psql($db, 'INSERT INTO ul SELECT id, fp FROM songs');
for my $song (1 .. 6)
{
	is(AfpTest::top_ids($node, $db, 'ul', "SELECT afp_slice(fp, 3, 8) FROM songs WHERE id = $song", 1, 1), $song,
		"refilled after the crash, the unlogged index finds song $song");
}
is(AfpTest::health($node, $db, 'ul_fp_idx'), 'missing=0 orphaned=0', 'the refilled unlogged index is healthy');
# An immediate shutdown (no checkpoint) resets it again.
$node->stop('immediate');
$node->start;
is($node->safe_psql($db, "SELECT count(*), (SELECT rows FROM afp_index_stats('ul_fp_idx')) FROM ul"), '0|0',
	'after an immediate shutdown the unlogged table and its index are empty again');
$node->safe_psql($db, 'INSERT INTO ul SELECT id, fp FROM songs WHERE id = 2');
is(AfpTest::top_ids($node, $db, 'ul', "SELECT afp_slice(fp, 3, 8) FROM songs WHERE id = 2", 1, 1), '2',
	'and usable');
is(AfpTest::health($node, $db, 'stream_fp_idx'), 'missing=0 orphaned=0', 'the logged index is still healthy');

$node->stop('fast', fail_ok => 1);
done_testing();
