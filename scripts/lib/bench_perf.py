#!/usr/bin/python3
"""Speed and size benchmark for afp, with a dejavu-style baseline in the same PostgreSQL.

Ingests the db tracks of a catalogue CSV, grows catalogues of ~10, ~100 and ~1,000 hours from
their real fingerprints (scripts/bench-perf explains how), and measures fingerprint() throughput
per container, match_clip() latency and recall per catalogue size, concurrent throughput with
pgbench, bytes per hour, GIN build time, backend memory per call, and the same catalogue stored
one row per hash with a b-tree (dejavu's schema). Prints one table.
"""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import afp_client  # noqa: E402  (backend CPU and memory from /proc)
import bench_accuracy as ba  # noqa: E402  (sox helpers, catalogue CSV, ingest)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PERF_TOOL = os.path.join(ROOT, "build", "cmake", "afp-perf-tool")
FRAMES_PER_SECOND = 8000 / 128

FORMATS = [  # label, sox output options, extension
    ("WAV 16-bit 44.1 kHz stereo", ["-b", "16", "-r", "44100", "-c", "2"], "wav"),
    ("FLAC 44.1 kHz stereo", ["-r", "44100", "-c", "2"], "flac"),
    ("Ogg Vorbis 44.1 kHz stereo (q 5)", ["-r", "44100", "-c", "2", "-C", "5"], "ogg"),
    ("MP3 44.1 kHz stereo 192 kbps", ["-r", "44100", "-c", "2", "-C", "192"], "mp3"),
]

rows = []  # (metric, value, method)


def out(metric, value, method):
    rows.append((metric, value, method))
    ba.log("  %s: %s" % (metric, value))


def connect(db):
    c = psycopg2.connect(dbname=db)
    c.autocommit = True
    return c


def one(cur, sql, args=None):
    cur.execute(sql, args)
    return cur.fetchone()[0]


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p * len(v)))]


def bench_fingerprint(db, track, tmpdir, repeats):
    """fingerprint() throughput per container in one backend (CPU time of that backend)."""
    files = []
    for label, opts, ext in FORMATS:
        path = os.path.join(tmpdir, "track." + ext)
        ba.run(["sox", "-V1", track["path"]] + opts + [path])
        files.append((label, path))
    split = ba.run([PERF_TOOL, "split", "3"] + [p for _, p in files]).decode().strip().splitlines()[1:]
    split = {line.split(",")[0]: [float(x) for x in line.split(",")[1:]] for line in split}
    c = connect(db)
    cur = c.cursor()
    cur.execute("CREATE TEMP TABLE audio (label text, bytes bytea)")
    for label, path in files:
        with open(path, "rb") as f:
            cur.execute("INSERT INTO audio VALUES (%s, %s)", (label, psycopg2.Binary(f.read())))
    pid = one(cur, "SELECT pg_backend_pid()")
    cur.execute("SELECT afp_landmark_count(fingerprint(bytes)) FROM audio LIMIT 1")  # load the library
    for label, path in files:
        audio_s, decode_cpu, total_cpu = split[path]
        t0 = afp_client.backend_cpu(pid)
        w0 = time.perf_counter()
        for _ in range(repeats):
            cur.execute("SELECT afp_landmark_count(fingerprint(bytes)) FROM audio WHERE label = %s", (label,))
        cpu = afp_client.backend_cpu(pid) - t0
        wall = time.perf_counter() - w0
        out("fingerprint(), " + label, "%.0f s of audio / CPU s" % (repeats * audio_s / cpu),
            "%d calls on a %.0f s track in one backend: backend CPU time (wall %.0f x); decode alone %.0f x, "
            "analysis alone %.0f x (afp-perf-tool split, same files)"
            % (repeats, audio_s, repeats * audio_s / wall, audio_s / decode_cpu, audio_s / max(1e-9, total_cpu - decode_cpu)))
    c.close()


