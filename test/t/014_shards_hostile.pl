# A sharded catalogue against hostile shards, long titles and careless logs:
#   - the application role set up exactly as docs/scale-out.md says (its SQL blocks are read from
#     the document and run) adds, matches and removes tracks through the coordinator;
#   - titles of 0 to 1 MB bytes, compressed on the shard and not, come back byte for byte through
#     add_track, match_clip and match_afp;
#   - no message a shard failure produces (error, partial-answer warning, server log) shows the
#     password of a partition's connection string or of a user mapping;
#   - a shard-side role that puts its own afp_shard_* first on its search_path is not called, and
#     a shard whose answers are malformed (NULLs, wrong lengths, foreign items, NaN) is an error
#     08P01 naming it, never a crash of the coordinator.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use AfpTest;

my $db = 'postgres';
my $password = 'SuperSecretPw1';
my $ssl_password = 'SslSecretPw2';

# The SQL of docs/scale-out.md's "Set-up" section, in the document's order: a list of
# [ node kind ('coordinator' or 'shard'), SQL ], every ```sql block split at its
# "-- on the coordinator" / "-- on every shard" comments.
sub documented_setup
{
	my $doc = slurp_file("$ENV{AFP_ROOT}/docs/scale-out.md");
	my ($section) = $doc =~ /^## Set-up\n(.*?)^## /ms or die 'docs/scale-out.md has no "## Set-up" section';
	my @chunks;
	while ($section =~ /^```sql\n(.*?)^```/msg)
	{
		my @targets;
		for my $line (split /\n/, $1)
		{
			if ($line =~ /^-- on (.*)/)
			{
				my $on = $1;
				@targets = ();
				push @targets, 'coordinator' if $on =~ /coordinator/;
				push @targets, 'shard' if $on =~ /shard/;
				die "docs/scale-out.md: no node named in \"$line\"" unless @targets;
				push @chunks, [ $_, '' ] for @targets;
				next;
			}
			die "docs/scale-out.md: SQL before an \"-- on ...\" comment: $line" unless @targets;
			$chunks[ -1 - $#targets + $_ ][1] .= "$line\n" for 0 .. $#targets;
		}
	}
	return @chunks;
}

# Two shards and a coordinator, set up as documented; the partitions' connection strings carry a
# password and an SSL key password (the nodes trust local connections, so both are ignored).
my @shards = map { AfpTest::node("shard$_", empty => 1) } 0 .. 1;
my $coord = AfpTest::node('coordinator');
# As documented, the coordinator holds no catalogue (AfpTest made one for the fixtures).
$coord->safe_psql($db, 'DROP TABLE afp_tracks');
$_->safe_psql($db, 'CREATE ROLE app LOGIN') for ($coord, @shards);
my $partitions = join(', ', map {
	sprintf("p%d '%s password=%s sslpassword=%s connect_timeout=2'", $_, $shards[$_]->connstr($db) =~ s/'//gr,
		$password, $ssl_password) } 0 .. $#shards);
my @setup = documented_setup();
my $all = join('', map { $_->[1] } @setup);
like($all, qr/CREATE SERVER afp_shards/, 'docs/scale-out.md sets up a coordinator');
like(join('', map { $_->[0] eq 'shard' ? $_->[1] : '' } @setup), qr/CREATE EXTENSION afp/, '... and the shards');
like($all, qr/TO app;/, '... and the role app');
for my $chunk (@setup)
{
	my ($kind, $sql) = @$chunk;
	if ($kind eq 'shard')
	{
		$_->safe_psql($db, $sql) for @shards;
		next;
	}
	# The coordinator node already has afp (and the fixtures); the partitions are the test's shards.
	$sql =~ s/CREATE EXTENSION (?!IF )/CREATE EXTENSION IF NOT EXISTS /g;
	$sql =~ s/(CREATE SERVER afp_shards FOREIGN DATA WRAPPER plproxy OPTIONS \().*?\);/$1modular_mapping '1', $partitions);/s;
	$coord->safe_psql($db, $sql);
}

# The upgrade from afp_shards 0.5.0 defines every function as a fresh 0.7.0 installation does.
my $definitions = q{SELECT string_agg(pg_get_functiondef(p.oid), E'\n' ORDER BY p.proname)
	FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	JOIN pg_extension e ON e.oid = d.refobjid WHERE e.extname = 'afp_shards'};
$coord->safe_psql($db, 'CREATE DATABASE upgraded');
$coord->safe_psql('upgraded', q{
	CREATE EXTENSION afp;
	SELECT afp_create_catalog();  -- afp_shards 0.5.0's match_* default to this table
	CREATE EXTENSION plproxy;
	CREATE EXTENSION afp_shards VERSION '0.5.0';
});
like($coord->safe_psql('upgraded', $definitions), qr/FROM afp_shard_estimates\(probes, bits\)/,
	'afp_shards 0.5.0 calls afp_shard_* unqualified');
$coord->safe_psql('upgraded', 'ALTER EXTENSION afp_shards UPDATE');
is($coord->safe_psql('upgraded', "SELECT extversion FROM pg_extension WHERE extname = 'afp_shards'"), '0.7.0',
	'ALTER EXTENSION afp_shards UPDATE goes to 0.7.0');
my $fresh = $coord->safe_psql($db, $definitions);
like($fresh, qr/FROM public\.afp_shard_estimates\(probes, bits\)/, 'afp_shards 0.7.0 calls public.afp_shard_estimates');
unlike($fresh, qr/(?<![.\w])afp_shard_(estimates|rank|vote|insert|delete)\(/, '... and every afp_shard_* qualified');
is($coord->safe_psql('upgraded', $definitions), $fresh, '... and the upgrade defines every function as the fresh installation');

# The fixture songs, ingested by the superuser through the coordinator.
$coord->safe_psql($db, 'SELECT afp_shards.add_track(title, fp, NULL, id) FROM songs ORDER BY id; '
	  . "SELECT setval('afp_shards.track_ids', 100)");
my $holder = $coord->safe_psql($db, 'SELECT afp_shards.shard_of(1)');

# Hex bytea literals, so that the role app (no pg_read_server_files) can send clips.
sub hex_file
{
	my ($file) = @_;
	open my $fh, '<:raw', "$AfpTest::fixtures/$file" or die "$file: $!";
	local $/;
	my $bytes = <$fh>;
	close $fh;
	return "'\\x" . unpack('H*', $bytes) . "'::bytea";
}
my $clip1 = hex_file('clip_song1_at_12s.ogg');
my $fp3 = $coord->safe_psql($db, 'SELECT fp::text FROM songs WHERE id = 3');

sub as_app
{
	my ($node, $sql) = @_;
	return $node->psql($db, $sql, extra_params => [ '-U', 'app', '-v', 'VERBOSITY=verbose' ]);
}

# 1. The documented role set-up is enough for the application role.
my ($rc, $out, $err) = as_app($coord, "SELECT track_id, title FROM afp_shards.match_clip($clip1) LIMIT 1");
is("$rc $out", '0 1|song1', 'as app, set up as documented: match_clip finds song1') or diag($err);
($rc, $out, $err) = as_app($coord, "SELECT track_id FROM afp_shards.match_clip($clip1, 'pg_class')");
like($err, qr/22023: a sharded match searches afp_tracks on the shards, not "pg_class"/, '... a catalogue other than the sharded one is refused');
($rc, $out, $err) = as_app($coord, "SELECT count(*) FROM afp_shards.match_clip(NULL), afp_shards.match_afp('$fp3'::afp, NULL, NULL)");
is("$rc $out", '0 0', '... NULL for the clip or max_results gives no rows') or diag($err);
($rc, $out, $err) = as_app($coord, "SELECT track_id FROM afp_shards.match_afp('$fp3'::afp) LIMIT 1");
is("$rc $out", '0 3', '... match_afp finds song3') or diag($err);
($rc, $out, $err) = as_app($coord, "SELECT afp_shards.add_track('by app', '$fp3'::afp)");
is("$rc $out", '0 101', '... add_track draws id 101 and stores the track') or diag($err);
($rc, $out, $err) = as_app($coord, 'SELECT afp_shards.remove_track(101), afp_shards.shard_of(101) IS NOT NULL');
is("$rc $out", '0 t|t', '... remove_track and shard_of work') or diag($err);

# 2. Titles of every header size, compressed on the shard and not, through every sharded function.
my $n = 0;
for my $len (0, 126, 127, 8000, 8100, 1 << 20)
{
	for my $kind ('repeated', 'random')
	{
		$n++;
		my $id = 200 + $n;
		# 'random': 75 symbols, deterministic, too varied for pglz to shorten by the 25 % it needs.
		my $title = $kind eq 'repeated' ? "repeat('y', $len)"
		  : "(SELECT coalesce(string_agg(chr(48 + abs(hashint4(g + $len)) % 75), '' ORDER BY g), '') FROM generate_series(1, $len) g)";
		my $expect = $coord->safe_psql($db, "SELECT octet_length(t) || ' ' || md5(t) FROM (SELECT $title AS t) x");
		$coord->safe_psql($db, "SELECT afp_shards.add_track($title, distractor((SELECT fp FROM songs WHERE id = 1), $id), NULL, $id)");
		my $shard = $shards[ $coord->safe_psql($db, "SELECT afp_shards.shard_of($id)") ];
		my $stored = $shard->safe_psql($db,
			"SELECT octet_length(title) || ' ' || md5(title), pg_column_compression(title) IS NOT NULL FROM afp_tracks WHERE id = $id");
		my ($stored_title, $compressed) = split /\|/, $stored;
		is($stored_title, $expect, "title of $len bytes ($kind): add_track stores it intact");
		is($compressed, ($len > 2000 && $kind eq 'repeated') ? 't' : 'f',
			"... " . ($compressed eq 't' ? 'compressed' : 'not compressed') . ' on the shard');
		is($coord->safe_psql($db, "SELECT octet_length(title) || ' ' || md5(title) FROM afp_shards.match_afp("
				  . "distractor((SELECT fp FROM songs WHERE id = 1), $id), max_results => 1) WHERE track_id = $id"),
			$expect, '... match_afp returns it intact');
		# match_clip: song1's own row gets the title.
		$shards[$holder]->safe_psql($db, "UPDATE afp_tracks SET title = $title WHERE id = 1");
		is($coord->safe_psql($db, "SELECT octet_length(title) || ' ' || md5(title) FROM afp_shards.match_clip("
				  . AfpTest::sql_file('clip_song1_at_12s.ogg') . ") WHERE track_id = 1"),
			$expect, '... match_clip returns it intact');
	}
}
$shards[$holder]->safe_psql($db, "UPDATE afp_tracks SET title = 'song1' WHERE id = 1");
$coord->safe_psql($db, 'SELECT afp_shards.add_track(NULL, distractor((SELECT fp FROM songs WHERE id = 1), 300), NULL, 300)');
is($coord->safe_psql($db, 'SELECT title IS NULL FROM afp_shards.match_afp(distractor((SELECT fp FROM songs WHERE id = 1), 300)) '
		  . 'WHERE track_id = 300'), 't', 'a NULL title comes back NULL');

# 3. A shard that is down: no message shows a password, to the superuser, to app or in the log.
my $other = 1 - $holder;
$shards[$other]->stop('immediate');
my $messages = '';
for my $user ('postgres', 'app')
{
	my $sql = "SELECT count(*) FROM afp_shards.match_clip($clip1)";
	($rc, $out, $err) = $user eq 'app' ? as_app($coord, $sql) : $coord->psql($db, $sql, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/shard p$other of cluster "afp_shards" failed/, "shard p$other down, as $user: an error naming it");
	like($err, qr/DETAIL: +p$other is "[^"]*dbname=postgres[^"]*"; it said/, '... with its connection string');
	$messages .= $err;
	($rc, $out, $err) = $user eq 'app' ? as_app($coord, "SET afp.shard_allow_partial = on; $sql")
	  : $coord->psql($db, "SET afp.shard_allow_partial = on; $sql", extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/the answer is partial: 1 of 2 shards did not answer/, '... and under afp.shard_allow_partial a warning');
	like($err, qr/DETAIL: +p$other \([^)]*dbname=postgres[^)]*\):/, '... naming it with its connection string');
	$messages .= $err;
}
$messages .= slurp_file($coord->logfile);
unlike($messages, qr/password=/i, 'no message of the coordinator shows "password="');
unlike($messages, qr/\Q$password\E|\Q$ssl_password\E|app-password/, '... nor the passwords themselves (partitions, user mapping)');
$shards[$other]->start;

