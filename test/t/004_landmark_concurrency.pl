# The afp_landmark index under concurrent use: while one session streams single-row inserts,
# another deletes and vacuums, others scan ORDER BY fp <~> q and run afp_index_check. A healthy
# index must stay healthy in the checker's eyes at every moment (it reports what the snapshot it
# takes sees: a row committed before it must have its postings, a posting must belong to a row),
# scans must keep finding the fixture songs, and at the end the index must agree with the table.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use AfpTest;

my $node = AfpTest::node('concurrency');
my $db = 'postgres';
$node->safe_psql($db, q{
	CREATE TABLE t (id int PRIMARY KEY, fp afp NOT NULL);
	INSERT INTO t SELECT id, fp FROM songs;
	CREATE INDEX t_fp_idx ON t USING afp_landmark (fp);
});
my $tmp = PostgreSQL::Test::Utils::tempdir;

# Runs a psql script in the background (output to files, nothing to pump).
sub background
{
	my ($name, $script) = @_;
	open my $fh, '>', "$tmp/$name.sql" or die $!;
	print $fh $script;
	close $fh;
	return IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), '-f', "$tmp/$name.sql" ],
		'<', '/dev/null', '>', "$tmp/$name.out", '2>', "$tmp/$name.err");
}

# While $h runs: afp_index_check and a scan for each fixture clip, again and again.
sub watch
{
	my ($stage, @handles) = @_;
	my ($rounds, @alarms, @wrong) = (0);
	my $clip_sql = AfpTest::plan_settings(1) . q{
		SELECT string_agg(c.name || '=' || coalesce((SELECT t.id::text FROM t ORDER BY t.fp <~> c.q LIMIT 1), ''), ' '
		                  ORDER BY c.name)
		FROM clips c WHERE c.expect_id IS NOT NULL};
	my $want = join(' ', map { "$_=$AfpTest::clips{$_}" } grep { defined $AfpTest::clips{$_} } sort keys %AfpTest::clips);
	while (grep { $_->pumpable } @handles)
	{
		$rounds++;
		my $check = $node->safe_psql($db, "SELECT missing, orphaned FROM afp_index_check('t_fp_idx')");
		push @alarms, "round $rounds: missing|orphaned = $check" if $check ne '0|0';
		my $got = $node->safe_psql($db, $clip_sql);
		push @wrong, "round $rounds: $got" if $got ne $want;
	}
	$_->finish for @handles;
	note "$stage: $rounds rounds";
	cmp_ok($rounds, '>=', 1, "$stage: the index was checked and scanned while it changed");
	is(join('; ', @alarms), '', "$stage: afp_index_check never reported a missing or orphaned posting");
	is(join('; ', @wrong), '', "$stage: ORDER BY fp <~> q found each fixture clip's song every time");
	return;
}

# 1. Inserts: one row per transaction, distinct distractors.
my $inserts = background('inserts', join('', map {
	"INSERT INTO t SELECT $_, distractor(fp, $_) FROM songs WHERE id = " . ($_ % 6 + 1) . ";\n"
} 7 .. 1206));
watch('during inserts', $inserts);
is(slurp_file("$tmp/inserts.err"), '', 'the inserts ran without error');
is(AfpTest::health($node, $db, 't_fp_idx'), 'missing=0 orphaned=0', 'after the inserts the index is healthy');

# 2. Deletes and VACUUM in one session while another inserts.
my $vacuums = background('vacuums', join('', map {
	my $lo = 7 + 40 * $_;
	"DELETE FROM t WHERE id BETWEEN $lo AND " . ($lo + 19) . ";\nVACUUM t;\n"
} 0 .. 29));
my $more = background('more', join('', map {
	"INSERT INTO t SELECT $_, distractor(fp, $_) FROM songs WHERE id = " . ($_ % 6 + 1) . ";\n"
} 2001 .. 2600));
watch('during DELETE, VACUUM and inserts', $vacuums, $more);
is(slurp_file("$tmp/vacuums.err") . slurp_file("$tmp/more.err"), '', 'the deletes, vacuums and inserts ran without error');
is(AfpTest::health($node, $db, 't_fp_idx'), 'missing=0 orphaned=0', 'after them the index is healthy');
is($node->safe_psql($db, "SELECT rows = (SELECT count(*) FROM t) FROM afp_index_stats('t_fp_idx')"), 't',
	'after a last VACUUM the index counts the table\'s rows')
  if $node->safe_psql($db, 'VACUUM t') eq '';

