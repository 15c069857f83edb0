# Damaged afp_landmark pages: a backend must never crash or hang on them, every reader must refuse
# them with a clear error, and afp_index_check must never call a damaged index healthy.
#
# One small index is made with every page kind (meta, row, pending, run directory maps, directories,
# data, and pages a merge freed). The server is stopped, and copies of the table and index files are
# damaged, each copy in one way at one page: the page zeroed (as a page never written, e.g. the
# index a killed REINDEX CONCURRENTLY leaves), the file truncated, bytes or 4-byte words of the page
# header, the special space or the contents replaced. Each damaged index is then read and written
# the ways a client can: afp_index_stats, afp_index_check, an ORDER BY fp <~> q scan, match_afp,
# an INSERT, afp_index_merge and VACUUM.
#
# What must hold for every case and statement: no backend is killed by a signal, nothing runs past
# statement_timeout, and an error is one of the corruption errors (XX001 from PostgreSQL's own page
# checks, XX002 from afp's). afp_index_check on an index whose damage touched a page the index uses
# (zeroed, truncated away) must raise XX002 or report missing or orphaned postings.
#
# AFP_CORRUPTION_CASES sets the number of damaged copies (default 56: each page kind and each way,
# a few times; scripts/fuzz --long runs more), AFP_CORRUPTION_SEED the random seed, and
# AFP_CORRUPTION_ONLY (e.g. "238,263") runs only those cases of that seed, to replay a failure.
use strict;
use warnings;

use File::Copy;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use AfpTest;

my $cases = $ENV{AFP_CORRUPTION_CASES} // 56;
my $seed = $ENV{AFP_CORRUPTION_SEED} // 20261204;
my @selected = $ENV{AFP_CORRUPTION_ONLY} ? split(/,/, $ENV{AFP_CORRUPTION_ONLY}) : (1 .. $cases);
my $db = 'postgres';
my $blcksz = 8192;

# Checksums (the default from 18 on) would turn most damage into a checksum failure before afp sees
# the page; the point is what afp's readers do with a damaged page, so failures only warn.
my $node = AfpTest::node('corruption', conf => [ 'ignore_checksum_failure = on', 'statement_timeout = 60s' ]);

# The damaged copies: same columns and, once their files are overwritten below, the template's rows.
# They are made first, so that the rows copied into them are younger than their relfrozenxid.
$node->safe_psql($db, join('', map {
	"CREATE TABLE c$_ (id bigint, title text, fp afp NOT NULL); ALTER TABLE c$_ ALTER COLUMN fp SET STORAGE MAIN;"
	  . " CREATE INDEX c${_}_fp_idx ON c$_ USING afp_landmark (fp);\n"
} @selected));

# The template: runs of several generations (a 64 kB pending limit), a full merge that freed pages
# after deletes, then a pending chain.
$node->safe_psql($db, q{
	CREATE TABLE tpl (id bigint PRIMARY KEY, title text, fp afp NOT NULL);
	ALTER TABLE tpl ALTER COLUMN fp SET STORAGE MAIN;
	CREATE INDEX tpl_fp_idx ON tpl USING afp_landmark (fp) WITH (pending_limit = 64, directory_bits = 6);
	INSERT INTO tpl SELECT g, 'row ' || g, distractor(s.fp, g) FROM generate_series(1, 120) g JOIN songs s ON s.id = g % 6 + 1;
	DELETE FROM tpl WHERE id % 7 = 0;
	VACUUM tpl;
	INSERT INTO tpl SELECT g, 'row ' || g, distractor(s.fp, g) FROM generate_series(121, 140) g JOIN songs s ON s.id = g % 6 + 1;
	CHECKPOINT;
});
my ($runs, $pending, $free) = split /\|/, $node->safe_psql($db,
	"SELECT runs, pending_postings, pages - 1 FROM afp_index_stats('tpl_fp_idx')");
cmp_ok($runs, '>=', 1, "the template index has runs ($runs)");
cmp_ok($pending, '>', 0, "and pending postings ($pending)");
is(AfpTest::health($node, $db, 'tpl_fp_idx'), 'missing=0 orphaned=0', 'and is healthy');

my $datadir = $node->data_dir;
my %path;
for my $rel ('tpl', 'tpl_fp_idx', map { ("c$_", "c${_}_fp_idx") } @selected)
{
	$path{$rel} = "$datadir/" . $node->safe_psql($db, "SELECT pg_relation_filepath('$rel')");
}
$node->stop;

