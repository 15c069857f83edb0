#!/usr/bin/python3
"""Soak test: N clients mixing INSERT ... fingerprint(), match_clip, DELETE, UPDATE and VACUUM.

Afterwards it checks: no unexpected error, every committed insert present and every committed
delete gone, the GIN index answering like a sequential scan (for % and for match_clip), and no
backend's private memory growing after the first minute. Prints a table; exits 1 on a failure.
"""
import argparse
import base64
import csv
import os
import random
import sys
import threading
import time
import uuid

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import devlib  # noqa: E402  (proc_status)

DB = "afp_soak"


def connect():
    return devlib.connect(DB)


def load_audio(fixtures):
    """Distinct audio files to insert: the fixture clips of the recall guard, and the songs."""
    audio = []
    with open(os.path.join(fixtures, "accuracy.csv")) as f:
        for row in csv.DictReader(f):
            audio.append(base64.b64decode(row["audio"]))
    for name in ("song1.wav", "song2.flac", "song3.ogg", "song4.mp3", "song5.opus", "song6.wav"):
        with open(os.path.join(fixtures, name), "rb") as f:
            audio.append(f.read())
    return audio


class Ledger:
    """What the clients know was committed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.present = {}      # title -> audio index
        self.deleted = set()
        self.counts = {}
        self.errors = []

    def count(self, op):
        with self.lock:
            self.counts[op] = self.counts.get(op, 0) + 1


def client(n, audio, ledger, deadline, memory, seed):
    rng = random.Random(seed)
    conn = connect()
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]
    first = None
    ops = ["insert"] * 30 + ["match"] * 40 + ["delete"] * 10 + ["update"] * 15 + ["vacuum"] * 5
    while time.time() < deadline:
        op = rng.choice(ops)
        try:
            if op == "insert":
                i = rng.randrange(len(audio))
                title = "t-%s" % uuid.uuid4()
                cur.execute("INSERT INTO soak_tracks (title, src, fp) VALUES (%s, %s, fingerprint(%s))",
                            (title, i, psycopg2.Binary(audio[i])))
                with ledger.lock:
                    ledger.present[title] = i
            elif op == "match":
                i = rng.randrange(len(audio))
                cur.execute("SELECT count(*) FROM match_clip(%s, 'soak_tracks')", (psycopg2.Binary(audio[i]),))
                cur.fetchone()
            elif op == "delete":
                with ledger.lock:
                    victims = list(ledger.present)
                    title = rng.choice(victims) if victims else None
                    if title:
                        del ledger.present[title]   # claimed: no other client deletes or updates it
                if title:
                    cur.execute("DELETE FROM soak_tracks WHERE title = %s", (title,))
                    with ledger.lock:
                        ledger.deleted.add(title)
            elif op == "update":
                with ledger.lock:
                    titles = list(ledger.present)
                    title = rng.choice(titles) if titles else None
                    if title:
                        del ledger.present[title]
                if title:
                    i = rng.randrange(len(audio))
                    cur.execute("UPDATE soak_tracks SET src = %s, fp = fingerprint(%s) WHERE title = %s",
                                (i, psycopg2.Binary(audio[i]), title))
                    with ledger.lock:
                        ledger.present[title] = i
            else:
                cur.execute("VACUUM soak_tracks")
            ledger.count(op)
        except psycopg2.Error as e:
            with ledger.lock:
                ledger.errors.append("%s: %s %s" % (op, e.pgcode, str(e).strip().splitlines()[0]))
        now = time.time()
        status = devlib.proc_status(pid)
        if first is None and now >= memory["warm_at"]:
            first = status.get("RssAnon", 0)
        last = status.get("RssAnon", 0)
    memory["per_client"][n] = (first or last, last)
    conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    fixtures = os.environ["AFP_FIXTURES"]
    audio = load_audio(fixtures)

    admin = devlib.connect("postgres")
    admin.autocommit = True
    admin.cursor().execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)
    admin.cursor().execute("CREATE DATABASE %s" % DB)
    c = connect()
    cur = c.cursor()
    cur.execute("CREATE EXTENSION afp")
    cur.execute("CREATE TABLE soak_tracks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text UNIQUE, "
                "src int, fp afp COMPRESSION lz4 NOT NULL)")
    cur.execute("CREATE INDEX soak_tracks_fp_idx ON soak_tracks USING gin (fp)")

    ledger = Ledger()
    start = time.time()
    deadline = start + args.minutes * 60
    memory = {"warm_at": start + min(60.0, args.minutes * 60 / 3), "per_client": {}}
    threads = [threading.Thread(target=client, args=(n, audio, ledger, deadline, memory, args.seed * 1000 + n))
               for n in range(args.clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(5)
        print("  %.0f s: %s, %d errors" % (time.time() - start, ", ".join("%s %d" % kv for kv in sorted(ledger.counts.items())),
                                          len(ledger.errors)), file=sys.stderr, flush=True)
    for t in threads:
        t.join()

    failures = []
    cur.execute("SELECT title, src FROM soak_tracks")
    rows = dict(cur.fetchall())
    missing = [t for t, i in ledger.present.items() if rows.get(t) != i]
    resurrected = [t for t in ledger.deleted if t in rows]
    unknown = [t for t in rows if t not in ledger.present]
    if missing:
        failures.append("%d committed inserts/updates missing or stale" % len(missing))
    if resurrected:
        failures.append("%d deleted rows still present" % len(resurrected))
    if unknown:
        failures.append("%d rows nobody committed" % len(unknown))
    if ledger.errors:
        failures.append("%d unexpected errors, first: %s" % (len(ledger.errors), ledger.errors[0]))

    # The index answers exactly like a sequential scan, for % and for match_clip.
    cur.execute("CREATE TEMP TABLE probes AS SELECT fingerprint(a) AS fp, a FROM unnest(%s::bytea[]) a",
                ([psycopg2.Binary(a) for a in audio[::7]],))

    def answers(index):
        on = "on" if index else "off"
        cur.execute("SET enable_seqscan = %s" % ("off" if index else "on"))
        cur.execute("SET enable_bitmapscan = %s; SET enable_indexscan = %s" % (on, on))
        cur.execute("SELECT p.ctid::text, array_agg(t.id ORDER BY t.id) FROM probes p JOIN soak_tracks t ON t.fp % p.fp GROUP BY 1 ORDER BY 1")
        ops = cur.fetchall()
        cur.execute("SELECT p.ctid::text, array_agg(m.track_id ORDER BY m.track_id) FROM probes p, "
                    "match_clip(p.a, 'soak_tracks', 50) m GROUP BY 1 ORDER BY 1")
        return ops, cur.fetchall()

    with_index, without_index = answers(True), answers(False)
    cur.execute("RESET enable_seqscan; RESET enable_bitmapscan; RESET enable_indexscan")
    if with_index != without_index:
        failures.append("index answers differ from sequential-scan answers")
    growth = {n: (last - first) / 1024.0 for n, (first, last) in memory["per_client"].items()}
    worst = max(growth.values()) if growth else 0.0
    if worst > 64:
        failures.append("a backend's private memory grew by %.0f MB after warm-up" % worst)

    counts = ledger.counts
    print("| soak: %d clients, %.1f min | value |" % (args.clients, args.minutes))
    print("|---|---|")
    for op in ("insert", "match", "update", "delete", "vacuum"):
        print("| %s statements | %d |" % (op, counts.get(op, 0)))
    print("| unexpected errors | %d |" % len(ledger.errors))
    print("| rows at the end / committed by the clients | %d / %d |" % (len(rows), len(ledger.present)))
    print("| %% and match_clip: index answers = sequential scan | %s (%d probes) |"
          % ("yes" if with_index == without_index else "NO", len(audio[::7])))
    print("| backend private memory growth after warm-up, worst client | %.1f MB |" % worst)
    cur.execute("SELECT pg_size_pretty(pg_total_relation_size('soak_tracks'))")
    print("| table + TOAST + indexes at the end | %s |" % cur.fetchone()[0])
    c.close()
    admin.cursor().execute("DROP DATABASE %s WITH (FORCE)" % DB)
    for f in failures:
        print("FAILED: " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
