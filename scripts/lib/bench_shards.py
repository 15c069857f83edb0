"""bench-shards: one catalogue served by one node and by 1, 2 and 4 shards behind an afp_shards
coordinator (loopback clusters of scripts/cluster shards), with the same clips: latency per kind of
clip, accuracy, whether every answer equals one node's, and throughput with concurrent clients.

The catalogue is bench-perf's real fingerprints (its database's bench_tracks) grown to --hours with
distractor copies (afp-perf-tool grow, as bench-perf does); the clips are bench-perf's perf_clips
(clean, noisy, speed-changed, not in the catalogue; 5 and 10 s). Every index gets the directory of
the one node's index (directory_bits), so that the shards' counts add up to it (docs/scale-out.md).
"""
import argparse
import os
import statistics
import subprocess
import sys
import threading
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import devlib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER = os.path.join(ROOT, "scripts", "cluster")
PERF_TOOL = os.path.join(ROOT, "build", "cmake", "afp-perf-tool")  # grows distractor copies


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def node_conn(port, db="afp"):
    return devlib.connect(db, host="127.0.0.1", port=port, user="postgres")


def build_source(db, hours):
    """bench_shards_cat (id, title, fp) in bench-perf's database: the real tracks and distractor copies."""
    c = devlib.connect(db)
    cur = c.cursor()
    cur.execute("SELECT sum(afp_duration(fp)) / 3600 FROM bench_tracks")
    real_h = cur.fetchone()[0]
    copies = max(1, round(hours / real_h))
    cur.execute("DROP TABLE IF EXISTS bench_shards_cat")
    cur.execute("""CREATE TABLE bench_shards_cat (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text,
                   source_id bigint, copy int, fp afp NOT NULL)""")
    cur.execute("INSERT INTO bench_shards_cat (title, source_id, copy, fp) SELECT title, id, 0, fp FROM bench_tracks ORDER BY id")
    if copies > 1:
        pipeline = ("psql -X -q -d {db} -c 'COPY (SELECT id::int8, fp FROM bench_tracks ORDER BY id) TO STDOUT BINARY' "
                    "| {tool} grow 1 {last} "
                    "| psql -X -q -d {db} -c 'COPY bench_shards_cat (source_id, copy, fp) FROM STDIN BINARY'"
                    ).format(db=db, tool=PERF_TOOL, last=copies - 1)
        subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True)
    cur.execute("SELECT count(*), sum(afp_duration(fp)) / 3600 FROM bench_shards_cat")
    rows, h = cur.fetchone()
    c.close()
    log("catalogue: %d rows, %.0f h (%d copies of %.1f h)" % (rows, h, copies, real_h))
    return rows, h


def start_shards(db, n, coord_port, bits):
    """A fresh coordinator and n shards holding the catalogue, each track on the shard its id routes to."""
    subprocess.run([CLUSTER, "shards", "destroy"], check=True)
    subprocess.run([CLUSTER, "shards", "start", str(n)], check=True, stdout=subprocess.DEVNULL)
    t0 = time.time()
    for i in range(n):
        port = coord_port + 1 + i
        pipeline = ("psql -X -q -d {db} -c \"COPY (SELECT id, title, fp FROM bench_shards_cat "
                    "WHERE abs(hashint8(id) % {n}) = {i}) TO STDOUT BINARY\" "
                    "| psql -X -q -h 127.0.0.1 -p {port} -U postgres -d afp "
                    "-c 'COPY afp_tracks (id, title, fp) FROM STDIN BINARY'").format(db=db, n=n, i=i, port=port)
        subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True)
        c = node_conn(port)
        cur = c.cursor()
        cur.execute("SET maintenance_work_mem = '1GB'")
        if bits:
            cur.execute("ALTER INDEX afp_tracks_fp_landmark_idx SET (directory_bits = %s)" % int(bits))
        cur.execute("REINDEX INDEX afp_tracks_fp_landmark_idx")
        cur.execute("VACUUM ANALYZE afp_tracks")
        c.close()
    log("  %d shard(s) loaded and indexed in %.0f s" % (n, time.time() - t0))


def directory_bits(port):
    c = node_conn(port)
    cur = c.cursor()
    cur.execute("SELECT buckets FROM afp_index_stats('afp_tracks_fp_landmark_idx')")
    buckets = cur.fetchone()[0]
    c.close()
    return buckets.bit_length() - 1


