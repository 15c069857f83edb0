# Merges of the afp_landmark index (0.6.0) under crashes and on a standby, and the index layout of
# 0.5.0 meeting 0.6.0:
#  - the whole server is killed with SIGKILL while VACUUM merges every run of a 600-row index
#    (slowed by cost-based delay), and while a stream of inserts merges its pending postings into
#    runs as it passes the pending limit; after recovery afp_index_check is clean, the index finds
#    what a sequential scan finds, the next merge frees the pages of the one that died, and a
#    streaming standby that followed it all answers the same;
#  - an index whose meta page says layout 1 is refused with 0A000 and a REINDEX hint, and
#    ALTER EXTENSION afp UPDATE from 0.5.0 rebuilds such indexes.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use AfpTest;

my $db = 'postgres';
# Without data checksums, which 18's initdb turns on by default: section 4 edits a page by hand.
my $node = AfpTest::node('merge', allows_streaming => 1, init => { no_data_checksums => 1 });
my $standby = AfpTest::standby($node, 'merge_standby');

sub start_psql { return AfpTest::start_psql($node, $db, @_); }

# ---------------------------------------------------------------------------------------------
# 1. SIGKILL while VACUUM merges the runs and pending postings (no row died: the cleanup pass's merge,
#    during which inserts may flush; VACUUM removing dead rows keeps flushes out, see landmark_merge_dead).
$node->safe_psql($db, q{
	CREATE TABLE t (id int PRIMARY KEY, fp afp NOT NULL);
	CREATE INDEX t_fp_idx ON t USING afp_landmark (fp) WITH (pending_limit = 64);
	INSERT INTO t SELECT g, distractor(s.fp, g) FROM generate_series(1, 600) g JOIN songs s ON s.id = g % 6 + 1;
});
my $runs_before = $node->safe_psql($db, "SELECT runs FROM afp_index_stats('t_fp_idx')");
cmp_ok($runs_before, '>=', 1, "600 rows inserted past a 64 kB pending limit went into runs ($runs_before)");
my $vacuum = start_psql("SET vacuum_cost_delay = '2ms';\nSET vacuum_cost_limit = 1;\nVACUUM t;\n\\echo vacuumed\n");
my $seen = $node->poll_query_until($db,
	"SELECT count(*) > 0 FROM pg_stat_progress_vacuum WHERE phase IN ('vacuuming indexes', 'cleaning up indexes')");
ok($seen, 'the slowed VACUUM reached the index');
# Inserts past the pending limit while VACUUM's merge holds the merge lock: they flush the pending
# postings into runs of their own instead of letting every scan read a growing pending chain.
$node->safe_psql($db, q{
	INSERT INTO t SELECT 5000 + g, distractor(s.fp, 5000 + g) FROM generate_series(1, 60) g JOIN songs s ON s.id = g % 6 + 1;
});
# Monitoring never waits for a merge: waiting for a lock autovacuum holds cancels autovacuum (and
# its merge with it), so afp_index_stats only tries the merge lock and reads the runs as scans do.
{
	my ($ret, $out, $err) = $node->psql($db,
		"SET lock_timeout = '2s'; SELECT rows > 0, largest_bucket IS NULL OR largest_bucket > 0 FROM afp_index_stats('t_fp_idx')");
	is($out, 't|t', 'afp_index_stats answers at once while VACUUM merges (no wait for the merge lock)')
	  or diag $err;
}
cmp_ok($node->safe_psql($db, "SELECT pending_postings * 12 FROM afp_index_stats('t_fp_idx')"), '<', 64 * 1024 + 20000,
	'inserts during the merge kept the pending postings near the limit (flushed into runs)');
ok($node->safe_psql($db, "SELECT count(*) > 0 FROM pg_stat_progress_vacuum WHERE relid = 't'::regclass"),
	'and the VACUUM was still running');
