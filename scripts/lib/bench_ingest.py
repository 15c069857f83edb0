#!/usr/bin/python3
"""bench-ingest: the afp_landmark index in the state users reach. A catalogue is created with its
afp_landmark index first, as CREATE EXTENSION leaves afp_tracks, and loaded in batches of
inserts (COPY, one row at a time into the index) with autovacuum on, while clients match clips.
Then every kind of clip is timed and answered in four states of the same rows: as loaded (right
after the last insert: runs and pending postings the inserts, the index's background merge and
autovacuum left), merged by itself (once the index's background merge worker has exited),
after VACUUM and freshly built (REINDEX); and the answers are compared. Per size:
load rate, pending postings and runs over the load, the clients' latency during it, storage per
hour, build and merge times. Prints one table on stdout, progress on stderr.
"""
import argparse
import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import devlib  # noqa: E402
import bench_perf as bp  # noqa: E402  (clips, timing, the grow tool, catalogue helpers)
import bench_accuracy as ba  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
rows = []  # (metric, value, method)


def out(metric, value, method):
    rows.append((metric, value, method))
    bp.log("  %s: %s" % (metric, value))


def index_stats(cur, index):
    cur.execute("SELECT * FROM afp_index_stats(%s::regclass)", (index,))
    return dict(zip([d[0] for d in cur.description], cur.fetchone()))


def sizes_of(cur, name):
    cur.execute("""SELECT pg_relation_size(%(t)s::regclass),
                          coalesce(pg_total_relation_size((SELECT reltoastrelid FROM pg_class WHERE oid = %(t)s::regclass)), 0),
                          pg_relation_size(%(l)s::regclass)""", {"t": name, "l": name + "_landmark"})
    return cur.fetchone()


class Clients:
    """Clients matching clips (search only) in a loop while the catalogue loads."""

    def __init__(self, db, cat, clips, n):
        self.db, self.cat, self.clips, self.n = db, cat, clips, n
        self.stop = threading.Event()
        self.samples = []  # (time, ms)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(n)]

    def run(self, i):
        rng = random.Random("client %d" % i)
        c = bp.connect(self.db)
        cur = c.cursor()
        cur.execute(bp.TIME_ONE_SQL)
        sql = bp.afp_sql(self.cat, 1)
        seen = set()
        while not self.stop.is_set():
            clip = rng.choice(self.clips)
            try:
                cur.execute("SELECT ms FROM pg_temp.time_one(%s, %s)", (sql, clip["id"]))
                ms = cur.fetchone()[0]
            except Exception as e:  # the table is not there yet, or a failure: logged once, the client goes on
                msg = str(e).strip().splitlines()[0]
                if msg not in seen:
                    seen.add(msg)
                    bp.log("  client %d: %s" % (i, msg))
                c.rollback()
                time.sleep(0.2)
                continue
            with self.lock:
                self.samples.append((time.time(), ms))
        c.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()

    def window(self, t0, t1):
        with self.lock:
            return [ms for t, ms in self.samples if t0 <= t < t1]