def build_catalogue(db, name, copies, hours_per_copy):
    """Real fingerprints as copy 0, distractor copies 1..copies-1, then the GIN index."""
    c = connect(db)
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS %s" % name)
    cur.execute("""CREATE TABLE %s (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text,
                   source_id bigint, copy int, fp afp COMPRESSION lz4 NOT NULL)""" % name)
    cur.execute("INSERT INTO %s (title, source_id, copy, fp) SELECT title, id, 0, fp FROM bench_tracks ORDER BY id" % name)
    t0 = time.time()
    if copies > 1:
        env = dict(os.environ)
        pipeline = ("psql -X -q -d {db} -c 'COPY (SELECT id::int8, fp FROM bench_tracks ORDER BY id) TO STDOUT BINARY' "
                    "| {tool} grow 1 {last} "
                    "| psql -X -q -d {db} -c 'COPY {name} (source_id, copy, fp) FROM STDIN BINARY'"
                    ).format(db=db, tool=PERF_TOOL, last=copies - 1, name=name)
        subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True, env=env)
    load_s = time.time() - t0
    cur.execute("SET maintenance_work_mem = '1GB'")
    t0 = time.time()
    cur.execute("CREATE INDEX %s_fp_idx ON %s USING gin (fp)" % (name, name))
    gin_s = time.time() - t0
    cur.execute("VACUUM ANALYZE %s" % name)
    cur.execute("""SELECT pg_relation_size(%(t)s::regclass),
                          coalesce(pg_total_relation_size((SELECT reltoastrelid FROM pg_class WHERE oid = %(t)s::regclass)), 0),
                          pg_relation_size(%(i)s::regclass),
                          (SELECT sum(afp_duration(fp)) FROM """ + name + """)""", {"t": name, "i": name + "_fp_idx"})
    heap, toast, gin, seconds = cur.fetchone()
    c.close()
    return {"hours": seconds / 3600, "heap": heap, "toast": toast, "gin": gin, "gin_s": gin_s, "load_s": load_s}


def make_clips(db, tracks, n, lengths, seed, n_held):
    """Clips of db tracks (WAV 16-bit 44.1 kHz stereo) and their reference-density fingerprints,
    then n_held clips per length of held tracks (not in the catalogue: the no-match path)."""
    c = connect(db)
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS perf_clips")
    cur.execute("""CREATE TABLE perf_clips (id int PRIMARY KEY, length int, title text, offset_s float8,
                   audio bytea, fp afp, held bool)""")
    tmp = tempfile.mkdtemp()
    i = 0
    for split, count in (("db", n), ("held", n_held)):
        pool = [t for t in tracks if t["split"] == split]
        for length in lengths:
            for k in range(count):
                rng = random.Random("%s:%s:%d:%d" % (seed, split, length, k))
                t = rng.choice([t for t in pool if t["duration"] > length + 2])
                off = round(rng.uniform(0, t["duration"] - length - 1), 3)
                data = ba.encode(ba.sox_read(t["path"], off, length), "wav16-44k-stereo", tmp)
                i += 1
                cur.execute("INSERT INTO perf_clips VALUES (%s, %s, %s, %s, %s, fingerprint(%s), %s)",
                            (i, length, t["name"], off, psycopg2.Binary(data), psycopg2.Binary(data), split == "held"))
    shutil.rmtree(tmp)
    c.close()


LATENCY_SQL = """
CREATE OR REPLACE FUNCTION pg_temp.time_queries(sql text, n_rounds int)
RETURNS TABLE (id int, length int, ms float8, title text, offset_s float8) LANGUAGE plpgsql AS $$
DECLARE c record; t0 timestamptz; r record;
BEGIN
  FOR round IN 1..n_rounds LOOP
    FOR c IN SELECT * FROM perf_clips ORDER BY perf_clips.id LOOP
      t0 := clock_timestamp();
      EXECUTE sql INTO r USING c.audio, c.fp;
      IF round = n_rounds THEN
        id := c.id; length := c.length; ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
        title := r.title; offset_s := r.offset_s;
        RETURN NEXT;
      END IF;
    END LOOP;
  END LOOP;
END $$;
"""


TRACKS_BY_NAME = {}


