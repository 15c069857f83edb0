# A VACUUM of a table with an afp_landmark index that is cancelled while it sweeps the index (it is
# slowed down by cost-based delay, then pg_cancel_backend), then run again to the end. Page changes
# in an index are not undone when the VACUUM's transaction aborts, so whatever order the index's
# bulk delete works in must leave it in a state the next VACUUM finishes: no posting of a deleted
# row may survive it. Were one to, the heap would free the row's line pointer, a new row would take
# it, and the stale postings would vote for the new row.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use AfpTest;

my $node = AfpTest::node('vacuum');
my $db = 'postgres';
$node->safe_psql($db, q{
	CREATE TABLE t (id int PRIMARY KEY, fp afp NOT NULL);
	INSERT INTO t SELECT g, distractor(s.fp, g) FROM generate_series(1, 600) g JOIN songs s ON s.id = g % 6 + 1;
	CREATE INDEX t_fp_idx ON t USING afp_landmark (fp);
	CREATE TABLE gone AS SELECT id, fp, ctid AS old_tid FROM t WHERE id % 2 = 0;
	DELETE FROM t WHERE id % 2 = 0;
});

# The slowed VACUUM, cancelled two seconds into its index phase (the primary key's few pages take
# a fraction of that; the afp_landmark index's sweep, a page per 10 ms or more, far longer).
my $vacuum = $node->background_psql($db, on_error_stop => 0);
my $pid = $vacuum->query_safe('SELECT pg_backend_pid()');
$vacuum->query_until(qr/started/, q{
	SET vacuum_cost_delay = '10ms';
	SET vacuum_cost_limit = 1;
	\echo started
	VACUUM t;
});
ok($node->poll_query_until($db,
		"SELECT phase = 'vacuuming indexes' FROM pg_stat_progress_vacuum WHERE pid = $pid"),
	'the slowed VACUUM reached its index phase');
sleep 2;
is($node->safe_psql($db, "SELECT phase FROM pg_stat_progress_vacuum WHERE pid = $pid"), 'vacuuming indexes',
	'two seconds later it is still vacuuming indexes');
$node->safe_psql($db, "SELECT pg_cancel_backend($pid)");
$node->poll_query_until($db, "SELECT count(*) = 0 FROM pg_stat_progress_vacuum WHERE pid = $pid");
$vacuum->quit;
like($node->safe_psql($db, q{SELECT packed_postings + pending_postings || ' postings, ' || runs || ' run' FROM afp_index_stats('t_fp_idx')}),
	qr/^\d+ postings, \d+ run$/, 'the cancelled VACUUM left the index readable');
is(AfpTest::health($node, $db, 't_fp_idx'), 'missing=0 orphaned=0',
	'after the cancelled VACUUM (a merge stopped between slices of the mix space) afp_index_check is clean');

# Inserts between the two reuse the pages the cancelled merge freed (it may have stopped between
# slices of the mix space, with its inputs' lower bounds raised): the next merge must not take
# their directories' stale entries below those bounds for pages of theirs.
$node->safe_psql($db, q{
	INSERT INTO t SELECT 3000 + g, distractor(s.fp, 3000 + g) FROM generate_series(1, 100) g JOIN songs s ON s.id = g % 6 + 1;
});

# VACUUM again, to the end: every posting of every deleted row goes.
$node->safe_psql($db, 'VACUUM t');
is(AfpTest::health($node, $db, 't_fp_idx'), 'missing=0 orphaned=0',
	'after a complete VACUUM afp_index_check reports 0 missing and 0 orphaned');
is($node->safe_psql($db,
		"SELECT rows, packed_postings + pending_postings = (SELECT sum(afp_landmark_count(fp)) FROM t) "
		  . "FROM afp_index_stats('t_fp_idx')"), "400|t",
	'the index lists the 400 rows left and holds their postings only');

# New rows take the freed line pointers; a slice of a deleted row must not bring one of them up.
$node->safe_psql($db, q{
	INSERT INTO t SELECT 1000 + g, distractor(s.fp, 1000 + g) FROM generate_series(1, 300) g JOIN songs s ON s.id = g % 6 + 1;
});
note $node->safe_psql($db, 'SELECT count(*) || \' new rows took line pointers of deleted rows\' FROM t JOIN gone ON t.ctid = gone.old_tid');
my $probes = 'SELECT id::text, afp_slice(fp, 5, 10) FROM gone WHERE id % 20 = 0';
my $top = AfpTest::top_per_probe($node, $db, 't', $probes, 1);
my @false_matches;
for my $id (sort { $a <=> $b } keys %$top)
{
	next if $top->{$id} eq '';
	my $score = $node->safe_psql($db,
		"SELECT -(t.fp <~> afp_slice(g.fp, 5, 10)) FROM t, gone g WHERE t.id = $top->{$id} AND g.id = $id");
	push @false_matches, "slice of deleted row $id -> row $top->{$id} (full vote $score)" if $score < 20;
}
is(join('; ', @false_matches), '', 'no slice of a deleted row makes the index put forward a row that does not contain it');
is(AfpTest::health($node, $db, 't_fp_idx'), 'missing=0 orphaned=0', 'the index is healthy with the new rows');

$node->stop('fast', fail_ok => 1);
done_testing();
