# The afp_landmark index on a streaming standby: the build (log_newpage_range) and every later
# change (generic WAL: pending postings, row pages, VACUUM, REINDEX) replicate, so afp_index_stats
# is the same on both nodes, the standby's afp_index_check is clean, and ORDER BY fp <~> q on the
# standby returns the primary's rows — also while the primary ingests, and after the standby is
# restarted from an immediate shutdown (replay from its last restartpoint).
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use AfpTest;

my $db = 'postgres';
my $primary = AfpTest::node('primary', allows_streaming => 1);
$primary->safe_psql($db, q{
	CREATE TABLE tracks (id int PRIMARY KEY, fp afp NOT NULL);
	INSERT INTO tracks SELECT id, fp FROM songs WHERE id <= 4;
	CREATE INDEX tracks_fp_idx ON tracks USING afp_landmark (fp);
	INSERT INTO tracks SELECT id, fp FROM songs WHERE id > 4;
});
my $standby = AfpTest::standby($primary, 'standby');
$primary->wait_for_catchup($standby, 'replay');

# Everything but free_pages: the free space map is not WAL-logged, each server keeps its own.
my $stats = "SELECT rows, packed_postings, pending_postings, removed_postings, buckets, largest_bucket, pages, bytes, runs "
  . "FROM afp_index_stats('tracks_fp_idx')";
sub same_stats
{
	my ($stage) = @_;
	$primary->wait_for_catchup($standby, 'replay');
	my $p = $primary->safe_psql($db, $stats);
	is($standby->safe_psql($db, $stats), $p, "$stage: afp_index_stats is the same on the standby ($p)");
	is(AfpTest::health($standby, $db, 'tracks_fp_idx'), 'missing=0 orphaned=0',
		"$stage: afp_index_check on the standby: 0 missing, 0 orphaned");
	return;
}

# The probes: the fixture clips, and a 5 s slice of each row (computed on the primary, replicated).
$primary->safe_psql($db, 'CREATE TABLE probes (label text PRIMARY KEY, q afp NOT NULL)');
sub add_slice_probes
{
	my ($where) = @_;
	$primary->safe_psql($db, "INSERT INTO probes SELECT 'row ' || id, afp_slice(fp, 5, 10) FROM tracks WHERE $where "
		  . "ON CONFLICT DO NOTHING");
	return;
}
$primary->safe_psql($db, "INSERT INTO probes SELECT 'clip ' || name, q FROM clips");
add_slice_probes('true');

# The top three rows of every probe, by the index, on a node, as text.
sub answers
{
	my ($node) = @_;
	return $node->safe_psql($db, AfpTest::plan_settings(1) . q{
		SELECT p.label || ': ' || coalesce((SELECT string_agg(id::text, ',' ORDER BY r)
		                                    FROM (SELECT t.id, row_number() OVER () AS r
		                                          FROM (SELECT id FROM tracks ORDER BY fp <~> p.q LIMIT 3) t) x), '')
		FROM probes p ORDER BY p.label});
}
sub same_answers
{
	my ($stage) = @_;
	$primary->wait_for_catchup($standby, 'replay');
	my $a = answers($primary);
	is(answers($standby), $a, "$stage: ORDER BY fp <~> q LIMIT 3 by the index gives the standby the primary's rows");
	return $a;
}

like($standby->safe_psql($db, AfpTest::plan_settings(1)
		. "EXPLAIN (COSTS OFF) SELECT id FROM tracks ORDER BY fp <~> (SELECT q FROM probes LIMIT 1) LIMIT 3"),
	qr/Index Scan using tracks_fp_idx/, 'the standby orders by the index');
same_stats('built and inserted before the backup');
my $first = same_answers('built and inserted before the backup');
like($first, qr/^row 3: 3\b/m, 'a slice of row 3 finds row 3');

# Changes after the standby started: inserts (pending chain), a deleted row, an updated row.
$primary->safe_psql($db, q{
	INSERT INTO tracks SELECT 100 + id, distractor(fp, 100 + id) FROM songs;
	DELETE FROM tracks WHERE id = 2;
	UPDATE tracks SET fp = distractor(fp, 999) WHERE id = 3;
});
add_slice_probes('id > 100');
same_stats('after inserts, a DELETE and an UPDATE');
my $after = same_answers('after inserts, a DELETE and an UPDATE');
unlike($after, qr/: (?:\d+,)*2(?:,|$)/m, 'the deleted row 2 is in no answer');

# The primary ingests while the standby answers: a stream of single-row inserts in the background;
# meanwhile the standby is asked, again and again, for the fixture clips (whose answers the
# ingested distractors do not change) and for the newest replicated row.
my $tmp = PostgreSQL::Test::Utils::tempdir;
open my $fh, '>', "$tmp/stream.sql" or die $!;
print $fh "INSERT INTO tracks SELECT $_, distractor(fp, $_) FROM songs WHERE id = " . (($_ - 1000) % 6 + 1) . ";\n"
  for 1001 .. 1400;