def time_queries(db, sql, rounds=2):
    """Runs sql for every clip (first round warms the cache), returns per-clip latency and answer."""
    c = connect(db)
    cur = c.cursor()
    cur.execute(LATENCY_SQL)
    cur.execute("SELECT t.*, p.title AS truth, p.offset_s AS truth_offset, p.held FROM pg_temp.time_queries(%s, %s) t "
                "JOIN perf_clips p USING (id)", (sql, rounds))
    res = [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]
    c.close()
    for r in res:
        r["right"] = (r["title"] == r["truth"] and r["offset_s"] is not None
                      and abs(r["offset_s"] - r["truth_offset"]) <= 0.1)
        if r["title"] == r["truth"] and not r["right"] and r["offset_s"] is not None and r["truth"] in TRACKS_BY_NAME:
            # Looped music: the same passage at another place of the track is a right answer too.
            r["right"] = ba.is_repeat({"track": r["truth"], "offset": r["truth_offset"], "answer_offset": r["offset_s"],
                                       "length": r["length"]}, TRACKS_BY_NAME)
    return res


def summarize(res, length, held=False):
    sel = [r for r in res if r["length"] == length and r["held"] == held]
    if held:
        ms = [r["ms"] for r in sel]
        return ("%.1f / %.1f / %.1f ms" % (pct(ms, 0.5), pct(ms, 0.95), pct(ms, 0.99)),
                "%d / %d answered" % (sum(r["title"] is not None for r in sel), len(sel)))
    ms = [r["ms"] for r in sel]
    return ("%.1f / %.1f / %.1f ms" % (pct(ms, 0.5), pct(ms, 0.95), pct(ms, 0.99)),
            "%d / %d" % (sum(r["right"] for r in sel), len(sel)))


def build_baseline(db, cat, name):
    """dejavu's schema: one row per (hash, track, offset), b-tree on hash, same fingerprints."""
    c = connect(db)
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS %s" % name)
    cur.execute("CREATE TABLE %s (hash int4 NOT NULL, track_id bigint NOT NULL, offset_frame int4 NOT NULL)" % name)
    t0 = time.time()
    cur.execute("INSERT INTO %s SELECT l.hash, c.id, round(l.t_s * %f)::int4 FROM %s c, afp_landmarks(c.fp) l"
                % (name, FRAMES_PER_SECOND, cat))
    cur.execute("SET maintenance_work_mem = '1GB'")
    cur.execute("CREATE INDEX %s_hash_idx ON %s (hash)" % (name, name))
    build_s = time.time() - t0
    cur.execute("VACUUM ANALYZE %s" % name)
    size = one(cur, "SELECT pg_total_relation_size(%s::regclass)", (name,))
    c.close()
    return {"bytes": size, "build_s": build_s}


def baseline_sql(name, cat):
    # dejavu: fetch every row whose hash the clip has, count (track, offset difference) pairs.
    return ("WITH q AS (SELECT hash, round(t_s * %f)::int4 AS f FROM afp_landmarks($2)) "
            "SELECT c.title, (b.diff / %f)::float8 AS offset_s FROM ("
            "  SELECT d.track_id, d.offset_frame - q.f AS diff, count(*) AS n FROM %s d JOIN q ON d.hash = q.hash "
            "  WHERE d.hash = ANY (ARRAY(SELECT hash FROM q)) GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 1) b "
            "JOIN %s c ON c.id = b.track_id" % (FRAMES_PER_SECOND, FRAMES_PER_SECOND, name, cat))