# The template index's pages: kind and whether the index uses it (a live generation).
my $index_bytes = slurp_file($path{tpl_fp_idx});
my $nblocks = length($index_bytes) / $blcksz;
my @pages = map { substr($index_bytes, $_ * $blcksz, $blcksz) } 0 .. $nblocks - 1;
my %live_generation = (0 => 1);
{
	# LandmarkMetaData after the 24-byte page header: the chains' generations and heads at 48, 80 and
	# 112, then nruns at 152 and the 80-byte runs from 160 (each starting with its generation).
	my $meta = substr($pages[0], 24);
	for my $chain (48, 80, 112)
	{
		my ($g, $head) = unpack('L L', substr($meta, $chain, 8));
		$live_generation{$g} = 1 if $head != 0xFFFFFFFF;
	}
	my $nruns = unpack('L', substr($meta, 152, 4));
	$live_generation{ unpack('L', substr($meta, 160 + 80 * $_, 4)) } = 1 for 0 .. $nruns - 1;
}
my @kind_name = qw(new meta data directory rows pending dirmap free);
my (@kind, @used);
for my $b (0 .. $nblocks - 1)
{
	my ($next, $kind, undef, $generation) = unpack('L S S L', substr($pages[$b], $blcksz - 16, 12));
	$kind = 0 if substr($pages[$b], 0, 24) eq "\0" x 24;
	$kind[$b] = $kind;
	$used[$b] = $kind >= 1 && $kind <= 6 && $live_generation{$generation} ? 1 : 0;
}
my %kinds_seen;
$kinds_seen{ $kind_name[ $kind[$_] ] // 'other' }++ for 0 .. $nblocks - 1;
note "template index: $nblocks pages: " . join(', ', map { "$_ $kinds_seen{$_}" } sort keys %kinds_seen);
for my $k (qw(meta rows pending dirmap directory data))
{
	ok($kinds_seen{$k}, "the template index has $k pages");
}

# The damage of case $i: [description, new index file contents, touches a used page].
srand($seed);
my @ways = qw(zero truncate header special bytes words);
my @by_kind = map { my $k = $_; [ grep { $kind[$_] == $k } 0 .. $nblocks - 1 ] } 0 .. 7;
my @kinds_present = grep { @{ $by_kind[$_] } } 1 .. 7;
sub damage
{
	my ($i) = @_;
	my $way = $ways[ $i % @ways ];
	my $k = $kinds_present[ int($i / @ways) % @kinds_present ];
	my $b = $by_kind[$k][ int(rand(@{ $by_kind[$k] })) ];
	my @copy = @pages;
	my $page = $copy[$b];
	my $what = "$way of block $b ($kind_name[$k])";
	my $hits_used = 0;
	if ($way eq 'zero')
	{
		$page = "\0" x $blcksz;
		$hits_used = $used[$b];
	}
	elsif ($way eq 'truncate')
	{
		$b = 1 + int(rand($nblocks - 1)) if $b == 0;
		splice(@copy, $b);
		$hits_used = grep { $used[$_] } $b .. $nblocks - 1;
		return [ "truncate to $b of $nblocks blocks", join('', @copy), $hits_used ];
	}
	elsif ($way eq 'header')
	{
		# pd_lower, pd_upper, pd_special or pd_pagesize_version
		my $field = (12, 14, 16, 18)[ int(rand(4)) ];
		my $value = (0, 1, 24, 8180, 8192, 65535, int(rand(65536)))[ int(rand(7)) ];
		substr($page, $field, 2) = pack('S', $value);
		$what .= ": header field at $field set to $value";
	}
	elsif ($way eq 'special')
	{
		# next, kind or generation of the special space
		my ($field, $size) = @{ ([ 0, 4 ], [ 4, 2 ], [ 8, 4 ])[ int(rand(3)) ] };
		my @values = $size == 2 ? (0, 1, 2, 3, 4, 5, 6, 7, 8, 65535) : (0, 1, $nblocks - 1, $nblocks, 0xFFFFFFFE, 0xFFFFFFFF, int(rand(2**32)));
		my $value = $values[ int(rand(@values)) ];
		substr($page, $blcksz - 16 + $field, $size) = pack($size == 2 ? 'S' : 'L', $value);
		$what .= ": special field at $field set to $value";
	}
	elsif ($way eq 'bytes')
	{
		# 1 to 8 random bytes of the contents (between the header and the special space)
		my $n = 1 + int(rand(8));
		for (1 .. $n)
		{
			my $at = 24 + int(rand($blcksz - 36));
			substr($page, $at, 1) = chr(int(rand(256)));
		}
		$what .= ": $n random bytes";
	}
	else
	{
		# a 4-byte word of the first 512 bytes of contents (counts, lengths, blocks, generations)
		my $at = 24 + 4 * int(rand(128));
		my $value = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, $nblocks, $nblocks + 1, int(rand(2**32)))[ int(rand(8)) ];
		substr($page, $at, 4) = pack('L', $value);
		$what .= ": word at $at set to $value";
	}
	$copy[$b] = $page;
	return [ $what, join('', @copy), $hits_used ];
}