def clips(db, limit):
    c = devlib.connect(db)
    cur = c.cursor()
    cur.execute("SELECT id, kind, length, title, offset_s FROM perf_clips ORDER BY id")
    rows = [dict(zip(("id", "kind", "length", "title", "offset_s"), r)) for r in cur.fetchall()]
    c.close()
    if limit:
        by_cell = {}
        for r in rows:
            by_cell.setdefault((r["kind"], r["length"]), []).append(r)
        rows = [r for cell in by_cell.values() for r in cell[:limit]]
    return rows


def titles(db):
    """id -> real title (copy 0) of the catalogue; distractors are None."""
    c = devlib.connect(db)
    cur = c.cursor()
    cur.execute("SELECT id, title FROM bench_shards_cat WHERE copy = 0")
    res = dict(cur.fetchall())
    c.close()
    return res


TIME_ONE = """
CREATE FUNCTION pg_temp.time_one(fn text, clip int, OUT ms float8, OUT answer text) LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz;
BEGIN
  t0 := clock_timestamp();
  EXECUTE format('SELECT string_agg(concat_ws(''|'', m.track_id, m.score, m.offset_s, m.confidence, m.speed,
                                              m.tempo, m.pitch), '';'' ORDER BY m.ord)
                    FROM %s((SELECT audio FROM bench_clips WHERE id = $1)) WITH ORDINALITY
                         m(track_id, title, score, offset_s, confidence, matched_s, clip_start_s, clip_end_s,
                           track_start_s, track_end_s, speed, tempo, pitch, ord)', fn)
    INTO answer USING clip;
  ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
"""


def load_clips(db, port):
    """The clips' audio into bench_clips of a node, so that passes time the server, not the transfer."""
    pipeline = ("psql -X -q -d {db} -c 'COPY (SELECT id, audio FROM perf_clips) TO STDOUT BINARY' "
                "| psql -X -q -h 127.0.0.1 -p {port} -U postgres -d afp "
                "-c 'CREATE TABLE IF NOT EXISTS bench_clips (id int PRIMARY KEY, audio bytea)' "
                "-c 'TRUNCATE bench_clips' -c 'COPY bench_clips FROM STDIN BINARY'").format(db=db, port=port)
    subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True)


def run_pass(port, function, clip_rows, warmup=5):
    """Every clip once through function (match_clip of one node or of afp_shards), timed in the server
    (from reading the clip's audio to the last result row): latency and the answer, all columns."""
    c = node_conn(port)
    cur = c.cursor()
    cur.execute("SET extra_float_digits = 3")
    cur.execute(TIME_ONE)
    for clip in clip_rows[:warmup]:
        cur.execute("SELECT * FROM pg_temp.time_one(%s, %s)", (function, clip["id"]))
    res = {}
    for clip in clip_rows:
        cur.execute("SELECT * FROM pg_temp.time_one(%s, %s)", (function, clip["id"]))
        ms, answer = cur.fetchone()
        rows = [tuple(a.split("|")) for a in answer.split(";")] if answer else []
        res[clip["id"]] = (ms, [(int(r[0]), int(r[1]), float(r[2])) + r[3:] for r in rows])
    c.close()
    return res


