# The install script of the current version (sql/afp--0.7.0.sql, which CREATE EXTENSION runs) makes
# exactly what the upgrade chain makes from 0.1.0 (afp--0.1.0.sql, then afp--A--B.sql): the two
# databases dump the same with pg_dump --schema-only --binary-upgrade, which writes out every member
# of the extension with its definition, comment and privileges (a plain dump writes only CREATE
# EXTENSION). The same for afp_shards when PL/Proxy is installed.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use AfpTest;

my $node = AfpTest::node('install_script', empty => 1);

# The schema of a database as pg_dump --binary-upgrade writes it, without what differs between any
# two databases (object oids, the dump's own header lines, the order of required extensions).
sub members
{
	my ($db) = @_;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run([ 'pg_dump', '--schema-only', '--binary-upgrade', '-d', $node->connstr($db) ],
		'>', \$stdout, '2>', \$stderr);
	die "pg_dump of $db failed: $stderr" unless $ok;
	# The extensions an extension requires are listed in the order of their dependency records.
	$stdout =~ s/(binary_upgrade_create_empty_extension\(.*), ARRAY\[[^\]]*\]::pg_catalog\.text\[\]\)/$1, ARRAY[...])/g;
	return join("\n", grep { !/binary_upgrade_set_next_|^-- Dumped (from|by)|^\\(un)?restrict / } split(/\n/, $stdout));
}

$node->safe_psql('postgres', 'CREATE DATABASE direct');
$node->safe_psql('postgres', 'CREATE DATABASE chain');
$node->safe_psql('direct', 'CREATE EXTENSION afp');
is($node->safe_psql('direct', q{SELECT extversion FROM pg_extension WHERE extname = 'afp'}), '0.7.0',
	'CREATE EXTENSION afp installs 0.7.0');
$node->safe_psql('chain', q{CREATE EXTENSION afp VERSION '0.1.0'});
$node->safe_psql('chain', 'ALTER EXTENSION afp UPDATE');
# The upgrade keeps 0.1.0's afp_tracks as a table of the user's (0.7.0 left it out of the extension).
$node->safe_psql('chain', 'DROP TABLE afp_tracks');

my $direct = members('direct');
my $chain = members('chain');
like($direct, qr/ALTER EXTENSION afp ADD FUNCTION public\.match_clip\(clip bytea, catalog regclass, max_results integer, OUT/,
	'the dump lists the members of the extension');
my $members = () = $direct =~ /ALTER EXTENSION afp ADD /g;
cmp_ok($members, '>=', 45, "... all of them ($members)");
is($direct, $chain, 'afp--0.7.0.sql makes what afp--0.1.0.sql and the upgrade scripts make');
is($node->safe_psql('direct', q{SELECT count(*) FROM pg_class WHERE relname = 'afp_tracks'}), '0',
	'CREATE EXTENSION makes no catalogue');

SKIP:
{
	my ($rc) = $node->psql('postgres', 'CREATE EXTENSION plproxy');
	skip 'PL/Proxy is not installed', 1 if $rc != 0;
	$node->safe_psql('direct', 'CREATE EXTENSION plproxy; CREATE EXTENSION afp_shards');
	# afp_shards 0.5.0 named afp's afp_tracks as its functions' default catalogue.
	$node->safe_psql('chain', q{SELECT afp_create_catalog(); CREATE EXTENSION plproxy;
		CREATE EXTENSION afp_shards VERSION '0.5.0'});
	$node->safe_psql('chain', 'ALTER EXTENSION afp_shards UPDATE; DROP TABLE afp_tracks');
	is(members('direct'), members('chain'),
		'afp_shards--0.7.0.sql makes what afp_shards--0.5.0.sql and its upgrade make');
}

done_testing();