AfpTest::crash_server($node);
my ($vacuum_out) = AfpTest::finish_psql($vacuum);
unlike($vacuum_out, qr/vacuumed/, 'the server was killed before VACUUM finished');
$node->start;
is(AfpTest::health($node, $db, 't_fp_idx'), 'missing=0 orphaned=0', 'after the crash during a merge: healthy');
AfpTest::finds_every_row($node, $db, 'after the crash during a merge', 't', 'id % 20 = 1');
my $size_after_crash = $node->safe_psql($db, "SELECT pg_relation_size('t_fp_idx')");
$node->safe_psql($db, 'DELETE FROM t WHERE id % 3 = 0; VACUUM t');
is($node->safe_psql($db,
		"SELECT runs > 0, pending_postings, packed_postings = (SELECT sum(afp_landmark_count(fp)) FROM t) "
		  . "FROM afp_index_stats('t_fp_idx')"), 't|0|t',
	'VACUUM after the crash: runs of the live rows\' postings only, nothing pending');
is(AfpTest::health($node, $db, 't_fp_idx'), 'missing=0 orphaned=0', 'and healthy');
# The freed pages are reused: a second round of churn does not grow the file past the first's.
$node->safe_psql($db, q{
	INSERT INTO t SELECT 1000 + g, distractor(s.fp, 1000 + g) FROM generate_series(1, 200) g JOIN songs s ON s.id = g % 6 + 1;
	DELETE FROM t WHERE id > 1000;
	VACUUM t;
});
cmp_ok($node->safe_psql($db, "SELECT pg_relation_size('t_fp_idx')"), '<=', $size_after_crash * 1.25,
	'churn after the crash reuses the free pages (the file stays within 25% of its size after the crash)');

# ---------------------------------------------------------------------------------------------
# 2. SIGKILL during a stream of inserts, each past the pending limit now and then.
$node->safe_psql($db, q{
	CREATE TABLE s (id int PRIMARY KEY, fp afp NOT NULL);
	CREATE INDEX s_fp_idx ON s USING afp_landmark (fp) WITH (pending_limit = 64);
});
my $stream_sql = join('', map { "INSERT INTO s SELECT $_, distractor(fp, $_) FROM songs WHERE id = " . ($_ % 6 + 1) . ";\n\\echo $_\n" } 1 .. 400);
my $stream = start_psql($stream_sql);
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
while (time < $deadline)
{
	my $out = -e "$stream->[1].out" ? slurp_file("$stream->[1].out") : '';
	my @ids = $out =~ /^(\d+)$/mg;
	last if @ids >= 150;
	usleep(20_000);
}
AfpTest::crash_server($node);
my ($stream_out) = AfpTest::finish_psql($stream);
my @acked = $stream_out =~ /^(\d+)$/mg;
$node->start;
cmp_ok(scalar(@acked), '>=', 150, 'the stream was killed well into it (' . scalar(@acked) . ' rows acknowledged)');
my $present = $node->safe_psql($db, 'SELECT count(*) FROM s');
cmp_ok($present, '>=', scalar(@acked), 'every acknowledged row is there after recovery');
like($node->safe_psql($db, "SELECT runs || ' runs, ' || pending_postings || ' pending' FROM afp_index_stats('s_fp_idx')"),
	qr/^[1-9]\d* runs, \d+ pending$/, 'the stream\'s inserts had merged into runs');
is(AfpTest::health($node, $db, 's_fp_idx'), 'missing=0 orphaned=0', 'after the crash during the stream: healthy');
AfpTest::finds_every_row($node, $db, 'after the crash during the stream', 's', 'id % 10 = 3');

# ---------------------------------------------------------------------------------------------
# 3. The standby replayed it all: same stats (but the free space map, each server's own), same answers.
$node->wait_for_catchup($standby, 'replay');
for my $idx ('t_fp_idx', 's_fp_idx')
{
	my $stats = "SELECT rows, packed_postings, pending_postings, runs, pages FROM afp_index_stats('$idx')";
	is($standby->safe_psql($db, $stats), $node->safe_psql($db, $stats), "the standby's $idx has the primary's stats");
	is(AfpTest::health($standby, $db, $idx), 'missing=0 orphaned=0', "the standby's $idx is healthy");
}
my $probes = 'SELECT id::text, afp_slice(fp, 5, 10) FROM s WHERE id % 10 = 7';
is_deeply(AfpTest::top_per_probe($standby, $db, 's', $probes, 1), AfpTest::top_per_probe($node, $db, 's', $probes, 1),
	'the standby answers as the primary');