# 4. Hostile shards. The coordinator must never crash: its postmaster's start time stays.
my $started = $coord->safe_psql($db, 'SELECT pg_postmaster_start_time()');
my $song = $coord->safe_psql($db, "SELECT min(id) FROM songs WHERE afp_shards.shard_of(id) = $holder");
my $probe = "SELECT count(*) FROM afp_shards.match_afp((SELECT fp FROM songs WHERE id = $song)) WHERE track_id = $song";
is($coord->safe_psql($db, $probe), '1', "song$song (on p$holder) is found");

# A role that may create objects on the shard shadows afp_shard_estimates on its search_path.
$shards[$holder]->safe_psql($db, 'GRANT CREATE ON DATABASE postgres TO app');
($rc, $out, $err) = as_app($shards[$holder], q{
	CREATE SCHEMA evil;
	CREATE FUNCTION evil.afp_shard_estimates(probes afp[], bits int,
	    OUT probe int, OUT directory_bits int, OUT catalog_rows float8, OUT estimates bigint[])
	    RETURNS SETOF record LANGUAGE sql
	    AS $$ SELECT g, 32, 1::float8, NULL::bigint[] FROM generate_series(1, cardinality(probes)) g $$;
	ALTER ROLE app SET search_path = evil, public;
});
is($rc, 0, 'app creates evil.afp_shard_estimates on its shard and puts it first on its search_path') or diag($err);
$coord->safe_psql($db, "GRANT SELECT ON songs TO app");
($rc, $out, $err) = as_app($coord, $probe);
is("$rc $out", '0 1', '... the coordinator calls afp\'s own function: the answer is right') or diag($err);

