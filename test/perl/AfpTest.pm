# AfpTest.pm — helpers the PostgreSQL TAP tests of test/t share: a throwaway node with the
# installed afp extension and the fixture songs and clips loaded, distractor fingerprints made in
# SQL, a streaming standby, a whole-server SIGKILL, and the two ways of answering ORDER BY fp <~> q LIMIT k (the
# afp_landmark index, a sequential scan) with the plan checked.
#
# The nodes are PostgreSQL::Test::Cluster nodes: their own data directory under TESTDIR, their own
# port and socket; never the project's private cluster. scripts/tap sets up the environment.
package AfpTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use IPC::Run;

our $fixtures = $ENV{AFP_FIXTURES}
  or die "AFP_FIXTURES must name the directory of the fixture audio (test/data)";

# The fixture songs (ids 1 to 6) and the clips cut from them (and one of no catalogued song).
our @songs = qw(song1.wav song2.flac song3.ogg song4.mp3 song5.opus song6.wav);
our %clips = (
	'clip_song1_at_12s.ogg'             => 1,
	'clip_song2_at_11.25s_snr5.mp3'     => 2,
	'clip_song3_at_7.5s.wav'            => 3,
	'clip_song5_at_3s_quiet.flac'       => 5,
	'clip_unknown.wav'                  => undef);

