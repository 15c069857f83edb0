# The afp_landmark index answers ORDER BY fp <~> q LIMIT 1 as a sequential scan does, at several
# catalogue sizes: the six fixture songs plus distractors made from them in SQL (every hash
# remapped, so a distractor has a real track's structure and matches nothing else). Each catalogue
# is built from two thirds of its rows and gets the rest as inserts (the pending chain); probes are
# the fixture clips and slices cut from catalogue rows with afp_slice. Then DELETE + VACUUM,
# REINDEX, and a build that spills to temporary files (maintenance_work_mem = 1MB), which must
# give the very index an in-memory build gives.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use AfpTest;

my $node = AfpTest::node('sizes');
my $db = 'postgres';

# A pool of 300 rows: 1 to 6 are the songs, the others distractors of song (id - 1) % 6 + 1.
$node->safe_psql($db, q{
	CREATE TABLE pool AS
	SELECT g AS id, CASE WHEN g <= 6 THEN s.fp ELSE distractor(s.fp, g) END AS fp
	FROM generate_series(1, 300) g JOIN songs s ON s.id = (g - 1) % 6 + 1;
});
is($node->safe_psql($db, 'SELECT count(DISTINCT fp::text) FROM pool'), '300', 'the pool holds 300 distinct fingerprints');

# Probes: the fixture clips of catalogued songs, and 5 s slices of ten rows spread over the
# catalogue (cut from the pool, so that a deleted row can still be probed for). Returns the SQL of
# (label, q) and { label => the id the probe must find }.
sub probes
{
	my ($size) = @_;
	my %expect;
	for my $clip (sort keys %AfpTest::clips)
	{
		$expect{"fixture $clip"} = $AfpTest::clips{$clip} if defined $AfpTest::clips{$clip};
	}
	my @slices;
	for my $i (0 .. 9)
	{
		my $id = 1 + int($i * ($size - 1) / 9);
		next if defined $expect{"row $id"};
		$expect{"row $id"} = $id;
		push @slices, "($id, " . (2 + 2 * ($i % 6)) . ")";
	}
	my $sql = "SELECT 'fixture ' || name, q FROM clips WHERE expect_id IS NOT NULL UNION ALL "
	  . "SELECT 'row ' || p.id, afp_slice(p.fp, v.f, v.f + 5) FROM pool p JOIN (VALUES "
	  . join(', ', @slices) . ") v(id, f) USING (id)";
	return ($sql, \%expect);
}

