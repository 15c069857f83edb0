#!/usr/bin/env bash
# pg_dump + pg_restore of a database with afp_tracks and a user catalogue gives the same
# match_clip answers (TAP). Run by scripts/test against the private cluster.
set -uo pipefail
. "$(dirname "$0")/../../scripts/common.sh"
export PATH="$(afp_bindir):$PATH"
src=afp_dump_src; dst=afp_dump_dst
n=0
ok() { n=$((n + 1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for d in $src $dst; do psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $d" -c "CREATE DATABASE $d" >/dev/null 2>&1; done

psql -X -q -d $src -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE EXTENSION afp;
\i sql/include/songs.psql
INSERT INTO afp_tracks (title, fp, meta) VALUES
  ('song1', fingerprint(decode(:'song1', 'base64')), '{"n": 1}'), ('song2', fingerprint(decode(:'song2', 'base64')), NULL),
  ('song3', fingerprint(decode(:'song3', 'base64')), NULL);
CREATE TABLE my_music (id int PRIMARY KEY, title text, fp afp COMPRESSION lz4);
INSERT INTO my_music VALUES (10, 'four', fingerprint(decode(:'song4', 'base64'))), (20, 'five', fingerprint(decode(:'song5', 'base64')));
CREATE INDEX ON my_music USING gin (fp);
\set c1 \`base64 -w0 "$AFP_FIXTURES/clip_song2_at_11.25s_snr5.mp3"\`
\set c2 \`base64 -w0 "$AFP_FIXTURES/clip_song3_at_7.5s.wav"\`
CREATE TABLE probe_clips (name text, audio bytea);
INSERT INTO probe_clips VALUES ('c1', decode(:'c1', 'base64')), ('c2', decode(:'c2', 'base64')), ('s5', decode(:'song5', 'base64'));
SQL
answers="SELECT string_agg(p.name || ':' || m.track_id || ':' || round(m.offset_s::numeric, 2), ',' ORDER BY p.name, m.track_id)
         FROM probe_clips p, LATERAL (SELECT * FROM match_clip(p.audio) UNION ALL SELECT * FROM match_clip(p.audio, 'my_music')) m"
before=$(psql -X -Atq -d $src -c "$answers")
pg_dump -Fc -d $src -f "$tmp/dump" 2>"$tmp/dump.err"; rc=$?
ok "pg_dump of a database using afp succeeds" '[ $rc -eq 0 ]'
pg_restore -d $dst "$tmp/dump" 2>"$tmp/restore.err"; rc=$?
ok "pg_restore into an empty database succeeds" '[ $rc -eq 0 ]'
rows=$(psql -X -Atq -d $dst -c "SELECT string_agg(id || title, ',' ORDER BY id) FROM afp_tracks")
ok "afp_tracks rows and their ids come back" '[ "$rows" = "1song1,2song2,3song3" ]'
next_id=$(psql -X -Atq -d $dst -c "INSERT INTO afp_tracks (title, fp) SELECT 'x', fp FROM afp_tracks LIMIT 1 RETURNING id")
ok "the identity sequence continues after the restored ids" '[ "$next_id" = 4 ]'
psql -X -q -d $dst -c "DELETE FROM afp_tracks WHERE id = 4" >/dev/null
after=$(psql -X -Atq -d $dst -c "$answers")
ok "match_clip answers are the same after the restore ($before)" '[ -n "$before" ] && [ "$before" = "$after" ]'
digest="SELECT md5(string_agg(afp_send(fp)::text, '' ORDER BY id)) FROM my_music"
d1=$(psql -X -Atq -d $src -c "$digest"); d2=$(psql -X -Atq -d $dst -c "$digest")
ok "the fingerprints are byte for byte the same" '[ -n "$d1" ] && [ "$d1" = "$d2" ]'
for d in $src $dst; do psql -X -q -d postgres -c "DROP DATABASE $d" >/dev/null 2>&1; done
echo "1..$n"
