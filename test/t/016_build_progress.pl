# CREATE INDEX ... USING afp_landmark says where it is: pg_stat_progress_create_index shows the
# build's own phases (ambuildphasename: collecting postings, sorting postings, writing run) in
# that order, the heap blocks scanned while collecting, and the postings written out of the total
# while writing. The test makes its own timing: the building backend is stopped (SIGSTOP) for each
# sample and let run a few milliseconds between samples, so every phase is seen however busy the
# machine is.
#
# Two things the server itself reports, on every major (15 to 19), that a sample can catch:
# - "building index: initializing": index_build() sets that sub-phase (the access method names it,
#   as nbtree does) before it calls the build, which then announces its own phases. It may show
#   first, before collecting postings, never after.
# - blocks_done of the heap scan's first block is blocks_total: the heap's progress report counts
#   the block the scan started on as a whole wrap around the table (its current block is not past
#   the start block), then 1, 2, ... from the second block on. Samples taken while the scan is on
#   its first block are left out of "never goes back"; none may show it once the count has started.
#   (The build publishes blocks_total with its collecting phase: 0 blocks done until the scan
#   begins.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use AfpTest;

my $node = AfpTest::node('progress');
my $db = 'postgres';
$node->safe_psql($db, q{
	CREATE TABLE big (id int PRIMARY KEY, fp afp);
	INSERT INTO big SELECT g, s.fp FROM generate_series(1, 12000) g JOIN songs s ON s.id = (g - 1) % 6 + 1;
	VACUUM ANALYZE big;
});
my $heap_blocks = $node->safe_psql($db, q{SELECT pg_relation_size('big') / current_setting('block_size')::int});

my $run = AfpTest::start_psql($node, $db,
	"SET maintenance_work_mem = '512MB';\nCREATE INDEX big_fp_idx ON big USING afp_landmark (fp);\n\\echo built\n");
my $sampler = $node->background_psql($db);
# A backend stopped while it updates its progress leaves the update half done, and a reader waits
# for it to finish (the status changecount protocol): the sampler's statement_timeout gives up,
# the backend is resumed, and the next sample is taken (under load this happened in a CI run).
$sampler->query_safe(q{SET statement_timeout = '2s'});
my $pid;
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
until (defined $pid || time > $deadline)
{
	my $p = $sampler->query_safe(q{SELECT pid FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX big_fp_idx%'});
	$pid = $p if $p =~ /^\d+$/;
}
ok(defined $pid, 'the building backend is found');

# Samples while the build runs: phase|blocks_total|blocks_done|tuples_total|tuples_done.
my @samples;
while (defined $pid && time < $deadline && $run->[0]->pumpable)
{
	kill 'STOP', $pid;
	my ($row, $failed) = $sampler->query(qq{SELECT phase, blocks_total, blocks_done, tuples_total, tuples_done
		FROM pg_stat_progress_create_index WHERE pid = $pid});
	kill 'CONT', $pid;
	if ($failed)
	{
		like($sampler->{stderr}, qr/statement timeout/, 'a sample that waited on a stopped update timed out')
		  or last;
		$sampler->{stderr} = '';
		usleep(3000);
		next;
	}
	last if $row eq '';
	push @samples, $row;
	usleep(3000);
}
my ($out, $err) = AfpTest::finish_psql($run);
like($out, qr/built/, 'the build completes') or diag $err;
$sampler->quit;
note scalar(@samples) . ' samples';

my @phases;
for (@samples)
{
	my ($phase) = split /\|/;
	push @phases, $phase unless @phases && $phases[-1] eq $phase;
}
note "phases in order: @phases";
my @own = grep { /^building index: / } @phases;
shift @own if @own && $own[0] eq 'building index: initializing';
is(join(', ', @own), 'building index: collecting postings, building index: sorting postings, building index: writing run',
	"the build's own phases are reported, in order, once each (after the server's initializing at most)");

my @collect = map { [ split /\|/ ] } grep { /^building index: collecting postings\|/ } @samples;
ok(@collect && !(grep { $_->[1] != $heap_blocks } @collect),
	"while collecting, blocks_total is the table's $heap_blocks blocks");
ok((grep { $_->[2] > 0 && $_->[2] < $_->[1] } @collect), 'blocks_done is seen part-way through the table');
# The scan's first block: after the samples of 0 blocks done (the scan not begun), a stretch of
# samples with blocks_done = blocks_total followed by a smaller count.
my ($begun, $counting) = (0, 0);
$begun++ while $begun < $#collect && $collect[$begun]->[2] == 0;
$counting = $begun;
$counting++ while $counting < $#collect && $collect[$counting]->[2] == $collect[$counting]->[1];
my @counted = @collect;
if ($counting > $begun && $collect[$counting]->[2] < $collect[$counting - 1]->[2])
{
	splice @counted, $begun, $counting - $begun;
	note("left out, taken on the scan's first block (blocks_done = blocks_total): " . ($counting - $begun) . ' samples');
}
ok(!(grep { $counted[$_]->[2] < $counted[$_ - 1]->[2] } 1 .. $#counted), 'blocks_done never goes back')
  or diag 'blocks_done while collecting: ' . join(' ', map { $_->[2] } @collect);

my @write = map { [ split /\|/ ] } grep { /^building index: writing run\|/ } @samples;
my $postings = $node->safe_psql($db, q{SELECT sum(afp_landmark_count(fp)) FROM big});
ok(@write && !(grep { $_->[3] != $postings } @write), "while writing, tuples_total is the $postings postings of the table");
ok((grep { $_->[4] > 0 && $_->[4] < $_->[3] } @write), 'tuples_done is seen part-way through the postings');
ok(!(grep { $write[$_]->[4] < $write[$_ - 1]->[4] } 1 .. $#write), 'tuples_done never goes back');
note scalar(@collect) . ' samples collecting, ' . scalar(grep { /sorting/ } @samples) . ' sorting, ' . scalar(@write)
  . ' writing (' . scalar(grep { $_->[4] == $_->[3] } @write) . ' of them with every posting written: the run\'s directory, the meta page and the WAL)';
is($node->safe_psql($db, q{SELECT rows FROM afp_index_stats('big_fp_idx')}), '12000', 'the index built holds every row');

done_testing();