# ---------------------------------------------------------------------------------------------
# 4. An index of the 0.5.0 layout: its meta page says version 1 (byte 28 of block 0: after the
#    24-byte page header and the 4-byte magic number).
SKIP:
{
	skip 'data checksums would reject the edited page before the layout check', 6
	  if $node->safe_psql($db, 'SHOW data_checksums') eq 'on';
	$standby->stop;
	$node->safe_psql($db, q{
		CREATE DATABASE old;
	});
	$node->safe_psql('old', q{
		CREATE EXTENSION afp VERSION '0.5.0';
		CREATE TABLE old_t (id int PRIMARY KEY, fp afp);
		CREATE INDEX old_t_fp_idx ON old_t USING afp_landmark (fp);
		CHECKPOINT;
	});
	my $path = $node->data_dir . '/' . $node->safe_psql('old', "SELECT pg_relation_filepath('old_t_fp_idx')");
	my $track_path = $node->data_dir . '/' . $node->safe_psql('old', "SELECT pg_relation_filepath('afp_tracks_fp_landmark_idx')");
	$node->stop;
	for my $file ($path, $track_path)
	{
		open my $fh, '+<:raw', $file or die "$file: $!";
		seek $fh, 28, 0;
		print $fh pack('V', 1);
		close $fh;
	}
	$node->start;
	my ($ret, $stdout, $stderr) = $node->psql('old',
		qq{SET enable_seqscan = off;\n\\set VERBOSITY verbose\n} . q{SELECT id FROM old_t ORDER BY fp <~> '1:1:8000:128:8000:23341697@5'::afp LIMIT 1;});
	like($stderr, qr/0A000: afp_landmark index "old_t_fp_idx" has layout version 1, this build reads version 2/,
		'an index of layout 1 is refused with 0A000');
	like($stderr, qr/HINT:\s+REINDEX INDEX old_t_fp_idx;/, 'and a REINDEX hint');
	($ret, $stdout, $stderr) = $node->psql('old', q{INSERT INTO old_t VALUES (1, '1:1:8000:128:8000:23341697@5')});
	like($stderr, qr/layout version 1/, 'an insert into it is refused too, nothing written');
	$node->safe_psql('old', 'ALTER EXTENSION afp UPDATE');
	is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'afp'"), '0.7.0',
		'ALTER EXTENSION afp UPDATE goes to 0.7.0');
	$node->safe_psql('old', q{INSERT INTO old_t VALUES (1, '1:1:8000:128:8000:23341697@5,23341825@9,23341953@12')});
	is($node->safe_psql('old', "SELECT rows, runs + (pending_postings > 0)::int > 0 FROM afp_index_stats('old_t_fp_idx')"), '1|t',
		'the update rebuilt old_t\'s index in the new layout');
	is($node->safe_psql('old', "SELECT rows FROM afp_index_stats('afp_tracks_fp_landmark_idx')"), '0',
		'and afp_tracks\'s');
}