def load(db, cat, copies, hours_db, batch_copies, clients):
    """Creates cat with its afp_landmark index, inserts the real rows, then COPYs distractor copies
    in batches; returns per-batch records."""
    c = bp.connect(db)
    c.autocommit = True
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS %s" % devlib.ident(cat))
    cur.execute("""CREATE TABLE %s (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text,
                   source_id bigint, copy int, fp afp COMPRESSION lz4 NOT NULL)""" % devlib.ident(cat))
    cur.execute("CREATE INDEX %s ON %s USING afp_landmark (fp)" % (devlib.ident(cat + "_landmark"), devlib.ident(cat)))
    batches = []
    t0 = time.time()
    cur.execute("INSERT INTO %s (title, source_id, copy, fp) SELECT title, id, 0, fp FROM bench_tracks ORDER BY id"
                % devlib.ident(cat))
    first = 1
    while True:
        t_start = time.time()
        if first <= copies - 1:
            last = min(copies - 1, first + batch_copies - 1)
            pipeline = ("psql -X -q -d {db} -c 'COPY (SELECT id::int8, fp FROM bench_tracks ORDER BY id) TO STDOUT BINARY' "
                        "| {tool} grow {first} {last} "
                        "| psql -X -q -d {db} -c 'COPY {name} (source_id, copy, fp) FROM STDIN BINARY'"
                        ).format(db=db, tool=bp.PERF_TOOL, first=first, last=last, name=cat)
            subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True)
        else:
            last = first - 1
        t_end = time.time()
        st = index_stats(cur, cat + "_landmark")
        cur.execute("SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = %s::regclass", (cat,))
        av = cur.fetchone()[0]
        lat = clients.window(t_start, t_end) if clients else []
        batches.append({"hours": hours_db * (last + 1), "seconds": t_end - t_start, "stats": st, "autovacuum": av,
                        "latency": lat, "elapsed": t_end - t0})
        bp.log("  loaded %.0f h: %.0f s, %d runs, %d pending, %d autovacuums, clients p50 %s ms (%d)"
               % (hours_db * (last + 1), t_end - t_start, st["runs"], st["pending_postings"], av,
                  bp.fmt_ms(bp.pct(lat, 0.5)) if lat else "-", len(lat)))
        if last >= copies - 1:
            break
        first = last + 1
    c.close()
    return batches


def state_pass(db, cat, label, clips, real):
    res = bp.time_pass(db, label, bp.afp_sql(cat, 3), clips, real, {})
    return res


def key_of(r):
    """The answer of one clip, as a user sees it (ids, offsets and confidences of every row)."""
    return tuple((a["id"], round(a["offset"], 3) if a["offset"] is not None else None,
                  round(a["confidence"], 6) if a["confidence"] is not None else None) for a in r["answers"])


def summary(res, kind):
    sel = [r for r in res if r["kind"] == kind]
    ms = [r["ms"] for r in sel]
    right = sum(bool(r["answers"]) and r["answers"][0]["right"] for r in sel)
    answered = sum(bool(r["answers"]) for r in sel)
    if not sel:
        return "-"
    what = "answered %d" % answered if kind in (bp.HELD, bp.NONMUSIC) else "right %d" % right
    return "%s / %s ms, %s of %d" % (bp.fmt_ms(bp.pct(ms, 0.5)), bp.fmt_ms(bp.pct(ms, 0.95)), what, len(sel))


