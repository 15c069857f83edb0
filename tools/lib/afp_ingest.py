#!/usr/bin/python3
"""afp-ingest: fingerprint audio files into a catalogue over a plain PostgreSQL connection.

Each file's bytes are sent to fingerprint() (the server needs no access to the files), N files
at a time on N connections. Files already in the catalogue (same SHA-256 of their bytes, kept in
meta->>'sha256') are skipped, so an interrupted run resumes where it stopped. Files the server
cannot decode are listed at the end; the exit status is 1 if there were any. A catalogue that does
not exist yet is made with afp_create_catalog(). With --skip-duplicates, a file whose audio the
catalogue already holds (another format of the same recording, an excerpt) is skipped and listed,
by afp_shared_audio(). Files under the directories that are not taken for audio (by extension) are
counted and listed. The last line says what, if anything, is left to do.
"""
import argparse
import concurrent.futures
import csv
import hashlib
import os
import subprocess
import sys
import threading
import time

import psycopg
from psycopg import sql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from afp_tools import afp, audio_files, connect, describe, die  # noqa: E402


def tags_of(path):
    """Title and artist from the file's tags when soxi can read them, else the file name."""
    tags = {}
    try:
        out = subprocess.run(["soxi", "-a", path], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            k, _, v = line.partition("=")
            if v and k.lower() in ("title", "artist", "album"):
                tags[k.lower()] = v.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    title = tags.get("title") or os.path.splitext(os.path.basename(path))[0]
    if tags.get("artist") and tags.get("title"):
        title = "%s - %s" % (tags["artist"], tags["title"])
    return title, tags


def read_csv(path):
    """Rows of path[,title] (a header naming those columns is optional)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if rows and rows[0] and rows[0][0].strip().lower() == "path":
        header = [h.strip().lower() for h in rows[0]]
        return [(r[header.index("path")], r[header.index("title")] if "title" in header and len(r) > header.index("title") else None)
                for r in rows[1:] if r]
    return [(r[0], r[1] if len(r) > 1 else None) for r in rows if r]


class Progress:
    """One status line: files done, files per second, hours of audio, ETA."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.done, self.failed, self.skipped, self.hours = total, 0, 0, 0, 0.0
        self.t0 = time.time()
        self.stream = stream
        self.tty = stream.isatty()
        self.lock = threading.Lock()
        self.last = 0.0

    def add(self, hours=0.0, failed=False, skipped=False):
        with self.lock:
            self.done += 1
            self.hours += hours
            self.failed += failed
            self.skipped += skipped
            now = time.time()
            if self.tty or now - self.last >= 2.0 or self.done == self.total:
                self.last = now
                self.show(now)

    def show(self, now):
        el = max(now - self.t0, 1e-6)
        rate = self.done / el
        eta = (self.total - self.done) / rate if rate > 0 else 0
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        line = "[%s%s] %d/%d files, %.1f files/s, %.2f h of audio, %d skipped, %d failed, ETA %s" % (
            "#" * filled, "." * (width - filled), self.done, self.total, rate, self.hours, self.skipped, self.failed,
            time.strftime("%H:%M:%S", time.gmtime(eta)))
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


# A file is a duplicate when the catalogue holds its audio over this share of its length.
DUPLICATE_SHARE = 0.8
DUPLICATE_SQL = """
SELECT s.track_id, s.title, s.end_s - s.start_s, afp_duration(q.fp)
FROM (SELECT fingerprint(%s) AS fp) q, afp_shared_audio(q.fp, %s::regclass) s
WHERE s.end_s - s.start_s >= %s * afp_duration(q.fp)
ORDER BY s.end_s - s.start_s DESC, s.track_id LIMIT 1"""


def main():
    ap = argparse.ArgumentParser(prog="afp-ingest", description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", help="audio files and directories (searched recursively)")
    ap.add_argument("--csv", help="a CSV of path[,title] rows to ingest")
    ap.add_argument("-d", "--dbname", help="connection string or URI (default: the PG* environment)")
    ap.add_argument("-t", "--table", default="afp_tracks",
                    help="catalogue with title text, fp afp and meta jsonb columns (default afp_tracks)")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2, help="files in parallel, one connection each")
    ap.add_argument("--max-bytes", type=int, default=256 * 1024 * 1024, help="skip larger files without sending them")
    ap.add_argument("--skip-duplicates", action="store_true",
                    help="skip a file whose audio the catalogue already has over %d%% of the file's length "
                         "(afp_shared_audio), whatever its format or bytes" % round(DUPLICATE_SHARE * 100))
    args = ap.parse_args()

    passed_over = []
    items = [(p, None) for p in audio_files(args.paths, passed_over)]
    if args.csv:
        base = os.path.dirname(os.path.abspath(args.csv))
        items += [(p if os.path.isabs(p) else os.path.join(base, p), t) for p, t in read_csv(args.csv)]
    if not items:
        die("afp-ingest: no audio files given (files, directories or --csv)")

    table = sql.SQL(".").join(sql.Identifier(part) for part in args.table.split("."))
    try:
        with connect(args.dbname) as conn:
            # A catalogue is the user's table, not part of the extension: a first run makes it.
            if conn.execute("SELECT to_regclass(%s) IS NULL", (args.table,)).fetchone()[0]:
                made = conn.execute("SELECT afp_create_catalog(%s)::text", (args.table,)).fetchone()[0]
                print("afp-ingest: created the catalogue %s (afp_create_catalog)" % made, file=sys.stderr)
            have = {r[0] for r in conn.execute(sql.SQL("SELECT meta->>'sha256' FROM {} WHERE meta ? 'sha256'")
                                               .format(table)).fetchall()}
    except (psycopg.Error, afp.AfpError) as e:
        die("afp-ingest: %s" % describe(e))

    progress = Progress(len(items))
    failures = []
    duplicates = []
    claimed = set()
    lock = threading.Lock()
    local = threading.local()
    hours_of = sql.SQL("SELECT afp_duration(fp) / 3600 FROM {} WHERE id = %s").format(table)

    def one(item):
        path, title = item
        try:
            size = os.path.getsize(path)
            if size > args.max_bytes:
                raise ValueError("%d bytes, more than --max-bytes" % size)
            with open(path, "rb") as f:
                data = f.read()
        except (OSError, ValueError) as e:
            failures.append((path, str(e)))
            progress.add(failed=True)
            return
        digest = hashlib.sha256(data).hexdigest()
        with lock:
            if digest in have or digest in claimed:
                progress.add(skipped=True)
                return
            claimed.add(digest)
        auto_title, tags = tags_of(path)
        meta = {"sha256": digest, "path": os.path.abspath(path), "bytes": len(data)}
        meta.update({k: v for k, v in tags.items() if k != "title"})
        client = getattr(local, "client", None)
        try:
            if client is None:  # one connection per worker, made on its first file
                client = local.client = afp.Client(connect(args.dbname), catalog=args.table)
            if args.skip_duplicates:
                same = client.conn.execute(DUPLICATE_SQL, (data, args.table, DUPLICATE_SHARE)).fetchone()
                if same is not None:
                    duplicates.append((path, same))
                    progress.add(skipped=True)
                    return
            track_id = client.learn(title or auto_title, data, meta=meta)
            hours = client.conn.execute(hours_of, (track_id,)).fetchone()[0]
            progress.add(hours=hours)
        except (psycopg.Error, afp.AfpError) as e:
            failures.append((path, describe(e)))
            progress.add(failed=True)
            # A worker whose connection failed or broke makes a new one for its next file.
            if client is not None and client.conn.closed:
                local.client = None

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        list(pool.map(one, items))
    elapsed = time.time() - t0
    ingested = progress.done - progress.skipped - progress.failed
    print("afp-ingest: %d ingested (%.2f h of audio, %.0f x real time), %d already there, %d failed, in %.1f s"
          % (ingested, progress.hours, progress.hours * 3600 / max(elapsed, 1e-6), progress.skipped - len(duplicates),
             len(failures), elapsed)
          + ("; %d duplicates by audio" % len(duplicates) if args.skip_duplicates else "")
          + ("; %d files not taken for audio" % len(passed_over) if passed_over else ""), file=sys.stderr)
    for path, why in sorted(failures):
        print("  failed: %s: %s" % (path, why), file=sys.stderr)
    for path, (track_id, track_title, shared, length) in sorted(duplicates):
        print("  duplicate: %s: the audio of track %s (%s), %.1f of its %.1f s" % (path, track_id, track_title, shared, length),
              file=sys.stderr)
    for path in sorted(passed_over):
        print("  not audio (by its extension), skipped: %s" % path, file=sys.stderr)
    print("afp-ingest: %s" % afterwards(args.dbname, args.table), file=sys.stderr)
    sys.exit(1 if failures else 0)


def afterwards(dsn, table):
    """What, if anything, the user must do once the files are in: the catalogue's afp_landmark
    index is searchable as inserts go (it merges itself; autovacuum packs the rest), so nothing,
    unless the catalogue has no such index."""
    try:
        with connect(dsn) as conn:
            row = conn.execute(
                "SELECT i.indexrelid::regclass::text, s.runs, s.pending_postings"
                "  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam,"
                "       LATERAL afp_index_stats(i.indexrelid::regclass) s"
                " WHERE i.indrelid = to_regclass(%s) AND a.amname = 'afp_landmark' AND i.indisvalid"
                " LIMIT 1", (table,)).fetchone()
    except psycopg.Error as e:
        return "could not read the catalogue's index: %s" % describe(e)
    if row is None:
        return ("%s has no afp_landmark index, so match_clip() reads every row: "
                "CREATE INDEX ON %s USING afp_landmark (fp)" % (table, table))
    index, runs, pending = row
    return ("nothing to run afterwards: %s is searchable as it stands (%d runs, %d pending postings); "
            "it merges as inserts go and autovacuum packs it (VACUUM %s does that now, optionally)"
            % (index, runs, pending, table))


if __name__ == "__main__":
    main()