# Rows found after all that, by the index and by a sequential scan.
my $probes = 'SELECT id::text, afp_slice(fp, 6, 11) FROM t WHERE id % 37 = 0';
my $by_index = AfpTest::top_per_probe($node, $db, 't', $probes, 1);
my $by_scan = AfpTest::top_per_probe($node, $db, 't', $probes, 0);
is(join(' ', grep { $by_index->{$_} ne $_ } sort keys %$by_index), '',
	'a slice of each of ' . scalar(keys %$by_index) . ' rows finds its row by the index');
is(join(' ', grep { $by_scan->{$_} ne $_ } sort keys %$by_scan), '', 'and by a sequential scan');

# 3. The checker alone, many times a second, on a table of tiny rows (three landmarks each) that
#    two sessions fill one row per transaction while a third deletes and vacuums: each check must
#    report 0 missing and 0 orphaned, whatever commits or VACUUM does around it.
$node->safe_psql($db, q{
	CREATE TABLE tiny (id int PRIMARY KEY, fp afp NOT NULL);
	CREATE INDEX tiny_fp_idx ON tiny USING afp_landmark (fp);
});
sub tiny_row
{
	my ($id) = @_;
	# Three hashes of its own: parameter set 1 in the top byte, then f1 | df + 128 | dt, each a
	# value the analysis can produce (f1 144..368, df + 128 1..255, dt 1..63: the target bin stays in 16..496).
	my @h = map {
		my $j = 3 * $id + $_;
		16777216 + ((144 + int($j / 16065)) << 15) + ((1 + int($j / 63) % 255) << 7) + 1 + $j % 63
	} 0 .. 2;
	return "($id, '1:1:8000:128:8000:$h[0]\@1,$h[1]\@2,$h[2]\@3')";
}
my @streams = map {
	my $s = $_;
	background("tiny$s", join('', map { 'INSERT INTO tiny VALUES ' . tiny_row(100000 * $s + $_) . ";\n" } 1 .. 6000))
} 1 .. 2;
push @streams, background('tinyvac', join('', map {
	"SELECT pg_sleep(0.05);\nDELETE FROM tiny WHERE id IN (SELECT id FROM tiny ORDER BY random() LIMIT 50);\nVACUUM tiny;\n"
} 1 .. 100));
my ($checks, @alarms) = (0);
my $batch = join('', map { "SELECT missing || '|' || orphaned FROM afp_index_check('tiny_fp_idx');\n" } 1 .. 20);
while (grep { $_->pumpable } @streams[0, 1])
{
	for my $r (split /\n/, $node->safe_psql($db, $batch))
	{
		$checks++;
		push @alarms, "check $checks: missing|orphaned = $r" if $r ne '0|0';
	}
}
$_->kill_kill for grep { $_->pumpable } @streams;
$_->finish for @streams;
note "$checks checks of the tiny table while it changed, " . scalar(@alarms) . ' alarms';
cmp_ok($checks, '>=', 40, 'the tiny table was checked again and again while it changed');
is(join('; ', @alarms[0 .. ($#alarms < 9 ? $#alarms : 9)]), '',
	'afp_index_check never reported a missing or orphaned posting on the healthy index');
is(AfpTest::health($node, $db, 'tiny_fp_idx'), 'missing=0 orphaned=0', 'and at rest it reports none');

$node->stop('fast', fail_ok => 1);
done_testing();