# Malformed answers, as a broken or old afp on the shard would send them: each shard function is
# replaced by one that tampers with what the real one (kept under another name) returns.
$shards[$holder]->safe_psql($db, q{
	CREATE FUNCTION public.real_estimates(probes afp[], bits int,
	    OUT probe int, OUT directory_bits int, OUT catalog_rows float8, OUT estimates bigint[])
	    RETURNS SETOF record AS '$libdir/afp', 'afp_shard_estimates' LANGUAGE C STABLE STRICT;
	CREATE FUNCTION public.real_rank(probes afp[], max_postings bigint[], min_votes int[], limits int[],
	    OUT probe int, OUT id bigint, OUT votes int)
	    RETURNS SETOF record AS '$libdir/afp', 'afp_shard_rank' LANGUAGE C STABLE STRICT;
	CREATE FUNCTION public.real_vote(query afp, ids bigint[], speeds float8[], tempos float8[], pitches float8[],
	    OUT item int, OUT id bigint, OUT title text, OUT score int, OUT anchors int, OUT aligned_pairs int,
	    OUT total_pairs int, OUT offset_frames float8, OUT clip_first_frame bigint, OUT clip_last_frame bigint,
	    OUT log_chance float8, OUT drift_pairs int)
	    RETURNS SETOF record AS '$libdir/afp', 'afp_shard_vote' LANGUAGE C STABLE STRICT;
});
my %signature = (
	estimates => 'afp_shard_estimates(probes afp[], bits int, OUT probe int, OUT directory_bits int, '
	  . 'OUT catalog_rows float8, OUT estimates bigint[])',
	rank => 'afp_shard_rank(probes afp[], max_postings bigint[], min_votes int[], limits int[], '
	  . 'OUT probe int, OUT id bigint, OUT votes int)',
	vote => 'afp_shard_vote(query afp, ids bigint[], speeds float8[], tempos float8[], pitches float8[], '
	  . 'OUT item int, OUT id bigint, OUT title text, OUT score int, OUT anchors int, OUT aligned_pairs int, '
	  . 'OUT total_pairs int, OUT offset_frames float8, OUT clip_first_frame bigint, OUT clip_last_frame bigint, '
	  . 'OUT log_chance float8, OUT drift_pairs int)');
