# The command-line tools against a throwaway node: afp-ingest (makes the catalogue, recursive, skips what is there,
# names what fails with its SQLSTATE, --csv titles, a worker that cannot connect), afp-match
# (track and offset, "-" for no match, exit status) and afp-plot (a PNG), run as a user runs them.
use strict;
use warnings;

use File::Copy;
use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use AfpTest;

my $root = $ENV{AFP_ROOT} or die 'AFP_ROOT must name the project (scripts/tap sets it)';
my $db = 'postgres';
my $node = AfpTest::node('tools', empty => 1);
$node->safe_psql($db, 'CREATE EXTENSION afp');
my $dsn = $node->connstr($db);
my $fx = $AfpTest::fixtures;
my $lib = $node->basedir . '/library';
make_path("$lib/sub");
copy("$fx/$_", "$lib/$_") for qw(song1.wav song2.flac);
copy("$fx/$_", "$lib/sub/$_") for qw(song3.ogg song4.mp3 truncated.flac);
copy("$fx/song4.mp3", "$lib/sub/same_bytes_as_song4.mp3");
open(my $fh, '>', "$lib/notes.txt") or die; print $fh "not audio\n"; close $fh;

sub tool
{
	my ($name, @args) = @_;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run([ "$root/tools/$name", @args ], '>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stdout // '', $stderr // '');
}
sub one { return $node->safe_psql($db, shift) }

my ($rc, $out, $err) = tool('afp-ingest', '-d', $dsn, '-j', '2', $lib);
is($rc, 1, 'afp-ingest exits 1 when a file fails');
like($err, qr/created the catalogue afp_tracks \(afp_create_catalog\)/, 'afp-ingest makes the catalogue CREATE EXTENSION no longer makes');
like($err, qr/nothing to run afterwards: afp_tracks_fp_landmark_idx is searchable as it stands/,
	'afp-ingest says that nothing is left to run (no REINDEX, no VACUUM needed)');
like($err, qr/failed: .*truncated\.flac: 22000 audio data is truncated/, 'afp-ingest names the undecodable file and its SQLSTATE');
is(one('SELECT count(*) FROM afp_tracks'), '4', 'afp-ingest walks directories recursively, skipping non-audio files');
like($err, qr/4 ingested.*1 already there, 1 failed/, 'afp-ingest skips a second file with the same bytes');
like($err, qr/1 files not taken for audio.*not audio \(by its extension\), skipped: \S*notes\.txt/s,
	'afp-ingest counts and lists the files it does not take for audio');
like($err, qr/files\/s, .* h of audio, .*ETA/, 'afp-ingest shows progress with files/s, hours and ETA');
is(one(q{SELECT count(*) FROM afp_tracks WHERE length(meta->>'sha256') = 64 AND meta->>'path' LIKE '%/library/%'}), '4',
	'afp-ingest keeps the content hash and the path');

my $uri = sprintf('postgresql:///%s?host=%s&port=%d', $db, $node->host, $node->port);
($rc, $out, $err) = tool('afp-ingest', '-d', $uri, "$lib/song1.wav", "$lib/song2.flac");
ok($rc == 0 && $err =~ /0 ingested.*2 already there, 0 failed/, 'a rerun skips what is already ingested (URI connection)');

# Duplicates by audio: song1 again as FLAC (other bytes, the same recording) and an excerpt of
# song3 are skipped with --skip-duplicates; song6, new, goes in.
my $dups = $node->basedir . '/dups';
make_path($dups);
system('sox', "$fx/song1.wav", "$dups/song1_again.flac") == 0 or die 'sox failed';
copy("$fx/clip_song3_at_7.5s.wav", "$dups/excerpt_of_song3.wav");
copy("$fx/song6.wav", "$dups/song6.wav");
my $before = one('SELECT count(*) FROM afp_tracks');
($rc, $out, $err) = tool('afp-ingest', '-d', $dsn, '--skip-duplicates', $dups);
ok($rc == 0 && $err =~ /1 ingested.* 0 already there, 0 failed, in [\d.]+ s; 2 duplicates by audio/,
	'afp-ingest --skip-duplicates takes the new file and skips two whose audio is there') or diag $err;
like($err, qr/duplicate: \S*song1_again\.flac: the audio of track \d+ \(song1[^)]*\), (19|20)\.\d of its 20\.0 s/,
	'... the same recording in another format, with the track it duplicates');
like($err, qr/duplicate: \S*excerpt_of_song3\.wav: the audio of track \d+ \(song3[^)]*\)/, '... and an excerpt of a track');
is(one('SELECT count(*) FROM afp_tracks') - $before, 1, '... and only the new file went in');

