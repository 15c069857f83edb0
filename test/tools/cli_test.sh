#!/usr/bin/env bash
# Tests of the command-line tools (afp-ingest, afp-match) against the private cluster, in TAP.
# Run by scripts/test; needs the fixtures and a running cluster (PG* set by scripts/common.sh).
set -uo pipefail
. "$(dirname "$0")/../../scripts/common.sh"
db=afp_cli_test
n=0
ok() { n=$((n + 1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi; }
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1
psql -X -q -d "$db" -c "CREATE EXTENSION afp" >/dev/null
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/library/sub"
cp "$AFP_FIXTURES"/song1.wav "$AFP_FIXTURES"/song2.flac "$tmp/library/"
cp "$AFP_FIXTURES"/song3.ogg "$AFP_FIXTURES"/song4.mp3 "$AFP_FIXTURES"/truncated.flac "$tmp/library/sub/"
cp "$AFP_FIXTURES"/song4.mp3 "$tmp/library/sub/same_bytes_as_song4.mp3"
echo "not audio" > "$tmp/library/notes.txt"

"$AFP_ROOT/scripts/afp-ingest" -d "$db" -j 2 "$tmp/library" >"$tmp/out1" 2>"$tmp/err1"; rc=$?
ok "afp-ingest exits 1 when a file fails" '[ $rc -eq 1 ]'
ok "afp-ingest names the undecodable file and its SQLSTATE" 'grep -q "failed: .*truncated.flac: 22000 audio data is truncated" "$tmp/err1"'
ok "afp-ingest walks directories recursively, skipping non-audio files" \
   '[ "$(psql -X -Atq -d "$db" -c "SELECT count(*) FROM afp_tracks")" = 4 ]'
ok "afp-ingest skips a second file with the same bytes" 'grep -q "4 ingested.*1 already there, 1 failed" "$tmp/err1"'
ok "afp-ingest shows progress with files/s, hours and ETA" 'grep -q "files/s, .* h of audio, .*ETA" "$tmp/err1"'
ok "afp-ingest keeps the content hash and the path" \
   '[ "$(psql -X -Atq -d "$db" -c "SELECT count(*) FROM afp_tracks WHERE length(meta->>'"'"'sha256'"'"') = 64 AND meta->>'"'"'path'"'"' LIKE '"'"'%/library/%'"'"'")" = 4 ]'

"$AFP_ROOT/scripts/afp-ingest" -d "postgresql:///$db?host=$PGHOST&port=$PGPORT&user=$PGUSER" "$tmp/library/song1.wav" "$tmp/library/song2.flac" >/dev/null 2>"$tmp/err2"; rc=$?
ok "a rerun skips what is already ingested (URI connection)" '[ $rc -eq 0 ] && grep -q "0 ingested.*2 already there, 0 failed" "$tmp/err2"'

printf 'path,title\n%s,Song Five\n' "$AFP_FIXTURES/song5.opus" > "$tmp/list.csv"
"$AFP_ROOT/scripts/afp-ingest" -d "$db" --csv "$tmp/list.csv" >/dev/null 2>&1; rc=$?
ok "afp-ingest --csv takes titles from the CSV" \
   '[ $rc -eq 0 ] && [ "$(psql -X -Atq -d "$db" -c "SELECT count(*) FROM afp_tracks WHERE title = '"'"'Song Five'"'"'")" = 1 ]'

"$AFP_ROOT/scripts/afp-match" -d "$db" "$AFP_FIXTURES/clip_song3_at_7.5s.wav" "$AFP_FIXTURES/clip_unknown.wav" >"$tmp/m1" 2>&1; rc=$?
ok "afp-match names the track and the offset of a clip" 'grep -qE "clip_song3_at_7.5s.wav	song3	7\.[45][0-9]*	" "$tmp/m1"'
ok "afp-match prints - for a clip that is not in the catalogue" 'grep -qE "clip_unknown.wav	-$" "$tmp/m1"'
ok "afp-match exits 0 when every file could be read" '[ $rc -eq 0 ]'
"$AFP_ROOT/scripts/afp-match" -d "$db" "$AFP_FIXTURES/not_audio.txt" >/dev/null 2>"$tmp/m2"; rc=$?
ok "afp-match reports an undecodable file and exits 1" '[ $rc -eq 1 ] && grep -q "22000 could not decode audio data" "$tmp/m2"'

"$AFP_ROOT/scripts/afp-ingest" -d "dbname=no_such_database_here" "$tmp/library/song1.wav" >/dev/null 2>"$tmp/err3"; rc=$?
ok "afp-ingest fails cleanly without a database" '[ $rc -eq 2 ] && grep -q "afp-ingest:" "$tmp/err3"'

# Workers whose connect() fails (a role allowed one connection, four workers): the run goes on to
# its summary and names the failures instead of dying with a traceback.
psql -X -q -d "$db" -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS afp_cli_one" -c "CREATE ROLE afp_cli_one LOGIN CONNECTION LIMIT 1" \
  -c "GRANT INSERT, SELECT ON afp_tracks TO afp_cli_one" >/dev/null
psql -X -q -d "$db" -c "DELETE FROM afp_tracks" >/dev/null
"$AFP_ROOT/scripts/afp-ingest" -d "dbname=$db user=afp_cli_one" -j 4 "$tmp/library/song1.wav" "$tmp/library/song2.flac" \
  "$tmp/library/sub/song3.ogg" "$tmp/library/sub/song4.mp3" >/dev/null 2>"$tmp/err4"; rc=$?
ok "afp-ingest: a worker that cannot connect is a failed file in the summary, not a crash" \
   '[ $rc -eq 1 ] && grep -q "^afp-ingest: .* ingested" "$tmp/err4" && grep -q "failed: .*too many connections" "$tmp/err4" && ! grep -q Traceback "$tmp/err4"'
psql -X -q -d "$db" -c "REVOKE ALL ON afp_tracks FROM afp_cli_one" -c "DROP ROLE afp_cli_one" >/dev/null

/usr/bin/python3 -c "import matplotlib" 2>/dev/null && {
  "$AFP_ROOT/scripts/afp-plot" -d "$db" "$AFP_FIXTURES/clip_song3_at_7.5s.wav" -o "$tmp/plot.png" >/dev/null 2>"$tmp/plot.err"; rc=$?
  ok "afp-plot draws the clip, the match and the vote as a PNG" '[ $rc -eq 0 ] && [ "$(head -c 4 "$tmp/plot.png" | tail -c 3)" = PNG ]'
}

psql -X -q -d postgres -c "DROP DATABASE $db" >/dev/null
echo "1..$n"
