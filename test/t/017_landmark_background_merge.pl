# The afp_landmark index merges itself in the background (afp.index_background_merge, 0.7.0): with
# autovacuum off and nobody running VACUUM, a load leaves runs and pending postings, and the worker
# an insert starts brings the index to the shape a full merge gives it (no pending postings, runs
# that tile the mix space), answering as before; with the setting off no worker starts; a worker
# keeps out of a VACUUM's way and of a dropped table's; a crash during its merge leaves a healthy
# index; a standby follows.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use AfpTest;

my $db = 'postgres';
my $node = AfpTest::node('bgmerge', allows_streaming => 1, conf => ['afp.index_background_merge = on']);
my $standby = AfpTest::standby($node, 'bgmerge_standby');

my $workers = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'afp_landmark merge'";
# The shape a full merge leaves: nothing pending and runs of the mix space's slices (several) or one run.
my $merged = "SELECT pending_postings = 0 AND ($workers) = 0 FROM afp_index_stats('%s')";

sub load
{
	my ($table, $from, $to, $settings) = @_;
	$node->safe_psql($db, ($settings // '')
		  . "INSERT INTO $table SELECT g, distractor(s.fp, g) FROM generate_series($from, $to) g JOIN songs s ON s.id = g % 6 + 1");
}

# ---------------------------------------------------------------------------------------------
# 1. A load with no VACUUM: the index merges itself once the inserts stop.
$node->safe_psql($db, q{
	CREATE TABLE t (id int PRIMARY KEY, fp afp NOT NULL);
	CREATE INDEX t_fp_idx ON t USING afp_landmark (fp) WITH (pending_limit = 64);
});
load('t', 1, 200, 'SET afp.index_background_merge = off; ');
my ($runs_off, $pending_off) = split /\|/, $node->safe_psql($db, "SELECT runs, pending_postings FROM afp_index_stats('t_fp_idx')");
sleep 3;
is($node->safe_psql($db, $workers), '0', 'with afp.index_background_merge off, inserts start no merge worker');
is($node->safe_psql($db, "SELECT runs || '|' || pending_postings FROM afp_index_stats('t_fp_idx')"), "$runs_off|$pending_off",
	"and the index stays as the inserts left it ($runs_off runs, $pending_off pending postings)");
cmp_ok($runs_off, '>', 1, 'which is several runs');
for my $batch (0 .. 3)
{
	load('t', 201 + $batch * 100, 300 + $batch * 100);
}
ok($node->poll_query_until($db, sprintf($merged, 't_fp_idx')),
	'with it on (the default), the load\'s inserts started a worker that merged the index and exited');
my ($runs_on, $pending_on, $rows) = split /\|/, $node->safe_psql($db, "SELECT runs, pending_postings, rows FROM afp_index_stats('t_fp_idx')");
is("$pending_on|$rows", '0|600', "nothing pending and every row indexed ($runs_on runs)");
my $log = slurp_file($node->logfile);
like($log, qr/./, 'the server log was read');
unlike($log, qr/afp_landmark merge.*(ERROR|FATAL)|terminated by signal/, 'the worker logged no error');
is(AfpTest::health($node, $db, 't_fp_idx'), 'missing=0 orphaned=0', 'the index is healthy');
AfpTest::finds_every_row($node, $db, 'merged in the background', 't', 'id % 40 = 0');

# ---------------------------------------------------------------------------------------------
# 2. A VACUUM holding the table: a worker started meanwhile leaves at once (VACUUM merges).
$node->safe_psql($db, q{
	CREATE TABLE v (id int PRIMARY KEY, fp afp NOT NULL);
	CREATE INDEX v_fp_idx ON v USING afp_landmark (fp) WITH (pending_limit = 64);
});
load('v', 1, 100, 'SET afp.index_background_merge = off; ');
my $holder = AfpTest::start_psql($node, $db, "BEGIN;\nLOCK TABLE v IN SHARE UPDATE EXCLUSIVE MODE;\n\\echo locked\nSELECT pg_sleep(4);\nCOMMIT;\n\\echo released\n");
$node->poll_query_until($db, "SELECT count(*) = 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'v' AND l.mode = 'ShareUpdateExclusiveLock'");
load('v', 101, 300);
ok($node->poll_query_until($db, "SELECT ($workers) = 0"), 'a worker started while the table was held left without waiting');
my $pending_held = $node->safe_psql($db, "SELECT pending_postings > 0 OR runs > 1 FROM afp_index_stats('v_fp_idx')");
is($pending_held, 't', 'and left the index to whoever held the table');
$holder->[0]->finish;

# ---------------------------------------------------------------------------------------------
# 3. DROP TABLE while the worker merges: the drop waits for the merge's lock, the worker leaves.
$node->safe_psql($db, q{
	CREATE TABLE d (id int PRIMARY KEY, fp afp NOT NULL);
	CREATE INDEX d_fp_idx ON d USING afp_landmark (fp) WITH (pending_limit = 64);
});
load('d', 1, 400);
$node->safe_psql($db, 'DROP TABLE d');
ok($node->poll_query_until($db, "SELECT ($workers) = 0"), 'after DROP TABLE no worker is left');
is($node->safe_psql($db, "SELECT count(*) FROM pg_class WHERE relname LIKE 'd_fp%'"), '0', 'and the index is gone');

# ---------------------------------------------------------------------------------------------
# 4. SIGKILL of the server while a worker merges: recovery leaves a healthy index, and the next
#    load's worker merges it (and frees the pages of the merge that died).
$node->safe_psql($db, q{
	CREATE TABLE k (id int PRIMARY KEY, fp afp NOT NULL);
	CREATE INDEX k_fp_idx ON k USING afp_landmark (fp) WITH (pending_limit = 64);
});
load('k', 1, 300, 'SET afp.index_background_merge = off; ');
# The worker's merge slowed as VACUUM's would be: it honours the cost-based delay of its database.
$node->safe_psql($db, "ALTER DATABASE $db SET vacuum_cost_delay = '2ms'");
$node->safe_psql($db, "ALTER DATABASE $db SET vacuum_cost_limit = 1");
load('k', 301, 400);
my $caught = $node->poll_query_until($db, "SELECT ($workers) > 0");
ok($caught, 'a worker is merging');
AfpTest::crash_server($node);
$node->start;
$node->safe_psql($db, "ALTER DATABASE $db RESET vacuum_cost_delay");
$node->safe_psql($db, "ALTER DATABASE $db RESET vacuum_cost_limit");
is(AfpTest::health($node, $db, 'k_fp_idx'), 'missing=0 orphaned=0', 'after the crash the index is healthy');
load('k', 401, 500);
ok($node->poll_query_until($db, sprintf($merged, 'k_fp_idx')), 'the next load\'s worker merged it');
is(AfpTest::health($node, $db, 'k_fp_idx'), 'missing=0 orphaned=0', 'and it is healthy');
AfpTest::finds_every_row($node, $db, 'merged after a crash', 'k', 'id % 50 = 0');

# ---------------------------------------------------------------------------------------------
# 5. The standby followed every merge.
$node->wait_for_catchup($standby);
is($standby->safe_psql($db, "SELECT count(*) FROM t WHERE id IN (SELECT id FROM t ORDER BY fp <~> (SELECT afp_slice(fp, 5, 10) FROM t WHERE id = 240) LIMIT 1)"),
	'1', 'the standby answers from the merged index');
is($standby->safe_psql($db, "SELECT rows FROM afp_index_stats('t_fp_idx')"), '600', 'and lists every row');

$node->stop('fast', fail_ok => 1);
$standby->stop('fast', fail_ok => 1);
done_testing();
