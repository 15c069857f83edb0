#!/usr/bin/env bash
# Crash safety, in TAP: a backend killed with SIGKILL in the middle of a bulk ingest and in the
# middle of a CREATE INDEX makes the server recover; afterwards every committed row is there,
# no uncommitted row is, and the GIN index answers exactly like a sequential scan.
# Run by scripts/test on the private cluster (the kill restarts every backend of the cluster).
set -uo pipefail
. "$(dirname "$0")/../../scripts/common.sh"
db=afp_crash
n=0
ok() { n=$((n + 1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi; }
q() { psql -X -Atq -d "$db" -c "$1"; }
wait_ready() { for _ in $(seq 1 100); do psql -X -Atq -d postgres -c 'SELECT 1' >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1
q "CREATE EXTENSION afp" >/dev/null
q "CREATE TABLE tracks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text UNIQUE, fp afp COMPRESSION lz4 NOT NULL)" >/dev/null
q "CREATE INDEX tracks_fp_idx ON tracks USING gin (fp)" >/dev/null

# 1. SIGKILL during a bulk ingest. The client commits one row at a time and notes each commit
#    after COMMIT returns; a second session holds an open transaction with rows it never commits.
/usr/bin/python3 - "$db" "$AFP_FIXTURES" "$tmp/committed" "$tmp/pid" <<'PY' &
import base64, csv, os, sys, psycopg2
db, fixtures, log, pidfile = sys.argv[1:]
audio = [base64.b64decode(r["audio"]) for r in csv.DictReader(open(os.path.join(fixtures, "accuracy.csv")))]
c = psycopg2.connect(dbname=db)
cur = c.cursor()
cur.execute("SELECT pg_backend_pid()")
open(pidfile, "w").write(str(cur.fetchone()[0]))
c.commit()
with open(log, "a") as f:
    for i in range(100000):
        try:
            cur.execute("INSERT INTO tracks (title, fp) VALUES (%s, fingerprint(%s))", ("c%d" % i, psycopg2.Binary(audio[i % len(audio)])))
            c.commit()
        except psycopg2.Error:
            break
        f.write("c%d\n" % i); f.flush(); os.fsync(f.fileno())
PY
ingest=$!
psql -X -q -d "$db" >/dev/null 2>&1 <<'SQL' &
BEGIN;
INSERT INTO tracks (title, fp) SELECT 'uncommitted-' || g, fp FROM (SELECT fp FROM tracks LIMIT 1) t, generate_series(1, 3) g;
INSERT INTO tracks (title, fp) VALUES ('uncommitted-x', '1:1:8000:128:8000:23341697@5');
SELECT pg_sleep(60);
COMMIT;
SQL
holder=$!
for _ in $(seq 1 100); do [ -s "$tmp/committed" ] && [ "$(wc -l < "$tmp/committed")" -ge 40 ] && break; sleep 0.1; done
kill -9 "$(cat "$tmp/pid")"
wait "$ingest" 2>/dev/null; wait "$holder" 2>/dev/null
wait_ready
ok "the server accepts connections after a backend was killed mid-ingest" 'q "SELECT 1" >/dev/null'
committed=$(wc -l < "$tmp/committed")
present=$(q "SELECT count(*) FROM tracks t JOIN unnest(string_to_array('$(tr '\n' ',' < "$tmp/committed" | sed 's/,$//')', ',')) c(title) USING (title)")
ok "every committed row of the ingest is there ($committed)" '[ "$committed" -ge 40 ] && [ "$present" = "$committed" ]'
ok "no row of the uncommitted transaction is" '[ "$(q "SELECT count(*) FROM tracks WHERE title LIKE '"'"'uncommitted-%'"'"'")" = 0 ]'
ok "at most the one in-flight insert is beyond the log" '[ $(( $(q "SELECT count(*) FROM tracks") - committed )) -le 1 ]'

# 2. SIGKILL during CREATE INDEX: the half-built index is gone after recovery; building it again works.
q "DROP INDEX tracks_fp_idx" >/dev/null
q "INSERT INTO tracks (title, fp) SELECT 'dup-' || g || '-' || t.title, t.fp FROM tracks t, generate_series(1, 40) g" >/dev/null
psql -X -q -d "$db" -c "SET maintenance_work_mem = '1MB'" -c "CREATE INDEX tracks_fp_idx ON tracks USING gin (fp)" >/dev/null 2>&1 &
builder=$!
for _ in $(seq 1 100); do
  pid=$(psql -X -Atq -d postgres -c "SELECT pid FROM pg_stat_progress_create_index WHERE datname = '$db'")
  [ -n "$pid" ] && break; sleep 0.05
done
ok "the index build was caught in progress" '[ -n "$pid" ]'
[ -n "$pid" ] && kill -9 "$pid"
wait "$builder" 2>/dev/null
wait_ready
ok "the server recovers from a backend killed during CREATE INDEX" 'q "SELECT 1" >/dev/null'
ok "the half-built index does not exist" '[ "$(q "SELECT count(*) FROM pg_class WHERE relname = '"'"'tracks_fp_idx'"'"'")" = 0 ]'
q "CREATE INDEX tracks_fp_idx ON tracks USING gin (fp)" >/dev/null
ok "the index builds again" '[ "$(q "SELECT indisvalid FROM pg_index WHERE indexrelid = '"'"'tracks_fp_idx'"'"'::regclass")" = t ]'
cmp_sql="SELECT string_agg(p.id || ':' || t.id, ',' ORDER BY p.id, t.id) FROM (SELECT id, fp FROM tracks WHERE id % 97 = 0) p JOIN tracks t ON t.fp % p.fp"
by_index=$(psql -X -Atq -d "$db" -c "SET enable_seqscan = off" -c "$cmp_sql")
by_scan=$(psql -X -Atq -d "$db" -c "SET enable_bitmapscan = off" -c "SET enable_indexscan = off" -c "$cmp_sql")
ok "the rebuilt index answers exactly like a sequential scan" '[ -n "$by_index" ] && [ "$by_index" = "$by_scan" ]'
ok "amcheck-free sanity: every row's fingerprint still validates" '[ "$(q "SELECT count(*) FROM tracks WHERE afp_landmark_count(fp::text::afp) IS NULL")" = 0 ]'

psql -X -q -d postgres -c "DROP DATABASE $db" >/dev/null 2>&1
echo "1..$n"