# A started node with the extension, an empty afp_tracks, the tables songs (id, title, fp) and clips (name, expect_id,
# q afp), and the function distractor(fp, k). Extra postgresql.conf lines may be passed (conf), the
# installation of another PostgreSQL major (install_path) and parameters of init (init).
sub node
{
	my ($name, %params) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name,
		$params{install_path} ? (install_path => $params{install_path}) : ());
	$node->init(allows_streaming => $params{allows_streaming} ? 1 : 0, %{ $params{init} // {} });
	$node->append_conf('postgresql.conf', join("\n",
		"shared_buffers = 32MB",
		"max_connections = 20",
		"log_statement = none",
		"log_min_messages = warning",
		# No autovacuum: what VACUUM and REINDEX drop would otherwise depend on its snapshots.
		"autovacuum = off",
		# Nor the index's background merge: tests see the index as their statements leave it
		# (017_landmark_background_merge.pl turns it on).
		"afp.index_background_merge = off",
		@{ $params{conf} // [] }) . "\n");
	$node->start;
	load($node) unless $params{empty};
	return $node;
}

# A started streaming standby of a node made with allows_streaming, from a fresh base backup. It
# streams through a physical replication slot of its own name, so the primary keeps every WAL
# segment until the standby has it: without one, a busy machine let a primary's checkpoints remove
# segments a lagging standby still needed ("requested WAL segment ... has already been removed"),
# and the standby never caught up.
sub standby
{
	my ($primary, $name) = @_;
	$primary->safe_psql('postgres', "SELECT pg_create_physical_replication_slot('$name', true)");
	$primary->backup("${name}_base");
	my $standby = PostgreSQL::Test::Cluster->new($name);
	$standby->init_from_backup($primary, "${name}_base", has_streaming => 1);
	$standby->append_conf('postgresql.conf', "log_min_messages = warning\nprimary_slot_name = '$name'\n");
	$standby->start;
	return $standby;
}

# Loads the extension, the fixtures and distractor() into the postgres database of a node.
sub load
{
	my ($node) = @_;
	my $values = join(",\n",
		map { sprintf("(%d, %s)", $_ + 1, sql_file($songs[$_])) } 0 .. $#songs);
	my $clip_values = join(",\n",
		map { sprintf("(%s, %s, %s)", quote($_), defined $clips{$_} ? $clips{$_} : 'NULL', sql_file($_)) }
		  sort keys %clips);
	$node->safe_psql('postgres', qq{
		CREATE EXTENSION afp;
		SELECT afp_create_catalog();
		CREATE TABLE songs (id int PRIMARY KEY, title text, fp afp NOT NULL);
		INSERT INTO songs SELECT n, 'song' || n, fingerprint(audio) FROM (VALUES $values) v(n, audio);
		CREATE TABLE clips (name text PRIMARY KEY, expect_id int, q afp NOT NULL);
		INSERT INTO clips SELECT name, expect_id, fingerprint(audio) FROM (VALUES $clip_values) v(name, expect_id, audio);
	});
	$node->safe_psql('postgres', distractor_sql());
	return;
}

# The bytes of a fixture file as a bytea literal the server reads (it runs as the same user).
sub sql_file
{
	my ($file) = @_;
	my $path = "$fixtures/$file";
	die "missing fixture $path" unless -r $path;
	return "pg_read_binary_file(" . quote($path) . ")";
}

sub quote
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

# distractor(fp, k): fp with every hash moved by an offset chosen by k through the space of hashes
# the parameter set can produce (f1 144..368, df + 128 1..255, dt 1..63, so the target bin stays in
# the band and afp input accepts it). It has the landmark count and time structure of a real
# track, and distractors with different k share hashes only by chance, at no common offset, so a
# clip cut from one matches it and nothing else.
sub distractor_sql
{
	return q{
CREATE FUNCTION distractor(fp afp, k int) RETURNS afp LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT (array_to_string((string_to_array(fp::text, ':'))[1:5], ':') || ':' ||
          coalesce(string_agg(h || '@' || f, ',' ORDER BY h, f), ''))::afp
  FROM (SELECT DISTINCT 16777216 + ((144 + j / 16065) << 15) + ((1 + (j / 63) % 255) << 7) + 1 + j % 63 AS h, f
        FROM (SELECT ((((h0 >> 15) & 511) - 16)::bigint * 16065 + (((h0 >> 7) & 255) - 1) * 63 + (h0 & 127) - 1
                      + k::bigint * 40503 + 12345) % 3614625 AS j, f
              FROM (SELECT split_part(x, '@', 1)::int AS h0, split_part(x, '@', 2)::int AS f
                    FROM unnest(string_to_array(split_part(fp::text, ':', 6), ',')) x) x0) x1) l
$$;
};
}

# SIGKILL to the postmaster and every process it started, at once: a crash of the whole server.
# The node is then known stopped; $node->start runs crash recovery.
sub crash_server
{
	my ($node) = @_;
	my $pm = $node->{_pid} or die "node " . $node->name . " is not running";
	my @children = grep { /^\d+$/ } split /\s+/, `ps -o pid= --ppid $pm`;
	note "SIGKILL to postmaster $pm and its " . scalar(@children) . " processes";
	kill 'KILL', $pm, @children;
	$node->kill9;    # forgets the pid (the signal is already sent)
	for my $pid ($pm, @children)
	{
		for (1 .. 600)
		{
			last unless alive($pid);
			usleep(50_000);
		}
		die "process $pid survived SIGKILL" if alive($pid);
	}
	# The killed postmaster is orphaned; where PID 1 does not reap orphans it stays a zombie, and
	# a zombie's PID in the lock files makes the next postmaster refuse to start ("lock file
	# already exists"). After a real crash no process would be left: drop the stale lock files.
	if (!alive($pm))
	{
		unlink($node->data_dir . '/postmaster.pid');
		unlink($node->host . '/.s.PGSQL.' . $node->port . '.lock') if $node->host =~ m{^/};
	}
	return;
}

# Whether a process exists and is not a zombie (PID 1 may not reap orphans here).
sub alive
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return 0;
	my $stat = <$fh>;
	close $fh;
	return 0 unless defined $stat;
	return $stat =~ /^\d+ \(.*\) ([A-Za-z])/ && $1 ne 'Z' && $1 ne 'X';
}

# Settings that pin ORDER BY fp <~> q to the index, or to a sequential scan and a sort.
sub plan_settings
{
	my ($by_index) = @_;
	my %on = (enable_indexscan => 1, enable_bitmapscan => 1, enable_seqscan => 0, enable_sort => 0);
	return join('', map { "SET $_ = " . (($on{$_} xor !$by_index) ? 'on' : 'off') . ";\n" } sort keys %on)
	  . "SET max_parallel_workers_per_gather = 0;\n";
}

# The ids of SELECT id FROM $table ORDER BY fp <~> ($query) LIMIT $limit, by the index or by a
# sequential scan, in order, comma-separated; dies when the plan is not the one asked for.
sub top_ids
{
	my ($node, $db, $table, $query, $limit, $by_index) = @_;
	my $sql = "SELECT id FROM $table ORDER BY fp <~> ($query) LIMIT $limit";
	my $settings = plan_settings($by_index);
	my $plan = $node->safe_psql($db, "$settings EXPLAIN (COSTS OFF) $sql");
	my $uses_index = $plan =~ /Order By: \(.*<~>/ ? 1 : 0;
	die "ORDER BY <~> on $table: wanted " . ($by_index ? 'the index' : 'a sequential scan') . ", got:\n$plan"
	  if $uses_index != ($by_index ? 1 : 0);
	my $ids = $node->safe_psql($db, "$settings $sql");
	return join(',', split /\n/, $ids);
}

# Whether every row of $table matching $where is found by ORDER BY fp <~> a slice of itself, by
# the index and by a sequential scan (one test).
sub finds_every_row
{
	my ($node, $db, $label, $table, $where) = @_;
	my $probes = "SELECT id::text, afp_slice(fp, 5, 10) FROM $table WHERE $where";
	my $by_index = top_per_probe($node, $db, $table, $probes, 1);
	my $by_seqscan = top_per_probe($node, $db, $table, $probes, 0);
	my @wrong = grep { ($by_index->{$_} // '') ne $_ || ($by_seqscan->{$_} // '') ne $_ } sort keys %$by_index;
	Test::More::is(join(',', @wrong), '', "$label: ORDER BY fp <~> a slice of each of " . scalar(keys %$by_index)
		  . " rows finds that row by the index and by a sequential scan");
	return;
}

# The top row of ORDER BY fp <~> q LIMIT 1 in $table for each probe of $probes, a query returning
# (label text, q afp), in one statement: { label => id, or '' when nothing is returned }. Dies when
# the plan is not the one asked for.
sub top_per_probe
{
	my ($node, $db, $table, $probes, $by_index) = @_;
	my $sql = "SELECT p.label, (SELECT t.id FROM $table t ORDER BY t.fp <~> p.q LIMIT 1) "
	  . "FROM ($probes) p(label, q)";
	my $settings = plan_settings($by_index);
	my $plan = $node->safe_psql($db, "$settings EXPLAIN (COSTS OFF) $sql");
	my $uses_index = $plan =~ /Order By: \(.*<~>/ ? 1 : 0;
	die "ORDER BY <~> on $table: wanted " . ($by_index ? 'the index' : 'a sequential scan') . ", got:\n$plan"
	  if $uses_index != ($by_index ? 1 : 0);
	my %top;
	for my $line (split /\n/, $node->safe_psql($db, "$settings $sql"))
	{
		my ($label, $id) = split /\|/, $line, 2;
		$top{$label} = $id // '';
	}
	return \%top;
}

# afp_index_check as "rows postings missing orphaned".
sub check_index
{
	my ($node, $db, $index) = @_;
	return $node->safe_psql($db, "SELECT rows, postings, missing, orphaned FROM afp_index_check('$index')") =~ s/\|/ /gr;
}

# missing and orphaned of afp_index_check, as "missing=N orphaned=M".
sub health
{
	my ($node, $db, $index) = @_;
	my (undef, undef, $missing, $orphaned) = split / /, check_index($node, $db, $index);
	return "missing=$missing orphaned=$orphaned";
}

# Starts psql on a node in the background running a script; its output goes to files (nothing to
# pump), which finish_psql reads back once psql has exited. Returns [handle, file base]; the
# handle's pumpable says whether psql still runs.
my $psql_runs = 0;
sub start_psql
{
	my ($node, $db, $script) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir;
	my $base = "$dir/psql" . ++$psql_runs;
	open my $fh, '>', "$base.sql" or die $!;
	print $fh $script;
	close $fh;
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), '-f', "$base.sql" ],
		'<', '/dev/null', '>', "$base.out", '2>', "$base.err");
	return [ $h, $base ];
}

# Waits for a start_psql run to end; returns its stdout and stderr.
sub finish_psql
{
	my ($run) = @_;
	my ($h, $base) = @$run;
	$h->finish;
	return (slurp_file("$base.out"), slurp_file("$base.err"));
}

1;