def paired(args, cat, h, clips, real, kinds):
    """The merged catalogue against a built copy of the same rows, in alternating passes."""
    copy = cat + "_built"
    c = bp.connect(args.database)
    c.autocommit = True
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS %s" % devlib.ident(copy))
    cur.execute("CREATE TABLE %s (LIKE %s INCLUDING ALL EXCLUDING INDEXES) WITH (autovacuum_enabled = off)"
                % (devlib.ident(copy), devlib.ident(cat)))
    cur.execute("INSERT INTO %s OVERRIDING SYSTEM VALUE SELECT * FROM %s" % (devlib.ident(copy), devlib.ident(cat)))
    cur.execute("SET maintenance_work_mem = '1GB'")
    cur.execute("CREATE INDEX %s ON %s USING afp_landmark (fp)" % (devlib.ident(copy + "_landmark"), devlib.ident(copy)))
    cur.execute("VACUUM ANALYZE %s" % devlib.ident(copy))
    c.close()
    real_copy = bp.real_rows(args.database, copy)
    passes = {cat: [], copy: []}
    for r in range(args.paired):
        order = (cat, copy) if r % 2 == 0 else (copy, cat)
        for name in order:
            passes[name].append(state_pass(args.database, name, "%s paired %s" % (h, name), clips,
                                           real if name == cat else real_copy))

    def median_ms(name, kind):
        per_clip = {}
        for res in passes[name]:
            for x in res:
                if x["kind"] == kind:
                    per_clip.setdefault(x["id"], []).append(x["ms"])
        meds = sorted(sorted(v)[len(v) // 2] for v in per_clip.values())
        return bp.pct(meds, 0.5), bp.pct(meds, 0.95)

    def cpu_ms(name, kind):
        return sum(x["cpu_ms"] for res in passes[name] for x in res if x["kind"] == kind)

    for kind in kinds:
        m50, m95 = median_ms(cat, kind)
        b50, b95 = median_ms(copy, kind)
        out("paired, %s, %s" % (kind, h),
            "merged by itself %s / %s ms | built copy %s / %s ms | merged / built p50 %.2f, CPU %.2f"
            % (bp.fmt_ms(m50), bp.fmt_ms(m95), bp.fmt_ms(b50), bp.fmt_ms(b95), m50 / b50,
               cpu_ms(cat, kind) / max(cpu_ms(copy, kind), 1e-9)),
            "p50 / p95 over clips of each clip's median of %d passes, the two catalogues' passes alternating "
            "(ABBA...); CPU: the backends' on-CPU time over every pass of the kind, merged / built (steadier "
            "than wall time on a shared machine); the copy is the same rows with its index built after loading"
            % args.paired)
    answers_differ = sum(key_of(x) != key_of(y) for res_m, res_b in zip(passes[cat], passes[copy])
                         for x, y in zip(res_m, res_b))
    out("paired answers differing, %s" % h, "%d of %d" % (answers_differ, sum(len(r) for r in passes[cat])),
        "each merged pass against the built pass of the same round, clip by clip (id, offset, confidence)")
    c = bp.connect(args.database)
    c.autocommit = True
    c.cursor().execute("DROP TABLE %s" % devlib.ident(copy))
    c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("catalogue", help="tracks.csv of scripts/build-dev-corpus")
    ap.add_argument("--sizes", default="10,100,1000", help="catalogue sizes in hours")
    ap.add_argument("--batch-hours", type=float, default=25, help="hours of audio per COPY batch")
    ap.add_argument("--kinds", default="clean,white noise 0 dB,speed +2%", help="clip degradations (bench-accuracy's names)")
    ap.add_argument("--lengths", default="5,10")
    ap.add_argument("--clips", type=int, default=10, help="cuts of db tracks per length, in every kind")
    ap.add_argument("--held-clips", type=int, default=10, help="clips per length of tracks not in the catalogue")
    ap.add_argument("--nonmusic-clips", type=int, default=10,
                    help="non-music signals per length (tones, a sweep, a square wave, clicks, a drum loop, speech, "
                         "babble, noise, hum: 10 is one of each)")
    ap.add_argument("--clients", type=int, default=2, help="clients matching clips during the load")
    ap.add_argument("--database", default="afp_bench_ingest")
    ap.add_argument("--seed", default="afp-ingest-1")
    ap.add_argument("--states", default="as loaded,merged by itself,after VACUUM,freshly built",
                    help="states to time, in this order (a subset of the default)")
    ap.add_argument("--cold", action="store_true",
                    help="also time the state 'merged by itself' cold: after a server restart and, where "
                         "allowed, with the OS page cache dropped, no warm-up")
    ap.add_argument("--no-builds", action="store_true", help="skip the builds with 0, 1 and 2 workers")
    ap.add_argument("--paired", type=int, default=0, metavar="ROUNDS",
                    help="after 'merged by itself', copy the rows to a second table, build its index, and time "
                         "both catalogues in alternating passes (ROUNDS each): the same machine state for both")
    args = ap.parse_args()
    run_t0 = time.time()
    tracks = ba.read_catalogue(args.catalogue)
    bp.TRACKS_BY_NAME.update({t["name"]: t for t in tracks})
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    lengths = [int(x) for x in args.lengths.split(",")]

    bp.log("ingest of the corpus (the real rows of every catalogue)")
    ba.prepare_database(args.database, True)
    db = ba.Database(args.database, {})
    try:
        ba.ingest(db, tracks, 2)
    finally:
        db.close()
    c = bp.connect(args.database)
    cur = c.cursor()
    hours_db = bp.one(cur, "SELECT sum(afp_duration(fp)) / 3600 FROM bench_tracks")
    c.close()
    bp.log("clips")
    clips = bp.make_clips(args.database, tracks, kinds, args.clips, lengths, args.seed, args.held_clips, 2,
                          args.nonmusic_clips)
    all_kinds = kinds + [bp.HELD] + ([bp.NONMUSIC] if args.nonmusic_clips > 0 else [])
    prev = None
    for size in sorted(int(s) for s in args.sizes.split(",")):
        copies = max(1, round(size / hours_db))
        cat = "ingest_cat_%d" % size
        if prev:
            bp.drop_catalogue(args.database, prev)
        prev = cat
        H = hours_db * copies
        h = "%.0f h" % H
        batch_copies = max(1, round(args.batch_hours / hours_db))
        bp.log("catalogue ~%s: %d copies, loaded in batches of %d copies (%.0f h)" % (h, copies, batch_copies,
                                                                                     batch_copies * hours_db))
        with Clients(args.database, cat, clips, args.clients) as cl:
            batches = load(args.database, cat, copies, hours_db, batch_copies, cl)
        real = bp.real_rows(args.database, cat)
        lat = [ms for b in batches for ms in b["latency"]]
        load_s = sum(b["seconds"] for b in batches)
        out("load into the indexed table, %s" % h,
            "%.0f s = %.0f h of audio / s; %d batches; clients during the load p50 / p95 %s / %s ms (%d queries)"
            % (load_s, H / load_s, len(batches), bp.fmt_ms(bp.pct(lat, 0.5)) if lat else "-",
               bp.fmt_ms(bp.pct(lat, 0.95)) if lat else "-", len(lat)),
            "COPY of %d copies of the corpus (afp-perf-tool grow) in batches of ~%.0f h into a table with its "
            "afp_landmark index, autovacuum on; %d clients running match_afp on random clips meanwhile"
            % (copies, args.batch_hours, args.clients))
        peak_pending = max(b["stats"]["pending_postings"] for b in batches)
        out("runs / pending postings over the load, %s" % h,
            "; ".join("%.0f h: %d runs, %d pending%s" % (b["hours"], b["stats"]["runs"], b["stats"]["pending_postings"],
                                                         ", %d autovacuums" % b["autovacuum"] if b["autovacuum"] else "")
                      for b in batches[-6:]) + "; peak pending %d" % peak_pending,
            "afp_index_stats after each batch (the last six shown); autovacuum_count of the table")

        c = bp.connect(args.database)
        c.autocommit = True
        cur = c.cursor()
        results = {}
        storage = {}
        timing = {}
        states = [x.strip() for x in args.states.split(",") if x.strip()]
        for state in states:
            if state == "merged by itself":
                # The index's background merge (afp.index_background_merge) finishes what the load left.
                t0 = time.time()
                while time.time() - t0 < 600:
                    cur.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'afp_landmark merge'")
                    if cur.fetchone()[0] == 0:
                        break
                    time.sleep(0.5)
                timing["own merge"] = time.time() - t0
            elif state == "after VACUUM":
                t0 = time.time()
                cur.execute("VACUUM %s" % devlib.ident(cat))
                timing["vacuum"] = time.time() - t0
            elif state == "freshly built":
                cur.execute("SET maintenance_work_mem = '1GB'")
                t0 = time.time()
                cur.execute("REINDEX INDEX %s" % devlib.ident(cat + "_landmark"))
                timing["build"] = time.time() - t0
            st = index_stats(cur, cat + "_landmark")
            storage[state] = (sizes_of(cur, cat), st)
            if state == "merged by itself" and args.cold:
                c.close()
                subprocess.run([os.path.join(ROOT, "scripts", "cluster"), "stop"], check=True)
                subprocess.run(["sync"])
                try:
                    with open("/proc/sys/vm/drop_caches", "w") as f:
                        f.write("3\n")
                    how = "server restarted, OS page cache dropped"
                except OSError:
                    how = "server restarted (the OS page cache could not be dropped)"
                subprocess.run([os.path.join(ROOT, "scripts", "cluster"), "start"], check=True)
                results[state + ", cold"] = bp.time_pass(args.database, "%s %s cold" % (h, state), bp.afp_sql(cat, 3),
                                                         clips, real, {}, warmup=0)
                timing["cold"] = how
                c = bp.connect(args.database)
                c.autocommit = True
                cur = c.cursor()
            results[state] = state_pass(args.database, cat, "%s %s" % (h, state), clips, real)
            if state == "merged by itself" and args.paired:
                paired(args, cat, h, clips, real, all_kinds)
        c.close()
        for state in [x for x in results if x in storage]:
            (heap, toast, index), st = storage[state]
            mb = lambda x: x / H / 1e6  # noqa: E731
            out("storage per hour, %s, %s" % (state, h),
                "%.2f MB/h (heap %.3f, TOAST %.2f, afp_landmark %.2f); %d runs, %d pending, %.1f bytes per posting, "
                "%d free pages" % (mb(heap + toast + index), mb(heap), mb(toast), mb(index), st["runs"],
                                   st["pending_postings"],
                                   index / max(1, st["packed_postings"] + st["pending_postings"]), st["free_pages"]),
                "pg_relation_size of heap, TOAST (with its index) and the afp_landmark index; afp_index_stats")
        for kind in all_kinds:
            out("p50 / p95, %s, %s" % (kind, h),
                " | ".join("%s: %s" % (state, summary(results[state], kind)) for state in results),
                "match_afp(fingerprint of the clip, cat, 3), timed in the server; %d lengths (%s s)"
                % (len(lengths), args.lengths))
        ref = "freshly built" if "freshly built" in results else list(results)[-1]
        base = {r["id"]: key_of(r) for r in results[ref]}
        out("answers differing from the %s index, %s" % (ref, h),
            "; ".join("%s: %d of %d" % (state, sum(key_of(r) != base[r["id"]] for r in results[state]), len(base))
                      for state in results if state != ref),
            "every row of every clip's answer (id, offset to 1 ms, confidence to 1e-6)")
        if "cold" in timing:
            out("cold pass, %s" % h, timing["cold"], "the clips of 'merged by itself, cold' ran with no warm-up")
        if "own merge" in timing:
            out("the index's own merge after the load, %s" % h,
                "%.1f s until its background worker had exited (after the as-loaded pass)" % timing["own merge"],
                "pg_stat_activity polled for backend_type 'afp_landmark merge' after the as-loaded clips")
        if "vacuum" in timing:
            out("VACUUM (merges every run and the pending postings), %s" % h,
                "%.1f s = %.0f h / s" % (timing["vacuum"], H / timing["vacuum"]),
                "VACUUM right after the load")
        if args.no_builds:
            continue
        # The build with 0, 1 and 2 parallel workers (the table's parallel_workers forces the count).
        c = bp.connect(args.database)
        c.autocommit = True
        cur = c.cursor()
        cur.execute("SET maintenance_work_mem = '1GB'")
        builds = []
        for workers in (0, 1, 2):
            cur.execute("SET max_parallel_maintenance_workers = %d" % workers)
            cur.execute("ALTER TABLE %s SET (parallel_workers = %d)" % (devlib.ident(cat), max(workers, 1)))
            t0 = time.time()
            cur.execute("REINDEX INDEX %s" % devlib.ident(cat + "_landmark"))
            builds.append(time.time() - t0)
        c.close()
        out("index build, %s" % h,
            "; ".join("%d worker%s: %.1f s = %.0f h / s" % (w, "" if w == 1 else "s", t, H / t)
                      for w, t in zip((0, 1, 2), builds)),
            "REINDEX with maintenance_work_mem = 1GB and max_parallel_maintenance_workers = 0 / 1 / 2 "
            "(the leader takes part too)")
    if prev:
        bp.drop_catalogue(args.database, prev)
    out("bench-ingest wall time", "%.0f s" % (time.time() - run_t0), "this run; 2 cores shared with the clients")
    w = max(len(r[0]) for r in rows)
    print("| metric | value | method |")
    print("|---|---|---|")
    for m, v, how in rows:
        print("| %s | %s | %s |" % (m, v, how))


if __name__ == "__main__":
    main()