def bench_pgbench(db, cat, seconds, clients_list):
    tmp = tempfile.mkdtemp()
    script = os.path.join(tmp, "match.sql")
    with open(script, "w") as f:
        f.write("\\set id random(1, %d)\n" % one(connect(db).cursor(), "SELECT count(*) FROM perf_clips WHERE NOT held"))
        f.write("SELECT count(*) FROM match_clip((SELECT audio FROM perf_clips WHERE id = :id), '%s'::regclass);\n" % cat)
    pgbench = os.path.join(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip(), "pgbench")
    if not os.path.exists(pgbench):
        pgbench = shutil.which("pgbench") or "pgbench"
    for clients in clients_list:
        waits = {}
        stop = threading.Event()

        def sample():
            c = connect(db)
            cur = c.cursor()
            while not stop.is_set():
                cur.execute("SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity "
                            "WHERE query LIKE '%match_clip%' AND pid <> pg_backend_pid() AND state = 'active'")
                for (w,) in cur.fetchall():
                    waits[w] = waits.get(w, 0) + 1
                time.sleep(0.1)
            c.close()

        th = threading.Thread(target=sample)
        th.start()
        res = subprocess.run([pgbench, "-n", "-c", str(clients), "-j", str(clients), "-T", str(seconds),
                              "-f", script, db], capture_output=True, text=True)
        stop.set()
        th.join()
        m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", res.stdout)
        lat = re.search(r"latency average = ([0-9.]+) ms", res.stdout)
        if not m:
            raise RuntimeError("pgbench failed: " + res.stdout + res.stderr)
        total = sum(waits.values()) or 1
        top = ", ".join("%s %.0f%%" % (k, 100.0 * v / total) for k, v in sorted(waits.items(), key=lambda kv: -kv[1])[:3])
        out("match_clip() throughput, %d client%s" % (clients, "" if clients == 1 else "s"),
            "%.1f clips / s" % float(m.group(1)),
            "pgbench -T %d, random 5/10 s WAV clips, %s; latency avg %s ms; backends sampled: %s"
            % (seconds, cat, lat.group(1) if lat else "?", top))
    shutil.rmtree(tmp)