sub compare_answers
{
	my ($table, $size, $stage, %params) = @_;
	my %gone = map { $_ => 1 } @{ $params{deleted} // [] };
	my ($probes, $expect) = probes($size);
	my $by_index = AfpTest::top_per_probe($node, $db, $table, $probes, 1);
	my $by_scan = AfpTest::top_per_probe($node, $db, $table, $probes, 0);
	for my $label (sort keys %$expect)
	{
		my $want = $expect->{$label};
		if ($gone{$want})
		{
			isnt($by_index->{$label}, $want, "$size rows, $stage: $label: the deleted row is not answered");
			next;
		}
		is($by_index->{$label}, $by_scan->{$label}, "$size rows, $stage: $label: the index's top row is the sequential scan's");
		is($by_index->{$label}, $want, "$size rows, $stage: $label: it is row $want");
	}
	return;
}

for my $size (6, 60, 300)
{
	my $table = "cat_$size";
	my $built = int($size * 2 / 3);
	# The last third stays pending (a limit no insert reaches), or, at 300 rows, goes into runs as
	# inserts pass a small limit: answers must be the same either way.
	my $limit = $size == 300 ? 64 : 100000;
	$node->safe_psql($db, qq{
		CREATE TABLE $table (id int PRIMARY KEY, fp afp);
		INSERT INTO $table SELECT id, fp FROM pool WHERE id <= $built;
		CREATE INDEX ${table}_fp_idx ON $table USING afp_landmark (fp) WITH (pending_limit = $limit);
		INSERT INTO $table SELECT id, fp FROM pool WHERE id > $built AND id <= $size;
	});
	is($node->safe_psql($db, "SELECT rows, pending_postings > 0 OR runs > 1 FROM afp_index_stats('${table}_fp_idx')"),
		"$size|t", "$size rows: all indexed, the last third pending or in runs of its own");
	is(AfpTest::health($node, $db, "${table}_fp_idx"), 'missing=0 orphaned=0', "$size rows: the index is healthy");
	compare_answers($table, $size, 'built + inserted');

	# Delete every fifth distractor, then VACUUM: the survivors are still found, the deleted never.
	my @deleted = map { $_ * 5 + 2 } grep { $_ * 5 + 2 > 6 && $_ * 5 + 2 <= $size } 0 .. 60;
	if (@deleted)
	{
		$node->safe_psql($db, "DELETE FROM $table WHERE id IN (" . join(',', @deleted) . ")");
		compare_answers($table, $size, 'deleted, before VACUUM', deleted => \@deleted);
		$node->safe_psql($db, "VACUUM $table");
		is(AfpTest::health($node, $db, "${table}_fp_idx"), 'missing=0 orphaned=0',
			"$size rows: healthy after DELETE and VACUUM");
		compare_answers($table, $size, 'after VACUUM', deleted => \@deleted);
		$node->safe_psql($db, "INSERT INTO $table SELECT id, fp FROM pool WHERE id IN (" . join(',', @deleted) . ")");
	}

	$node->safe_psql($db, "REINDEX INDEX ${table}_fp_idx");
	is($node->safe_psql($db, "SELECT rows, pending_postings, removed_postings FROM afp_index_stats('${table}_fp_idx')"),
		"$size|0|0", "$size rows: REINDEX packs every row");
	is(AfpTest::health($node, $db, "${table}_fp_idx"), 'missing=0 orphaned=0', "$size rows: healthy after REINDEX");
	compare_answers($table, $size, 'after REINDEX');
}

# A build whose postings do not fit maintenance_work_mem spills them to temporary files: the
# result must be the in-memory build's, posting for posting (same stats, same answers).
my $in_memory = $node->safe_psql($db, "SELECT * FROM afp_index_stats('cat_300_fp_idx')");
my ($rc, $out, $err) = $node->psql($db, q{
	SET maintenance_work_mem = '1MB';
	CREATE INDEX cat_300_spilled_idx ON cat_300 USING afp_landmark (fp);
});
is($rc, 0, 'a build spilling to temporary files (maintenance_work_mem = 1MB) succeeds')
  or diag("stderr: $err");
SKIP:
{
	skip 'the spilled build failed', 4 if $rc != 0;
	is($node->safe_psql($db, "SELECT * FROM afp_index_stats('cat_300_spilled_idx')"), $in_memory,
		'the spilled build has the in-memory build\'s stats');
	is(AfpTest::health($node, $db, 'cat_300_spilled_idx'), 'missing=0 orphaned=0', 'the spilled build is healthy');
	$node->safe_psql($db, 'DROP INDEX cat_300_fp_idx');
	my ($probes, $expect) = probes(300);
	my $found = AfpTest::top_per_probe($node, $db, 'cat_300', $probes, 1);
	is(join(' ', grep { $found->{$_} ne $expect->{$_} } sort keys %$expect), '',
		'the spilled build finds the row of every probe (' . scalar(keys %$expect) . ')');
	# REINDEX through the spill path too.
	($rc, $out, $err) = $node->psql($db, q{
		SET maintenance_work_mem = '1MB';
		REINDEX INDEX cat_300_spilled_idx;
	});
	is($rc, 0, 'REINDEX spilling to temporary files succeeds') or diag("stderr: $err");
}

$node->stop('fast', fail_ok => 1);
done_testing();
