# The quick start of docs/getting-started.md, word for word, as a role that is not a superuser:
# the commands are read from the document (so it cannot drift from this test) and run in order
# against a throwaway node. "sudo -u postgres CMD" runs CMD as the node's superuser, every other
# command as the role "you" (PGUSER and USER name it, as a login would); the installation steps
# (apt, venv, pip) are checked for the path and version of the package instead of being run,
# which scripts/package --install-check does. Then what the roles section promises: the reader
# recognises and cannot insert, the ingester learns.
use strict;
use warnings;

use File::Copy;
use File::Temp qw(tempfile);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use AfpTest;

my $root = $ENV{AFP_ROOT} or die 'AFP_ROOT must name the project (scripts/tap sets it)';
my $doc = slurp_file("$root/docs/getting-started.md");
my ($section) = $doc =~ /^## Quick start: the package\n(.*?)^## /ms
  or die 'docs/getting-started.md has no "## Quick start: the package" section';
my @blocks;
push @blocks, [ $1, $2 ] while $section =~ /^```(\w+)\n(.*?)^```/msg;
note scalar(@blocks) . ' code blocks in the quick start';

my ($version) = slurp_file("$root/afp.control") =~ /^default_version\s*=\s*'([^']+)'/m or die;
my ($deb_version) = slurp_file("$root/debian/changelog") =~ /^afp \(([^)]+)\)/ or die;
my $deb = "./build/package/postgresql-15-afp_${deb_version}_amd64.deb";

my $node = AfpTest::node('quickstart', empty => 1);
my $superuser = $node->safe_psql('postgres', 'SELECT current_user');
my $you = 'afp_quickstart_user';
my $work = $node->basedir . '/quickstart';
mkdir $work or die "mkdir $work: $!";
copy("$AfpTest::fixtures/song2.flac", "$work/song.flac") or die;
copy("$AfpTest::fixtures/clip_song2_at_11.25s_snr5.mp3", "$work/clip.mp3") or die;

# Runs a command in the work directory as a role; returns exit status, stdout and stderr.
sub run_as
{
	my ($role, @cmd) = @_;
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGUSER} = $role;
	local $ENV{USER} = $you;    # the login whose shell expands "$USER", also before sudo
	local $ENV{PGDATABASE};
	delete $ENV{PGDATABASE};
	local $ENV{PYTHONPATH} = "$root/python";
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err, init => sub { chdir $work or die "chdir $work: $!" });
	return ($? >> 8, $out, $err);
}

# A shell line of the document, as its reader would type it.
sub shell_line
{
	my ($line, $as) = @_;
	my $role = $as // $you;
	if ($line =~ /^sudo apt install (\S+\.deb)$/)
	{
		is($1, $deb, "the package path is the one scripts/package writes ($deb)");
		return;
	}
	if ($line =~ /^(sudo apt install python3-|python3 -m venv |~\/afp-env\/bin\/pip install )/)
	{
		note "installation step, not run here: $line";
		return;
	}
	$role = $superuser if $line =~ s/^sudo -u postgres //;
	my ($rc, $out, $err) = run_as($role, 'sh', '-c', $line);
	is($rc, 0, "as " . ($role eq $superuser ? 'the superuser' : $role) . ": $line") or diag "stdout: $out\nstderr: $err";
	return $out;
}

my ($python, $psql_block, $ran_roles) = ('', '', 0);
for my $block (@blocks)
{
	my ($lang, $text) = @$block;
	if ($lang eq 'sh')
	{
		for my $line (split /\n/, $text)
		{
			$line =~ s/\s+#.*$//;
			next if $line =~ /^\s*$/;
			shell_line($line);
			$ran_roles = 1 if $line =~ /GRANT/;
		}
	}
	elsif ($lang eq 'python')
	{
		$python = $text;
		my ($rc, $out, $err) = run_as($you, 'python3', '-c', $text);
		is($rc, 0, 'the Python lines run as a role that is not a superuser') or diag $err;
		like($out, qr/^Song 11\.2\d* 1\.0$/m, 'they learn song.flac and find clip.mp3 in it at 11.2 s');
	}
	elsif ($lang eq 'sql')
	{
		$psql_block = $text;
		my ($fh, $file) = tempfile(DIR => $work, SUFFIX => '.sql');
		print $fh $text;
		close $fh;
		my ($rc, $out, $err) = run_as($you, 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', 'music', '-f', $file);
		is($rc, 0, 'the psql lines run (large object, base64)') or diag $err;
		my $found = () = $out =~ /^\s*Song\s*\|\s*11\.2\d*\s*\|\s*1\s*$/mg;
		is($found, 2, 'both ways of sending clip.mp3 from psql find Song at 11.2 s');
	}
	else
	{
		fail("a code block of the quick start in a language this test cannot run: $lang");
	}
}
ok($python ne '' && $psql_block ne '' && $ran_roles, 'the quick start has Python, psql and role steps');

is($node->safe_psql('music', "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = '$you'"), 'f',
	'the quick start ran as a role with no superuser, CREATEROLE or CREATEDB attribute');
is($node->safe_psql('music', q{SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'afp_tracks'::regclass}), $you,
	'... which owns afp_tracks');
my ($rc, $out, $err) = run_as($superuser, 'psql', '-X', '-d', 'music', '-c', 'DROP EXTENSION afp');
like($err, qr/cannot drop extension afp because other objects depend on it/, 'a plain DROP EXTENSION afp refuses now');

# The roles section: a reader recognises (the psql lines of the document, as the reader) and
# cannot add tracks; an ingester learns.
my ($fh, $file) = tempfile(DIR => $work, SUFFIX => '.sql');
print $fh $psql_block;
close $fh;
($rc, $out, $err) = run_as('reader', 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', 'music', '-f', $file);
ok($rc == 0 && $out =~ /Song\s*\|\s*11\.2/, 'reader recognises clip.mp3 from psql') or diag $err;
($rc, $out, $err) = run_as('reader', 'psql', '-X', '-d', 'music', '-c',
	q{INSERT INTO afp_tracks (title, fp) SELECT title, fp FROM afp_tracks});
like($err, qr/permission denied for table afp_tracks/, 'reader cannot add tracks');
($rc, $out, $err) = run_as('ingester', 'python3', '-c', q{
import afp
client = afp.Client.connect("dbname=music")
print(client.learn("Song again", "song.flac"))
});
ok($rc == 0 && $out =~ /^\d+$/m, 'ingester learns a track with client.learn()') or diag $err;
($rc, $out, $err) = run_as('ingester', 'psql', '-X', '-d', 'music', '-c', 'DELETE FROM afp_tracks');
like($err, qr/permission denied for table afp_tracks/, 'ingester cannot delete tracks');

# README's package line names the same file.
my $readme = slurp_file("$root/README.md");
my @readme_debs = $readme =~ m{(\./build/package/postgresql-15-afp_\S+\.deb)}g;
ok(@readme_debs && !(grep { $_ ne $deb } @readme_debs), "README installs the same package ($deb)");

done_testing();