close $fh;
my $ingest = IPC::Run::start(
	[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $primary->connstr($db), '-f', "$tmp/stream.sql" ],
	'<', '/dev/null', '>', "$tmp/stream.out", '2>', "$tmp/stream.err");
my $clip_answers = $primary->safe_psql($db, AfpTest::plan_settings(1) . q{
	SELECT p.label || ': ' || coalesce((SELECT t.id::text FROM tracks t ORDER BY t.fp <~> p.q LIMIT 1), '')
	FROM probes p WHERE p.label LIKE 'clip %' ORDER BY p.label});
my ($rounds, $same_clips, $newest_found, $newest_asked) = (0, 0, 0, 0);
while ($ingest->pumpable && $rounds < 400)
{
	$rounds++;
	my $out = $standby->safe_psql($db, AfpTest::plan_settings(1) . q{
		SELECT p.label || ': ' || coalesce((SELECT t.id::text FROM tracks t ORDER BY t.fp <~> p.q LIMIT 1), '')
		FROM probes p WHERE p.label LIKE 'clip %' ORDER BY p.label;
		SELECT 'newest ' || n.id || ': ' || coalesce((SELECT t.id::text FROM tracks t
		                                     ORDER BY t.fp <~> afp_slice(n.fp, 5, 10) LIMIT 1), '')
		FROM (SELECT id, fp FROM tracks WHERE id > 1000 ORDER BY id DESC LIMIT 1) n});
	my ($newest) = $out =~ /^(newest .*)$/m;
	$out =~ s/^newest .*$//m;
	$out =~ s/\s+$//;
	if ($out eq $clip_answers) { $same_clips++ }
	else { diag("round $rounds: the standby answered\n$out\nthe primary\n$clip_answers") }
	if (defined $newest)
	{
		$newest_asked++;
		$newest_found++ if $newest =~ /^newest (\d+): (\d+)$/ && $1 eq $2;
	}
}
$ingest->finish;
note "$rounds rounds of queries on the standby while the primary ingested";
cmp_ok($rounds, '>=', 5, 'the standby was queried repeatedly during the ingest');
is($same_clips, $rounds, 'during the ingest the standby always gave the primary\'s answers for the fixture clips');
is($newest_found, $newest_asked, "during the ingest the standby found the newest replicated row for a slice of it ($newest_asked times)");
is(slurp_file("$tmp/stream.err"), '', 'the ingest ran without error');
add_slice_probes('id > 1000 AND id % 10 = 0');
same_stats('after the ingest');
same_answers('after the ingest');

# VACUUM and REINDEX replicate too.
$primary->safe_psql($db, 'DELETE FROM tracks WHERE id BETWEEN 1100 AND 1199');
$primary->safe_psql($db, 'VACUUM tracks');
is($primary->safe_psql($db,
		"SELECT packed_postings + pending_postings = (SELECT sum(afp_landmark_count(fp)) FROM tracks) "
		  . "FROM afp_index_stats('tracks_fp_idx')"), 't',
	'VACUUM removed the deleted rows\' postings on the primary');
same_stats('after DELETE and VACUUM');
same_answers('after DELETE and VACUUM');
$primary->safe_psql($db, 'REINDEX INDEX tracks_fp_idx');
same_stats('after REINDEX');
same_answers('after REINDEX');
$primary->safe_psql($db, 'REINDEX INDEX CONCURRENTLY tracks_fp_idx');
same_stats('after REINDEX CONCURRENTLY');

# The standby crashes (immediate shutdown) while the primary goes on; it replays and catches up.
$primary->safe_psql($db, 'INSERT INTO tracks SELECT 2000 + id, distractor(fp, 2000 + id) FROM songs');
$primary->wait_for_catchup($standby, 'replay');
$standby->stop('immediate');
$primary->safe_psql($db, q{
	INSERT INTO tracks SELECT 3000 + id, distractor(fp, 3000 + id) FROM songs;
	DELETE FROM tracks WHERE id > 2000 AND id < 2004;
	VACUUM tracks;
});
add_slice_probes('id > 2000');
$standby->start;
same_stats('after the standby restarted from an immediate shutdown');
same_answers('after the standby restarted from an immediate shutdown');

# Promoted, the standby takes writes into the index it replicated.
$standby->promote;
$standby->poll_query_until($db, 'SELECT NOT pg_is_in_recovery()');
$standby->safe_psql($db, 'INSERT INTO tracks SELECT 4000 + id, distractor(fp, 4000 + id) FROM songs');
is(AfpTest::health($standby, $db, 'tracks_fp_idx'), 'missing=0 orphaned=0', 'promoted, the standby indexes new rows');
is(AfpTest::top_ids($standby, $db, 'tracks', 'SELECT afp_slice(distractor(fp, 4005), 5, 10) FROM songs WHERE id = 5', 1, 1),
	'4005', 'and finds them');

$standby->stop('fast', fail_ok => 1);
$primary->stop('fast', fail_ok => 1);
done_testing();