def throughput(port, function, clip_rows, clients, seconds):
    """Clips per second with `clients` connections, each cycling through the clean clips."""
    stop = time.time() + seconds
    counts = [0] * clients

    def work(k):
        c = node_conn(port)
        cur = c.cursor()
        sql = "SELECT count(*) FROM %s((SELECT audio FROM bench_clips WHERE id = %%s))" % function
        i = k
        while time.time() < stop:
            cur.execute(sql, (clip_rows[i % len(clip_rows)]["id"],))
            cur.fetchall()
            counts[k] += 1
            i += clients
        c.close()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def right(clip, rows, real):
    if not rows:
        return False
    track_id, offset = rows[0][0], rows[0][2]
    return real.get(track_id) == clip["title"] and abs(offset - clip["offset_s"]) <= 0.1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database", default="afp_bench_perf", help="bench-perf's database (bench_tracks, perf_clips)")
    ap.add_argument("--hours", type=float, default=100, help="catalogue size")
    ap.add_argument("--shards", default="1,2,4")
    ap.add_argument("--clips-per-cell", type=int, default=0, help="clips per kind and length (0: all of perf_clips)")
    ap.add_argument("--throughput-seconds", type=int, default=15)
    ap.add_argument("--clients", default="1,2")
    ap.add_argument("--keep", action="store_true", help="leave the last set of shards running (scripts/cluster shards env)")
    args = ap.parse_args()
    coord_port = int(os.environ.get("PGPORT", "54329")) + 100

    clip_rows = clips(args.database, args.clips_per_cell)
    if not clip_rows:
        sys.exit("bench-shards: no clips in %s.perf_clips; run scripts/bench-perf first" % args.database)
    rows, hours = build_source(args.database, args.hours)
    real = titles(args.database)
    clean = [c for c in clip_rows if c["kind"] == "clean"]
    kinds = []
    for c in clip_rows:
        if (c["kind"], c["length"]) not in kinds:
            kinds.append((c["kind"], c["length"]))

    results = {}
    tput = {}
    bits = None
    for n in [int(s) for s in args.shards.split(",")]:
        log("%d shard(s)" % n)
        start_shards(args.database, n, coord_port, bits)
        load_clips(args.database, coord_port)
        if n == 1 and bits is None:
            load_clips(args.database, coord_port + 1)
        if bits is None:
            bits = directory_bits(coord_port + 1)
            if n == 1:
                # The one node: the lone shard's own afp_tracks, searched directly.
                results["one node"] = run_pass(coord_port + 1, "match_clip", clip_rows)
                tput["one node"] = {k: throughput(coord_port + 1, "match_clip", clean, k, args.throughput_seconds)
                                    for k in [int(x) for x in args.clients.split(",")]}
        label = "%d shard%s" % (n, "" if n == 1 else "s")
        results[label] = run_pass(coord_port, "afp_shards.match_clip", clip_rows)
        tput[label] = {k: throughput(coord_port, "afp_shards.match_clip", clean, k, args.throughput_seconds)
                       for k in [int(x) for x in args.clients.split(",")]}
    if not args.keep:
        subprocess.run([CLUSTER, "shards", "destroy"], check=True)

    ref = results["one node"]
    for label, res in results.items():
        for clip in clip_rows:
            if res[clip["id"]][1] != ref[clip["id"]][1]:
                log("different answer, %s, clip %d (%s %d s):\n  one node: %s\n  %s: %s" % (
                    label, clip["id"], clip["kind"], clip["length"], ref[clip["id"]][1], label, res[clip["id"]][1]))
    print("catalogue: %d tracks, %.0f h; %d clips; every index with 2^%d directory buckets" % (rows, hours, len(clip_rows), bits))
    print()
    print("| setup | kind | length | clips | right | same answer as one node | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for label, res in results.items():
        for kind, length in kinds:
            cell = [c for c in clip_rows if c["kind"] == kind and c["length"] == length]
            lat = sorted(res[c["id"]][0] for c in cell)
            ok = sum(right(c, res[c["id"]][1], real) for c in cell) if not kind.startswith("held") else \
                sum(not res[c["id"]][1] for c in cell)
            same = sum(res[c["id"]][1] == ref[c["id"]][1] for c in cell)
            print("| %s | %s | %d s | %d | %d | %d | %.1f | %.1f |" % (
                label, kind, length, len(cell), ok, same, statistics.median(lat), lat[int(0.95 * (len(lat) - 1))]))
    print()
    print("(right: the top answer is the clip's track within 100 ms; for clips not in the catalogue, no answer)")
    print()
    print("| setup | all clips p50 ms | all clips p95 ms | answers equal to one node's | " +
          " | ".join("clips/s, %s client%s" % (k, "" if k == "1" else "s") for k in args.clients.split(",")) + " |")
    print("|---|---|---|---|" + "---|" * len(args.clients.split(",")))
    for label, res in results.items():
        lat = sorted(v[0] for v in res.values())
        same = sum(res[i][1] == ref[i][1] for i in res)
        print("| %s | %.1f | %.1f | %d / %d | %s |" % (label, statistics.median(lat), lat[int(0.95 * (len(lat) - 1))],
                                                      same, len(res), " | ".join("%.1f" % tput[label][int(k)]
                                                                                 for k in args.clients.split(","))))


if __name__ == "__main__":
    main()
