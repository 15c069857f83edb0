# Crash safety of ingest and of a GIN build, on a throwaway node: a backend killed with SIGKILL in
# the middle of a one-row-per-transaction ingest makes the server restart and recover; afterwards
# every committed row is there and no uncommitted one is. A backend killed during CREATE INDEX
# leaves no half-built index; the index builds again and answers exactly like a sequential scan.
# (test/t/001 does the same for the afp_landmark index.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use AfpTest;

my $db = 'postgres';
# The postmaster restarts every backend after one is killed, as a production server does (the
# test framework turns that off by default).
my $node = AfpTest::node('crash_ingest', conf => ['restart_after_crash = on']);
$node->safe_psql($db, q{
	CREATE TABLE tracks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text UNIQUE,
	                     fp afp COMPRESSION lz4 NOT NULL);
	CREATE INDEX tracks_fp_idx ON tracks USING gin (fp);
});

# 1. An ingest committing one row at a time, each fingerprinted from audio; a second session holds
#    rows it never commits. The ingest's backend is killed once 40 rows are committed.
my $ingest = $node->background_psql($db, on_error_stop => 0);
my $ingest_pid = $ingest->query_safe('SELECT pg_backend_pid()');
my $holder = $node->background_psql($db);
$holder->query_safe(q{BEGIN; INSERT INTO tracks (title, fp) SELECT 'uncommitted-' || g, fp FROM songs, generate_series(1, 3) g WHERE id = 1});
my $committed = 0;
for my $i (1 .. 40)
{
	$ingest->query_safe(sprintf(q{INSERT INTO tracks (title, fp) SELECT 'c%d', fp FROM songs WHERE id = %d}, $i, 1 + $i % 6));
	$committed++;
}
# One more in flight, as a fingerprint() of audio while the kill lands.
$ingest->query_until(qr/started/, sprintf(qq{\\echo started\nINSERT INTO tracks (title, fp) SELECT 'c41', fingerprint(pg_read_binary_file('%s/song1.wav')) FROM generate_series(1, 50);\n}, $AfpTest::fixtures));
usleep(100_000);
kill 'KILL', $ingest_pid;
eval { $ingest->quit };
eval { $holder->quit };
ok($node->poll_query_until($db, 'SELECT 1', '1'), 'the server accepts connections after a backend was killed mid-ingest');
# (18 names the killed process "client backend", earlier majors "server process".)
like(slurp_file($node->logfile), qr/(?:server process|client backend) \(PID $ingest_pid\) was terminated by signal 9.*reinitializing/s,
	'the postmaster restarted every backend after the kill (crash recovery, not a clean exit)');
is($node->safe_psql($db, q{SELECT count(*) FROM tracks WHERE title ~ '^c([1-9]|[1-3][0-9]|40)$'}), $committed,
	"every committed row of the ingest is there ($committed)");
is($node->safe_psql($db, q{SELECT count(*) FROM tracks WHERE title LIKE 'uncommitted-%' OR title = 'c41'}), '0',
	'no row of the uncommitted transaction nor of the one in flight is');

# 2. SIGKILL during CREATE INDEX: the half-built index is gone after recovery; it builds again.
$node->safe_psql($db, q{
	DROP INDEX tracks_fp_idx;
	INSERT INTO tracks (title, fp) SELECT 'dup-' || g || '-' || t.title, t.fp FROM tracks t, generate_series(1, 60) g;
});
my $builder = $node->background_psql($db, on_error_stop => 0);
my $builder_pid = $builder->query_safe('SELECT pg_backend_pid()');
$builder->query_until(qr/started/, "SET maintenance_work_mem = '1MB';\n\\echo started\nCREATE INDEX tracks_fp_idx ON tracks USING gin (fp);\n");
my $caught = $node->poll_query_until($db,
	"SELECT count(*) > 0 FROM pg_stat_progress_create_index WHERE pid = $builder_pid");
ok($caught, 'the index build was caught in progress');
kill 'KILL', $builder_pid;
eval { $builder->quit };
ok($node->poll_query_until($db, 'SELECT 1', '1'), 'the server recovers from a backend killed during CREATE INDEX');
like(slurp_file($node->logfile), qr/(?:server process|client backend) \(PID $builder_pid\) was terminated by signal 9/,
	'the index build\'s backend was the one killed');
is($node->safe_psql($db, q{SELECT count(*) FROM pg_class WHERE relname = 'tracks_fp_idx'}), '0',
	'the half-built index does not exist');
$node->safe_psql($db, 'CREATE INDEX tracks_fp_idx ON tracks USING gin (fp)');
is($node->safe_psql($db, q{SELECT indisvalid FROM pg_index WHERE indexrelid = 'tracks_fp_idx'::regclass}), 't',
	'the index builds again');
my $pairs = q{SELECT string_agg(p.id || ':' || t.id, ',' ORDER BY p.id, t.id)
              FROM (SELECT id, fp FROM tracks WHERE id % 97 = 0) p JOIN tracks t ON t.fp % p.fp};
my $by_index = $node->safe_psql($db, "SET enable_seqscan = off; $pairs");
my $by_scan = $node->safe_psql($db, "SET enable_bitmapscan = off; SET enable_indexscan = off; $pairs");
ok($by_index ne '' && $by_index eq $by_scan, 'the rebuilt index answers exactly like a sequential scan');
is($node->safe_psql($db, 'SELECT count(*) FROM tracks WHERE afp_landmark_count(fp::text::afp) IS NULL'), '0',
	'every row\'s fingerprint still validates');

done_testing();