my %call = (
	estimates => 'public.real_estimates(probes, bits)',
	rank => 'public.real_rank(probes, max_postings, min_votes, limits)',
	vote => 'public.real_vote(query, ids, speeds, tempos, pitches)');
my $vote_columns = 'item, id, title, score, anchors, aligned_pairs, total_pairs, offset_frames, clip_first_frame, '
  . 'clip_last_frame, log_chance, drift_pairs';
my @hostile = (
	[ estimates => 'estimates NULL', 'probe, directory_bits, catalog_rows, NULL::bigint[]' ],
	[ estimates => 'estimates one short', 'probe, directory_bits, catalog_rows, estimates[2:]' ],
	[ estimates => 'estimates with a NULL', 'probe, directory_bits, catalog_rows, array_append(estimates[2:], NULL)' ],
	[ estimates => 'estimates two-dimensional', 'probe, directory_bits, catalog_rows, ARRAY[estimates, estimates]' ],
	[ estimates => 'a negative count', 'probe, directory_bits, catalog_rows, array_prepend(-1::bigint, estimates[2:])' ],
	[ estimates => 'probe NULL', 'NULL::int, directory_bits, catalog_rows, estimates' ],
	[ estimates => 'probe out of range', 'probe + 1000, directory_bits, catalog_rows, estimates' ],
	[ estimates => 'a probe answered twice', 'probe, directory_bits, catalog_rows, estimates FROM ' . $call{estimates}
		  . ' UNION ALL SELECT probe, directory_bits, catalog_rows, estimates' ],
	[ estimates => 'directory_bits NULL', 'probe, NULL::int, catalog_rows, estimates' ],
	[ estimates => 'directory_bits 99', 'probe, 99, catalog_rows, estimates' ],
	[ estimates => 'catalog_rows NULL', 'probe, directory_bits, NULL::float8, estimates' ],
	[ estimates => 'catalog_rows NaN', "probe, directory_bits, 'NaN'::float8, estimates" ],
	[ estimates => 'catalog_rows negative', 'probe, directory_bits, -5::float8, estimates' ],
	[ rank => 'probe NULL', 'NULL::int, id, votes' ],
	[ rank => 'votes NULL', 'probe, id, NULL::int' ],
	[ rank => 'probe out of range', 'probe + 1000, id, votes' ],
	[ vote => 'item NULL', 'NULL::int, id, title, score, anchors, aligned_pairs, total_pairs, offset_frames, '
		  . 'clip_first_frame, clip_last_frame, log_chance, drift_pairs' ],
	[ vote => 'score NULL', 'item, id, title, NULL::int, anchors, aligned_pairs, total_pairs, offset_frames, '
		  . 'clip_first_frame, clip_last_frame, log_chance, drift_pairs' ],
	[ vote => 'an item nobody asked for', 'item + 1000, id, title, score, anchors, aligned_pairs, total_pairs, '
		  . 'offset_frames, clip_first_frame, clip_last_frame, log_chance, drift_pairs' ],
	[ vote => 'another id than the item\'s', 'item, id + 1, title, score, anchors, aligned_pairs, total_pairs, '
		  . 'offset_frames, clip_first_frame, clip_last_frame, log_chance, drift_pairs' ],
	[ vote => 'log_chance NaN', "item, id, title, score, anchors, aligned_pairs, total_pairs, offset_frames, "
		  . "clip_first_frame, clip_last_frame, 'NaN'::float8, drift_pairs" ],
	[ vote => 'offset_frames infinite', "item, id, title, score, anchors, aligned_pairs, total_pairs, 'Infinity'::float8, "
		  . 'clip_first_frame, clip_last_frame, log_chance, drift_pairs' ],
	[ vote => 'clip frames out of range', 'item, id, title, score, anchors, aligned_pairs, total_pairs, offset_frames, '
		  . 'clip_first_frame, -1::bigint, log_chance, drift_pairs' ],
	[ vote => 'drift_pairs NULL', 'item, id, title, score, anchors, aligned_pairs, total_pairs, offset_frames, '
		  . 'clip_first_frame, clip_last_frame, log_chance, NULL::int' ],
	[ vote => 'drift_pairs negative', 'item, id, title, score, anchors, aligned_pairs, total_pairs, offset_frames, '
		  . 'clip_first_frame, clip_last_frame, log_chance, -1' ],
);
for my $case (@hostile)
{
	my ($fn, $what, $columns) = @$case;
	$shards[$holder]->safe_psql($db, "CREATE OR REPLACE FUNCTION public.$signature{$fn} RETURNS SETOF record "
		  . "LANGUAGE sql STABLE STRICT AS \$\$ SELECT $columns FROM $call{$fn} \$\$");
	($rc, $out, $err) = $coord->psql($db, $probe, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:  08P01: shard p$holder of cluster "afp_shards" failed/, "afp_shard_$fn answers $what: 08P01 naming p$holder")
	  or diag("rc $rc, out $out, err $err");
	$shards[$holder]->safe_psql($db, "CREATE OR REPLACE FUNCTION public.$signature{$fn} RETURNS SETOF record "
		  . "LANGUAGE sql STABLE STRICT AS \$\$ SELECT * FROM $call{$fn} \$\$");
}
# A shard whose afp speaks another version of the protocol is named, before anything is asked of it.
$shards[$holder]->safe_psql($db, q{CREATE OR REPLACE FUNCTION public.afp_shard_protocol() RETURNS int
	LANGUAGE sql STABLE STRICT AS $$ SELECT 99 $$});