# ---------------------------------------------------------------------------------------------
# 4. A full merge gives the freed tail of the index back while scans keep coming: a session keeps
#    the index open ~94% of the time (a search and 40-60 ms more in each transaction, 3 ms between
#    them), so a single try at the lock truncation needs fails ~94% of the time (it did before
#    merges tried again for up to 5 s).
{
	$node->safe_psql($db, q{
		CREATE TABLE busy (id int PRIMARY KEY, fp afp NOT NULL);
		CREATE INDEX busy_fp_idx ON busy USING afp_landmark (fp) WITH (pending_limit = 64);
		INSERT INTO busy SELECT g, distractor(s.fp, g) FROM generate_series(1, 400) g JOIN songs s ON s.id = g % 6 + 1;
	});
	my $pages_before = $node->safe_psql($db, "SELECT pg_relation_size('busy_fp_idx') / 8192");
	my $search = "BEGIN;\nSELECT id FROM busy ORDER BY fp <~> (SELECT afp_slice(fp, 3, 8) FROM songs WHERE id = 2) LIMIT 1;\n"
	  . "SELECT pg_sleep(0.04 + random() * 0.02);\nCOMMIT;\nSELECT pg_sleep(0.003);\n";
	my @readers = (start_psql(AfpTest::plan_settings(1) . ($search x 2000)));
	$node->poll_query_until($db, "SELECT count(*) = 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'busy_fp_idx' AND l.pid <> pg_backend_pid()");
	$node->safe_psql($db, "SELECT afp_index_merge('busy_fp_idx')");
	my ($pages_after, $used) = split /\|/, $node->safe_psql($db,
		"SELECT pg_relation_size('busy_fp_idx') / 8192, pages - free_pages FROM afp_index_stats('busy_fp_idx')");
	my $still_searching = $readers[0]->[0]->pumpable ? 1 : 0;
	$_->[0]->kill_kill for @readers;
	is($still_searching, 1, 'the searching session was still at it when the merge ended');
	cmp_ok($pages_after, '<', $pages_before, "afp_index_merge among busy scans truncated the index ($pages_before -> $pages_after pages)");
	cmp_ok($pages_after - $used, '<=', $pages_after / 10, "at most a tenth of what is left is free pages ($used used of $pages_after)");
	is(AfpTest::health($node, $db, 'busy_fp_idx'), 'missing=0 orphaned=0', 'and the index is healthy');
}

# ---------------------------------------------------------------------------------------------
# 5. Loads with merges between them leave the index the size a build gives it: a full merge writes
#    its first slices past the end when free pages run short, and the inputs' pages it frees come
#    after them, in the middle (a slice's worth, a tenth of the index at 1,000 h, stayed free for
#    good); and row pages a load appended near the end held truncation back. The merge now moves
#    the chains' pages down and copies the last run into the free pages before it.
{
	$node->safe_psql($db, q{
		CREATE TABLE compact (id int PRIMARY KEY, fp afp NOT NULL);
		CREATE INDEX compact_fp_idx ON compact USING afp_landmark (fp) WITH (pending_limit = 64);
	});
	for my $batch (0 .. 5)
	{
		my ($lo, $hi) = ($batch * 150 + 1, $batch * 150 + 150);
		$node->safe_psql($db, "INSERT INTO compact SELECT g, distractor(s.fp, g) FROM generate_series($lo, $hi) g JOIN songs s ON s.id = g % 6 + 1");
		$node->safe_psql($db, 'VACUUM compact') if $batch % 2 == 1;
	}
	$node->safe_psql($db, "INSERT INTO compact SELECT 1000, fp FROM songs WHERE id = 1");
	$node->safe_psql($db, 'VACUUM compact');
	my ($merged, $free, $runs) = split /\|/, $node->safe_psql($db,
		"SELECT pg_relation_size('compact_fp_idx') / 8192, free_pages, runs FROM afp_index_stats('compact_fp_idx')");
	is(AfpTest::health($node, $db, 'compact_fp_idx'), 'missing=0 orphaned=0', 'the loaded and merged index is healthy');
	AfpTest::finds_every_row($node, $db, 'loaded and merged', 'compact', 'id % 50 = 0');
	$node->safe_psql($db, 'REINDEX INDEX compact_fp_idx');
	my $built = $node->safe_psql($db, "SELECT pg_relation_size('compact_fp_idx') / 8192");
	cmp_ok($free, "<=", int($merged * 0.05) + 1, "after loads and VACUUMs at most 5% of the index is free pages (a slice was 12%) ($free of $merged)");
	# Each run of a merge's slices has its own directory, map and last, part-filled page: up to 3 pages.
	cmp_ok($merged, '<=', int($built * 1.03) + 3 * $runs,
		"and it is within 3% of a fresh build's size, beside its runs' own pages ($merged pages in $runs runs; built $built)");
}

$node->stop('fast', fail_ok => 1);
$standby->stop('fast', fail_ok => 1);
done_testing();