def bench_memory(db, cat):
    """Growth of a fresh backend's private memory over one match_clip() of a 10 s clip."""
    c = connect(db)
    cur = c.cursor()
    pid = one(cur, "SELECT pg_backend_pid()")
    cur.execute("SELECT afp_landmark_count(fp) FROM perf_clips LIMIT 1")  # load the library
    before = afp_client.proc_status(pid)
    cur.execute("SELECT count(*) FROM match_clip((SELECT audio FROM perf_clips WHERE length = 10 ORDER BY id LIMIT 1), %s::regclass)", (cat,))
    after = afp_client.proc_status(pid)
    c.close()
    private_kb = (after["VmHWM"] - before["VmHWM"]) - (after.get("RssShmem", 0) - before.get("RssShmem", 0))
    return private_kb / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("catalogue", help="CSV with track_id,path,split (db tracks are ingested)")
    ap.add_argument("--sizes", default="10,100,1000", help="catalogue sizes in hours")
    ap.add_argument("--baseline-sizes", default="10,100", help="sizes at which the dejavu schema is built too")
    ap.add_argument("--clips", type=int, default=40, help="clips per length")
    ap.add_argument("--held-clips", type=int, default=10, help="clips per length of tracks not in the catalogue")
    ap.add_argument("--pgbench-seconds", type=int, default=15)
    ap.add_argument("--pgbench-size", type=int, default=None, help="catalogue for pgbench (default: the largest)")
    ap.add_argument("--fingerprint-repeats", type=int, default=5)
    ap.add_argument("--database", default="afp_bench_perf")
    ap.add_argument("--seed", default="afp-perf-1")
    args = ap.parse_args()
    if not os.path.exists(PERF_TOOL):
        sys.exit("bench-perf: %s missing (scripts/setup builds it)" % PERF_TOOL)

    sizes = [int(s) for s in args.sizes.split(",")]
    baseline_sizes = {int(s) for s in args.baseline_sizes.split(",") if s}
    tracks = ba.read_catalogue(args.catalogue)
    TRACKS_BY_NAME.update({t["name"]: t for t in tracks})
    hours_db = sum(t["duration"] for t in tracks if t["split"] == "db") / 3600
    ba.prepare_database(args.database, True)  # a clean database every run
    db = ba.Database(args.database, {})
    ba.ingest(db, tracks, 2)
    db.close()

    ba.log("fingerprint() throughput")
    tmp = tempfile.mkdtemp()
    longest = max((t for t in tracks if t["split"] == "db"), key=lambda t: min(t["duration"], 240))
    bench_fingerprint(args.database, longest, tmp, args.fingerprint_repeats)
    shutil.rmtree(tmp)

    ba.log("clips")
    make_clips(args.database, tracks, args.clips, [5, 10], args.seed, args.held_clips)

    afp_sql = "SELECT title, offset_s FROM match_clip($1, '%s'::regclass, 1)"
    afp_fp_sql = "SELECT title, offset_s FROM match_afp($2, '%s'::regclass, 1)"
    for size in sizes:
        copies = max(1, round(size / hours_db))
        cat = "perf_cat_%d" % size
        ba.log("catalogue ~%d h: %d copies" % (size, copies))
        info = build_catalogue(args.database, cat, copies, hours_db)
        total = info["heap"] + info["toast"] + info["gin"]
        out("bytes per hour of audio, %.0f h catalogue" % info["hours"],
            "%.2f MB (heap %.2f, TOAST %.2f, GIN %.2f)" % tuple(x / info["hours"] / 1e6 for x in
                                                              (total, info["heap"], info["toast"], info["gin"])),
            "pg_relation_size of heap, TOAST and GIN index (primary key excluded); %d rows" % (copies * sum(t["split"] == "db" for t in tracks)))
        out("GIN build, %.0f h catalogue" % info["hours"], "%.1f s" % info["gin_s"],
            "CREATE INDEX with maintenance_work_mem = 1GB (distractors loaded by COPY in %.0f s)" % info["load_s"])
        res = time_queries(args.database, afp_sql % cat)
        for length in (5, 10):
            lat, rec = summarize(res, length)
            out("match_clip() p50 / p95 / p99, %d s clip, %.0f h" % (length, info["hours"]), lat,
                "%d WAV 44.1 kHz stereo clips, decode included, second of two rounds (cached); right answers (track, and offset or a repeat of the passage) %s" % (args.clips, rec))
        for length in (5, 10):
            lat, rec = summarize(res, length, held=True)
            out("match_clip() p50 / p95 / p99, %d s clip NOT in the catalogue, %.0f h" % (length, info["hours"]), lat,
                "%d held-track clips: every stage runs (fast path, query hashes, speed search); %s" % (args.held_clips, rec))
        if size in baseline_sizes:
            res_afp = time_queries(args.database, afp_fp_sql % cat)
            base = build_baseline(args.database, cat, "dejavu_%d" % size)
            res_base = time_queries(args.database, baseline_sql("dejavu_%d" % size, cat))
            res_afp = [r for r in res_afp if not r["held"]]
            res_base = [r for r in res_base if not r["held"]]
            a50 = pct([r["ms"] for r in res_afp], 0.5)
            b50 = pct([r["ms"] for r in res_base], 0.5)
            out("vs dejavu schema, %.0f h: latency p50 (same fingerprints, no decode)" % info["hours"],
                "afp %.2f ms, dejavu %.1f ms: %.0fx faster" % (a50, b50, b50 / a50),
                "match_afp vs hash = ANY(...) GROUP BY track, offset on a b-tree; right answers afp %d / %d, dejavu %d / %d"
                % (sum(r["right"] for r in res_afp), len(res_afp), sum(r["right"] for r in res_base), len(res_base)))
            out("vs dejavu schema, %.0f h: size" % info["hours"],
                "afp %.0f MB, dejavu %.0f MB: %.0fx smaller" % (total / 1e6, base["bytes"] / 1e6, base["bytes"] / total),
                "heap + TOAST + GIN vs heap + b-tree (pg_total_relation_size); dejavu load + index %.0f s" % base["build_s"])

    largest = "perf_cat_%d" % (args.pgbench_size or sizes[-1])
    ba.log("memory")
    out("backend memory per match_clip()", "%.1f MB" % bench_memory(args.database, largest),
        "fresh backend, one 10 s clip on %s: growth of peak RSS minus growth of shared memory touched (/proc)" % largest)
    ba.log("pgbench")
    bench_pgbench(args.database, largest, args.pgbench_seconds, [1, 2, 4, 8])

    w = max(len(r[0]) for r in rows)
    v = max(len(r[1]) for r in rows)
    print("| %-*s | %-*s | method |" % (w, "metric", v, "value"))
    print("|%s|%s|---|" % ("-" * (w + 2), "-" * (v + 2)))
    for m, val, how in rows:
        print("| %-*s | %-*s | %s |" % (w, m, v, val, how))


if __name__ == "__main__":
    main()