($rc, $out, $err) = $coord->psql($db, $probe, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  08P01: shard p$holder of cluster "afp_shards" failed/, 'a shard of another protocol: 08P01 naming it')
  or diag("rc $rc, out $out, err $err");
like($err, qr/speaks shard protocol 99, the coordinator 2/, '... saying which versions');
$shards[$holder]->safe_psql($db, q{CREATE OR REPLACE FUNCTION public.afp_shard_protocol() RETURNS int
	AS '$libdir/afp', 'afp_shard_protocol' LANGUAGE C STABLE STRICT PARALLEL SAFE});
is($coord->safe_psql($db, $probe), '1', '... and with the protocol restored the track is found again');

# Under afp.shard_allow_partial a shard that answers malformed rows is left out, with a warning.
$shards[$holder]->safe_psql($db, "CREATE OR REPLACE FUNCTION public.$signature{estimates} RETURNS SETOF record "
	  . "LANGUAGE sql STABLE STRICT AS \$\$ SELECT probe, directory_bits, catalog_rows, NULL::bigint[] FROM $call{estimates} \$\$");
($rc, $out, $err) = $coord->psql($db, "SET afp.shard_allow_partial = on; $probe");
is("$rc $out", '0 0', 'afp.shard_allow_partial: a shard answering NULL estimates is left out');
like($err, qr/the answer is partial: 1 of 2 shards did not answer/, '... with a warning');
$shards[$holder]->safe_psql($db, "CREATE OR REPLACE FUNCTION public.$signature{estimates} RETURNS SETOF record "
	  . "LANGUAGE sql STABLE STRICT AS \$\$ SELECT * FROM $call{estimates} \$\$");
is($coord->safe_psql($db, $probe), '1', 'with the shard functions restored the track is found again');
is($coord->safe_psql($db, 'SELECT pg_postmaster_start_time()'), $started, 'the coordinator never crashed');

done_testing();