my @damage = map { damage($_ - 1) } 1 .. $cases;
for my $i (@selected)
{
	my $d = $damage[ $i - 1 ];
	copy($path{tpl}, $path{"c$i"}) or die "copy: $!";
	open my $fh, '>', $path{"c${i}_fp_idx"} or die $!;
	binmode $fh;
	print $fh $d->[1];
	close $fh;
	# The copies' free space maps and visibility maps described their own (empty) files.
	unlink glob($path{"c$i"} . '_*'), glob($path{"c${i}_fp_idx"} . '_*');
}
$node->start;

# Every statement of a case, in its own session; returns [statement, '' | SQLSTATE, message].
my $probe = "(SELECT afp_slice(fp, 2, 8) FROM tpl WHERE id = 11)";
sub statements
{
	my ($i) = @_;
	my $idx = "c${i}_fp_idx";
	return (
		[ stats => "SELECT count(*) FROM afp_index_stats('$idx')" ],
		[ check => "SELECT missing + orphaned FROM afp_index_check('$idx')" ],
		[ scan => "SET enable_seqscan = off; SET enable_sort = off; SELECT id FROM c$i ORDER BY fp <~> $probe LIMIT 3" ],
		[ match => "SELECT count(*) FROM match_afp($probe, 'c$i')" ],
		[ insert => "INSERT INTO c$i SELECT 1000 + g, 'new', distractor(s.fp, 1000 + g) FROM generate_series(1, 3) g JOIN songs s ON s.id = g" ],
		[ merge => "SELECT afp_index_merge('$idx')" ],
		[ vacuum => "VACUUM c$i" ]);
}

my (%outcome, @crashes, @hangs, @other_errors, @healthy_but_damaged);
my $log_offset = -s $node->logfile;
for my $i (@selected)
{
	my ($what, undef, $hits_used) = @{ $damage[ $i - 1 ] };
	for my $st (statements($i))
	{
		my ($name, $sql) = @$st;
		my ($ret, $stdout, $stderr) = $node->psql($db, "\\set VERBOSITY verbose\n$sql",
			extra_params => [ '-v', 'ON_ERROR_STOP=1' ]);
		my $log = slurp_file($node->logfile, $log_offset);
		$log_offset = -s $node->logfile;
		if ($log =~ /terminated by signal|server closed the connection|was terminated/ || $stderr =~ /server closed the connection/)
		{
			push @crashes, "case $i ($what), $name";
			$node->poll_query_until($db, 'SELECT 1', '1');
			$log_offset = -s $node->logfile;
			next;
		}
		my ($state) = $stderr =~ /ERROR:\s+([0-9A-Z]{5}):/;
		$state //= $ret == 0 ? '' : 'no sqlstate';
		$outcome{$name}{ $state eq '' ? 'ok' : $state }++;
		push @hangs, "case $i ($what), $name" if $state eq '57014';
		push @other_errors, "case $i ($what), $name: " . ($stderr =~ /(ERROR:.*)/ ? $1 : $stderr)
		  if $state ne '' && $state ne 'XX001' && $state ne 'XX002' && $state ne '57014';
		push @healthy_but_damaged, "case $i ($what): check says $stdout"
		  if $name eq 'check' && $hits_used && $state eq '' && $stdout eq '0';
	}
}

note "outcomes per statement over " . scalar(@selected) . " damaged indexes:";
for my $name (qw(stats check scan match insert merge vacuum))
{
	note sprintf("  %-7s %s", $name, join(', ', map { "$_ $outcome{$name}{$_}" } sort keys %{ $outcome{$name} }));
}
is(join("\n", @crashes), '', "no backend died on any of " . scalar(@selected) . " damaged indexes");
is(join("\n", @hangs), '', 'no statement ran into statement_timeout');
is(join("\n", @other_errors), '', 'every error is XX001 (a page PostgreSQL refuses) or XX002 (a page afp refuses)');
is(join("\n", @healthy_but_damaged), '', 'afp_index_check never reports a zeroed or truncated page in use as healthy');
cmp_ok($outcome{check}{XX002} // 0, '>', 0, 'afp_index_check raised XX002 on some damaged indexes');

# The template itself was never touched: it still answers and checks clean.
is(AfpTest::health($node, $db, 'tpl_fp_idx'), 'missing=0 orphaned=0', 'the undamaged index is still healthy');

done_testing();