my $csv = $node->basedir . '/list.csv';
open($fh, '>', $csv) or die; print $fh "path,title\n$fx/song5.opus,Song Five\n"; close $fh;
($rc) = tool('afp-ingest', '-d', $dsn, '--csv', $csv);
ok($rc == 0 && one(q{SELECT count(*) FROM afp_tracks WHERE title = 'Song Five'}) eq '1', 'afp-ingest --csv takes titles from the CSV');

($rc, $out, $err) = tool('afp-match', '-d', $dsn, "$fx/clip_song3_at_7.5s.wav", "$fx/clip_unknown.wav");
like($out, qr/clip_song3_at_7\.5s\.wav\tsong3\t7\.[45]\d*\t/, 'afp-match names the track and the offset of a clip');
like($out, qr/clip_unknown\.wav\t-$/m, 'afp-match prints - for a clip that is not in the catalogue');
is($rc, 0, 'afp-match exits 0 when every file could be read');
($rc, $out, $err) = tool('afp-match', '-d', $dsn, "$fx/not_audio.txt");
ok($rc == 1 && $err =~ /22000 could not decode audio data/, 'afp-match reports an undecodable file and exits 1');

($rc, $out, $err) = tool('afp-ingest', '-d', $dsn =~ s/dbname='?\w+'?/dbname=no_such_database_here/r, "$lib/song1.wav");
ok($rc == 2 && $err =~ /afp-ingest:/, 'afp-ingest fails cleanly without a database');

# Workers whose connect() fails (a role allowed one connection, four workers): the run goes on to
# its summary and names the failures instead of dying with a traceback.
one(q{CREATE ROLE afp_cli_one LOGIN CONNECTION LIMIT 1; GRANT INSERT, SELECT ON afp_tracks TO afp_cli_one; DELETE FROM afp_tracks});
($rc, $out, $err) = tool('afp-ingest', '-d', "$dsn user=afp_cli_one", '-j', '4', "$lib/song1.wav", "$lib/song2.flac",
	"$lib/sub/song3.ogg", "$lib/sub/song4.mp3");
ok($rc == 1 && $err =~ /^afp-ingest: .* ingested/m && $err =~ /failed: .*too many connections/ && $err !~ /Traceback/,
	'afp-ingest: a worker that cannot connect is a failed file in the summary, not a crash');

# The server's advice reaches the user: a clip over afp.max_clip_seconds, with the hint to use match_segments().
($rc, $out, $err) = tool('afp-match', '-d', "$dsn options='-c afp.max_clip_seconds=1'", "$fx/clip_song3_at_7.5s.wav");
ok($rc == 1 && $err =~ /54000 clip is longer than afp\.max_clip_seconds.* Hint: .*match_segments\(\)/,
	'afp-match prints the server\'s hint') or diag($err);

# A database without the extension: every tool says what to do, not "function ... does not exist".
one('CREATE DATABASE no_afp_here');
my $bare = $dsn =~ s/dbname='?\w+'?/dbname=no_afp_here/r;
for my $run ([ 'afp-match', "$fx/clip_song3_at_7.5s.wav" ], [ 'afp-ingest', "$lib/song1.wav" ])
{
	($rc, $out, $err) = tool($run->[0], '-d', $bare, $run->[1]);
	ok($rc == 2 && $err =~ /^$run->[0]: afp is not installed in this database: CREATE EXTENSION afp: The database "no_afp_here" has no extension afp\.$/m,
		"$run->[0] in a database without afp says to CREATE EXTENSION afp") or diag($err);
}

SKIP:
{
	skip 'matplotlib is not installed', 2 if system('/usr/bin/python3', '-c', 'import matplotlib') != 0;
	one(q{INSERT INTO afp_tracks (title, fp) SELECT 'song3', fingerprint(pg_read_binary_file('} . "$fx/song3.ogg" . q{'))});
	my $png = $node->basedir . '/plot.png';
	($rc, $out, $err) = tool('afp-plot', '-d', $dsn, "$fx/clip_song3_at_7.5s.wav", '-o', $png);
	ok($rc == 0 && -s $png && do { open(my $p, '<', $png); my $head; read($p, $head, 4); substr($head, 1, 3) eq 'PNG' },
		'afp-plot draws the clip, the match and the vote as a PNG') or diag($err);
	($rc, $out, $err) = tool('afp-plot', '-d', $bare, "$fx/clip_song3_at_7.5s.wav", '-o', $png);
	ok($rc == 2 && $err =~ /^afp-plot: afp is not installed in this database: CREATE EXTENSION afp/m,
		'afp-plot in a database without afp says to CREATE EXTENSION afp') or diag($err);
}

done_testing();
