#!/usr/bin/python3
"""Speed and size benchmark for afp: the afp_landmark index, the GIN path and a dejavu-style baseline.

Ingests the db tracks of a catalogue CSV, grows catalogues of ~10, ~100 and ~1,000 hours (and on
request ~10,000) from their real fingerprints (docs/performance.md, "method"), builds both a GIN
and an afp_landmark index on each, and measures side by side, per catalogue size: bytes per hour,
index build time, afp_index_stats(), match_clip() (with decode) and match_afp() (search only)
latency and recall for clean, noisy, speed-changed and absent clips on the landmark path
(afp.use_landmark_index = on) and the GIN path (off), answers naming a distractor, false
positives, the confidence of wrong answers; on the largest catalogue INSERT cost, pgbench
throughput and backend memory; and the same catalogue stored one row per hash with a b-tree
(dejavu's schema). fingerprint() throughput per container. Prints one table on stdout, progress
on stderr.
"""
import argparse
import concurrent.futures
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
import devlib  # noqa: E402  (backend CPU and memory from /proc)
import bench_accuracy as ba  # noqa: E402  (sox helpers, degradations, catalogue CSV, ingest)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PERF_TOOL = os.path.join(ROOT, "build", "cmake", "afp-perf-tool")
FRAMES_PER_SECOND = 8000 / 128
CLIP_CONTAINER = "wav16-44k-stereo"  # the heaviest input to decode
# Distinct distractor copies afp-perf-tool grow makes (bench/perf_tool.cpp): beyond, they repeat.
GROW_DISTINCT_COPIES = 2406

FORMATS = [  # label, sox output options, extension
    ("WAV 16-bit 44.1 kHz stereo", ["-b", "16", "-r", "44100", "-c", "2"], "wav"),
    ("FLAC 44.1 kHz stereo", ["-r", "44100", "-c", "2"], "flac"),
    ("Ogg Vorbis 44.1 kHz stereo (q 5)", ["-r", "44100", "-c", "2", "-C", "5"], "ogg"),
    ("MP3 44.1 kHz stereo 192 kbps", ["-r", "44100", "-c", "2", "-C", "192"], "mp3"),
]
DEFAULT_KINDS = ["clean", "white noise 0 dB", "babble 5 dB", "reverb", "speed +2%", "speed -2%"]
HELD = "held (not in catalogue)"
NONMUSIC = "non-music signal"
KIND_LABELS = {"held": HELD, "nonmusic": NONMUSIC}  # clips not of a catalogue track: any answer is wrong
# bench-accuracy's non-music signals but silence, which fingerprint() refuses ("audio is silent") before any search.
NONMUSIC_SIGNALS = [k for k in ba.NON_MUSIC if k != "silence"]
PATHS = [("landmark", "on"), ("GIN", "off")]  # label, afp.use_landmark_index

rows = []       # (metric, landmark value, GIN value, method)
phases = []     # (phase, seconds)


def out(metric, landmark, gin, method):
    rows.append((metric, landmark, gin, method))
    ba.log("  %s: landmark %s | GIN %s" % (metric, landmark, gin))


def log(msg):
    ba.log("[%s] %s" % (time.strftime("%H:%M:%S"), msg))


def library_version():
    """md5 and mtime of the installed afp.so: every new backend loads the file installed at that
    moment, so a `make install` during the run would mix versions in one table."""
    import hashlib
    libdir = subprocess.run(["pg_config", "--pkglibdir"], capture_output=True, text=True).stdout.strip()
    path = os.path.join(libdir, "afp.so")
    with open(path, "rb") as f:
        digest = hashlib.md5(f.read()).hexdigest()[:10]
    return "%s (installed %s)" % (digest, time.strftime("%H:%M:%S", time.localtime(os.path.getmtime(path))))


versions = []  # (phase, library version) whenever it changes


class Phase:
    """Times a phase of the run, for the progress log and the last row of the table."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t0 = time.time()
        v = library_version()
        if not versions or versions[-1][1] != v:
            if versions:
                log("WARNING: afp.so changed before %s: %s" % (self.name, v))
            versions.append((self.name, v))
        log(self.name + " ...")
        return self

    def __exit__(self, *exc):
        dt = time.time() - self.t0
        phases.append((self.name, dt))
        log("%s: %.0f s" % (self.name, dt))


class ServerLost(Exception):
    pass


RETRYABLE = (psycopg2.OperationalError, psycopg2.InterfaceError, subprocess.CalledProcessError, ServerLost)


def wait_for_server(db, timeout=120):
    t0 = time.time()
    while True:
        try:
            devlib.connect(db).close()
            return
        except RETRYABLE:
            if time.time() - t0 > timeout:
                raise
            time.sleep(2)


def retry(fn, *args, attempts=3):
    """Runs fn again when the connection is lost: the cluster is shared, and another session's
    crash makes the postmaster restart every backend."""
    for attempt in range(1, attempts + 1):
        try:
            return fn(*args)
        except RETRYABLE as e:
            if attempt == attempts:
                raise
            log("  connection lost (%s); waiting for the server and retrying %s" % (str(e).strip().splitlines()[0], fn.__name__))
            time.sleep(3)
            wait_for_server(args[0] if args and isinstance(args[0], str) else "postgres")


def connect(db, settings=None):
    return devlib.connect(db, settings)


def one(cur, sql, args=None):
    cur.execute(sql, args)
    return cur.fetchone()[0]


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")


def fmt_ms(x):
    return "%.0f" % x if x >= 100 else "%.1f" % x if x >= 1 else "%.2f" % x


# ---------------------------------------------------------------------------------------------
# fingerprint() throughput


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
        t0 = devlib.backend_cpu(pid)
        w0 = time.perf_counter()
        for _ in range(repeats):
            cur.execute("SELECT afp_landmark_count(fingerprint(bytes)) FROM audio WHERE label = %s", (label,))
        cpu = devlib.backend_cpu(pid) - t0
        wall = time.perf_counter() - w0
        out("fingerprint(), " + label, "%.0f s of audio / CPU s" % (repeats * audio_s / cpu), "—",
            "%d calls on a %.0f s track in one backend: backend CPU time (wall %.0f x); decode alone %.0f x, "
            "analysis alone %.0f x (afp-perf-tool split, same files); no index involved"
            % (repeats, audio_s, repeats * audio_s / wall, audio_s / decode_cpu, audio_s / max(1e-9, total_cpu - decode_cpu)))
    c.close()


# ---------------------------------------------------------------------------------------------
# catalogues


def build_catalogue(db, name, copies, hours_db, gin=True, landmark_mwm="1GB"):
    """Real fingerprints as copy 0, distractor copies 1..copies-1, then the GIN and afp_landmark indexes."""
    c = connect(db)
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS %s" % devlib.ident(name))
    cur.execute("""CREATE TABLE %s (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text,
                   source_id bigint, copy int, fp afp COMPRESSION lz4 NOT NULL)""" % devlib.ident(name))
    cur.execute("INSERT INTO %s (title, source_id, copy, fp) SELECT title, id, 0, fp FROM bench_tracks ORDER BY id" % devlib.ident(name))
    t0 = time.time()
    if copies > 1:
        pipeline = ("psql -X -q -d {db} -c 'COPY (SELECT id::int8, fp FROM bench_tracks ORDER BY id) TO STDOUT BINARY' "
                    "| {tool} grow 1 {last} "
                    "| psql -X -q -d {db} -c 'COPY {name} (source_id, copy, fp) FROM STDIN BINARY'"
                    ).format(db=db, tool=PERF_TOOL, last=copies - 1, name=name)
        subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True)
    load_s = time.time() - t0
    log("  loaded %d copies in %.0f s" % (copies, load_s))
    cur.execute("SET maintenance_work_mem = '1GB'")
    cur.execute("VACUUM ANALYZE %s" % devlib.ident(name))  # hint bits and visibility map before either build
    gin_s = None
    if gin:
        t0 = time.time()
        cur.execute("CREATE INDEX %s ON %s USING gin (fp)" % (devlib.ident(name + "_gin"), devlib.ident(name)))
        gin_s = time.time() - t0
        log("  GIN built in %.0f s" % gin_s)
    cur.execute("SET maintenance_work_mem = %s", (landmark_mwm,))
    t0 = time.time()
    try:
        cur.execute("CREATE INDEX %s ON %s USING afp_landmark (fp)" % (devlib.ident(name + "_landmark"), devlib.ident(name)))
    except RETRYABLE as e:
        # Not retried: if the build itself crashed the server, a retry would crash the shared cluster again.
        raise RuntimeError("connection lost during CREATE INDEX USING afp_landmark on %s (did the build crash? "
                           "see the server log): %s" % (name, e))
    landmark_s = time.time() - t0
    log("  afp_landmark built in %.0f s" % landmark_s)
    cur.execute("ANALYZE %s" % devlib.ident(name))
    cur.execute("""SELECT pg_relation_size(%(t)s::regclass),
                          coalesce(pg_total_relation_size((SELECT reltoastrelid FROM pg_class WHERE oid = %(t)s::regclass)), 0),
                          coalesce(pg_relation_size(to_regclass(%(g)s)), 0), pg_relation_size(%(l)s::regclass),
                          (SELECT count(*) FROM """ + name + """)""",
                {"t": name, "g": name + "_gin", "l": name + "_landmark"})
    heap, toast, gin, landmark, nrows = cur.fetchone()
    cur.execute("SELECT * FROM afp_index_stats(%s::regclass)", (name + "_landmark",))
    stats = dict(zip([d[0] for d in cur.description], cur.fetchone()))
    c.close()
    return {"hours": hours_db * copies, "rows": nrows, "heap": heap, "toast": toast, "gin": gin, "landmark": landmark,
            "gin_s": gin_s, "landmark_s": landmark_s, "load_s": load_s, "stats": stats}


def drop_catalogue(db, name):
    c = connect(db)
    c.cursor().execute("DROP TABLE IF EXISTS %s" % devlib.ident(name))
    c.close()


def real_rows(db, cat):
    """id -> title of the real rows (copy 0); every other id is a distractor."""
    c = connect(db)
    cur = c.cursor()
    cur.execute("SELECT id, title FROM %s WHERE copy = 0" % devlib.ident(cat))
    res = dict(cur.fetchall())
    c.close()
    return res


# ---------------------------------------------------------------------------------------------
# clips


def make_clips(db, tracks, kinds, n, lengths, seed, n_held, jobs, n_nonmusic=0):
    """n cuts per length of db tracks, each rendered in every kind (the same cut degraded each
    way, WAV 16-bit 44.1 kHz stereo), n_held clean cuts per length of held tracks, and n_nonmusic
    non-music signals per length (NONMUSIC_SIGNALS in turn: tones, sweeps, clicks, a drum loop,
    speech, noise, hum); stored with their reference-density fingerprints (fingerprint()
    of the clip, for the search-only runs). Held and non-music clips have held = true: any answer
    to them is wrong."""
    c = connect(db)
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS perf_clips")
    cur.execute("""CREATE TABLE perf_clips (id int PRIMARY KEY, kind text, length int, held bool, title text,
                   offset_s float8, audio bytea, fp afp)""")
    c.close()
    plan = []
    for length in lengths:
        for split, count, clip_kinds in (("db", n, kinds), ("held", n_held, ["clean"])):
            pool = [t for t in tracks if t["split"] == split and t["duration"] > length + 2]
            for k in range(count):
                rng = random.Random("%s:%s:%d:%d" % (seed, split, length, k))
                t = rng.choice(pool)
                off = round(rng.uniform(0, t["duration"] - length - 1), 3)
                for kind in clip_kinds:
                    plan.append({"kind": split, "degradation": kind, "length": length, "track": t["name"],
                                 "path": t["path"], "offset": off, "container": CLIP_CONTAINER,
                                 "seed": "%s:%s:%d:%d:%s" % (seed, split, length, k, kind)})
        for k in range(n_nonmusic):
            kind = NONMUSIC_SIGNALS[k % len(NONMUSIC_SIGNALS)]
            plan.append({"kind": "nonmusic", "degradation": kind, "length": length, "track": None, "path": None,
                         "offset": None, "container": CLIP_CONTAINER,
                         "seed": "%s:nonmusic:%d:%d:%s" % (seed, length, k, kind)})
    workdir = tempfile.mkdtemp(prefix="afp-bench-perf-")
    babble = (ba.Babble(workdir) if n_nonmusic > 0 or
              any(ba.DEGRADATIONS[k][1] and ba.DEGRADATIONS[k][1][0] == "babble" for k in kinds) else None)
    dbs = ba.Database(db, {})
    local = threading.local()
    done = [0]
    lock = threading.Lock()

    def make(item):
        i, clip = item
        if not hasattr(local, "tmp"):
            local.tmp = tempfile.mkdtemp(dir=workdir)
        data = ba.make_clip(clip, babble, local.tmp)
        with dbs.conn().cursor() as cur:
            cur.execute("INSERT INTO perf_clips VALUES (%s, %s, %s, %s, %s, %s, %s, fingerprint(%s))",
                        (i + 1, KIND_LABELS.get(clip["kind"], clip["degradation"]), clip["length"],
                         clip["kind"] in KIND_LABELS, clip["track"], clip["offset"], psycopg2.Binary(data),
                         psycopg2.Binary(data)))
        with lock:
            done[0] += 1
            if done[0] % 50 == 0 or done[0] == len(plan):
                log("  clips %d/%d" % (done[0], len(plan)))

    try:
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            list(pool.map(make, enumerate(plan)))
    finally:
        dbs.close()
        shutil.rmtree(workdir, ignore_errors=True)
    c = connect(db)
    cur = c.cursor()
    cur.execute("VACUUM ANALYZE perf_clips")
    cur.execute("SELECT id, kind, length, held, title, offset_s FROM perf_clips ORDER BY id")
    clips = [dict(zip(("id", "kind", "length", "held", "title", "offset_s"), r)) for r in cur.fetchall()]
    c.close()
    return clips


# ---------------------------------------------------------------------------------------------
# timing


# One query per clip, timed in the server (clock_timestamp around EXECUTE, and the backend's own
# on-CPU time from /proc/self/schedstat, which other processes on the machine do not inflate): the
# client round trip and fetching the clip's bytes are outside. The query returns arrays of the answers' track ids,
# offsets and confidences, best first (NULL when there is none).
TIME_ONE_SQL = """
CREATE OR REPLACE FUNCTION pg_temp.cpu_ns() RETURNS int8 LANGUAGE sql AS
  $f$ SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::int8 $f$;
CREATE OR REPLACE FUNCTION pg_temp.time_one(sql text, clip_id int,
    OUT ms float8, OUT cpu_ms float8, OUT ids int8[], OUT offs float8[], OUT confs float4[]) LANGUAGE plpgsql AS $$
DECLARE c record; t0 timestamptz; c0 int8; r record;
BEGIN
  SELECT p.audio, p.fp INTO c FROM perf_clips p WHERE p.id = clip_id;
  c0 := pg_temp.cpu_ns();
  t0 := clock_timestamp();
  EXECUTE sql INTO r USING c.audio, c.fp;
  ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
  cpu_ms := (pg_temp.cpu_ns() - c0) / 1e6;
  ids := r.ids; offs := r.offs; confs := r.confs;
END $$;
"""

AGG = ("SELECT array_agg(m.track_id ORDER BY m.ordinality) AS ids, array_agg(m.offset_s ORDER BY m.ordinality) AS offs, "
       "array_agg(m.confidence ORDER BY m.ordinality) AS confs FROM %s WITH ORDINALITY m")


def clip_sql(cat, k):
    return AGG % ("match_clip($1, %s::regclass, %d)" % (devlib.literal(devlib.ident(cat)), k))


def afp_sql(cat, k):
    return AGG % ("match_afp($2, %s::regclass, %d)" % (devlib.literal(devlib.ident(cat)), k))


TRACKS_BY_NAME = {}
_repeat_cache = {}


def is_right(clip, title, offset):
    if title != clip["title"] or offset is None:
        return False
    if abs(offset - clip["offset_s"]) <= ba.OFFSET_TOLERANCE_S:
        return True
    # Looped music: the same passage at another place of the track is a right answer too.
    key = (clip["id"], round(offset, 2))
    if key not in _repeat_cache:
        _repeat_cache[key] = clip["title"] in TRACKS_BY_NAME and ba.is_repeat(
            {"track": clip["title"], "offset": clip["offset_s"], "answer_offset": offset, "length": clip["length"]},
            TRACKS_BY_NAME)
    return _repeat_cache[key]


def time_pass(db, label, sql, clips, real, settings, warmup=8):
    """Runs sql for every clip in one backend (after a few untimed warm-up queries); returns one
    result per clip: latency, answers (title or None for a distractor, offset, confidence, right)."""
    state = {}

    def open_backend():
        state["c"] = c = connect(db, settings)
        state["cur"] = cur = c.cursor()
        cur.execute(TIME_ONE_SQL)
        for clip in clips[:warmup]:
            cur.execute("SELECT * FROM pg_temp.time_one(%s, %s)", (sql, clip["id"]))

    def run_one(clip_id):
        try:
            state["cur"].execute("SELECT * FROM pg_temp.time_one(%s, %s)", (sql, clip_id))
        except RETRYABLE:
            log("  connection lost at clip %d; waiting for the server, reconnecting and retrying it" % clip_id)
            time.sleep(3)
            wait_for_server(db)
            open_backend()
            state["cur"].execute("SELECT * FROM pg_temp.time_one(%s, %s)", (sql, clip_id))
        return state["cur"].fetchone()

    retry(lambda _db: open_backend(), db)
    res = []
    t0 = time.time()
    for n, clip in enumerate(clips, 1):
        ms, cpu_ms, ids, offs, confs = run_one(clip["id"])
        answers = []
        for i, tid in enumerate(ids or []):
            title = real.get(tid)
            answers.append({"id": tid, "title": title, "distractor": tid not in real, "offset": offs[i],
                            "confidence": confs[i] if confs else None,
                            "right": not clip["held"] and is_right(clip, title, offs[i]),
                            "shared": clip["held"] and ba.shares_material(clip["title"], title)})
        res.append(dict(clip, ms=ms, cpu_ms=cpu_ms, answers=answers))
        if n % 50 == 0 or n == len(clips):
            el = time.time() - t0
            log("  %s: %d/%d clips, %.0f s, ETA %.0f s" % (label, n, len(clips), el, el / n * (len(clips) - n)))
    state["c"].close()
    return res


RESULTS_FILE = None


def dump(size_h, pass_label, res):
    if RESULTS_FILE is None:
        return
    import json
    with open(RESULTS_FILE, "a") as f:
        for r in res:
            f.write(json.dumps(dict(r, hours=size_h, run=pass_label), default=str) + "\n")


def cell(res, kind, length):
    sel = [r for r in res if r["kind"] == kind and r["length"] == length]
    if not sel:
        return "—"
    ms = [r["ms"] for r in sel]
    cpu = [r["cpu_ms"] for r in sel]
    lat = "%s / %s ms (CPU %s)" % (fmt_ms(pct(ms, 0.5)), fmt_ms(pct(ms, 0.95)), fmt_ms(sum(cpu) / len(cpu)))
    distract = sum(bool(r["answers"]) and r["answers"][0]["distractor"] for r in sel)
    if kind in (HELD, NONMUSIC):
        shared = sum(bool(r["answers"]) and r["answers"][0].get("shared", False) for r in sel)
        s = "%s · %d/%d answered" % (lat, sum(bool(r["answers"]) for r in sel) - shared, len(sel))
        if shared:
            s += " (+%d naming the db track the clip's track shares material with)" % shared
    else:
        s = "%s · %d/%d" % (lat, sum(bool(r["answers"]) and r["answers"][0]["right"] for r in sel), len(sel))
    if distract:
        s += " (%d distractor)" % distract
    return s


def answer_summary(res):
    db = [r for r in res if not r["held"]]
    held = [r for r in res if r["kind"] == HELD]
    nonmusic = [r for r in res if r["kind"] == NONMUSIC]
    wrong = [r for r in db if r["answers"] and not r["answers"][0]["right"]]
    shared = sum(bool(r["answers"]) and r["answers"][0].get("shared", False) for r in held)
    s = ("%d distractor, %d other wrong of %d; held FP %d/%d%s"
         % (sum(r["answers"][0]["distractor"] for r in wrong), sum(not r["answers"][0]["distractor"] for r in wrong),
            len(db), sum(bool(r["answers"]) for r in held) - shared, len(held),
            " (+%d sharing material)" % shared if shared else ""))
    if nonmusic:
        s += "; non-music answered %d/%d" % (sum(bool(r["answers"]) for r in nonmusic), len(nonmusic))
    return s


CONF_BINS = [(0.0, 0.1), (0.1, 0.3), (0.3, 0.5), (0.5, 0.9), (0.9, 1.01)]


def conf_summary(values, distractors=None):
    if not values:
        return "none"
    bins = ", ".join("%s: %d" % ("<%.1f" % hi if lo == 0 else ">=%.1f" % lo if hi > 1 else "%.1f-%.1f" % (lo, hi),
                                 sum(lo <= v < hi for v in values)) for lo, hi in CONF_BINS)
    s = "%d rows, p50 %.2f, p90 %.2f, max %.2f [%s]" % (len(values), pct(values, 0.5), pct(values, 0.9), max(values), bins)
    if distractors is not None:
        s += "; %d distractor rows" % distractors
    return s


# ---------------------------------------------------------------------------------------------
# dejavu baseline


def build_baseline(db, cat, name):
    """dejavu's schema: one row per (hash, track, offset), b-tree on hash, same fingerprints."""
    c = connect(db)
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS %s" % devlib.ident(name))
    cur.execute("CREATE TABLE %s (hash int4 NOT NULL, track_id bigint NOT NULL, offset_frame int4 NOT NULL)" % devlib.ident(name))
    t0 = time.time()
    cur.execute("INSERT INTO %s SELECT l.hash, c.id, round(l.t_s * %f)::int4 FROM %s c, afp_landmarks(c.fp) l"
                % (devlib.ident(name), FRAMES_PER_SECOND, devlib.ident(cat)))
    cur.execute("SET maintenance_work_mem = '1GB'")
    cur.execute("CREATE INDEX %s ON %s (hash)" % (devlib.ident(name + "_hash_idx"), devlib.ident(name)))
    build_s = time.time() - t0
    cur.execute("VACUUM ANALYZE %s" % devlib.ident(name))
    size = one(cur, "SELECT pg_total_relation_size(%s::regclass)", (name,))
    c.close()
    return {"bytes": size, "build_s": build_s}


def baseline_sql(name):
    # dejavu: fetch every row whose hash the clip has, count (track, offset difference) pairs.
    return ("WITH q AS (SELECT hash, round(t_s * %f)::int4 AS f FROM afp_landmarks($2)) "
            "SELECT ARRAY[b.track_id] AS ids, ARRAY[(b.diff / %f)::float8] AS offs, NULL::float4[] AS confs FROM ("
            "  SELECT d.track_id, d.offset_frame - q.f AS diff, count(*) AS n FROM %s d JOIN q ON d.hash = q.hash "
            "  WHERE d.hash = ANY (ARRAY(SELECT hash FROM q)) GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 1) b"
            % (FRAMES_PER_SECOND, FRAMES_PER_SECOND, devlib.ident(name)))


# ---------------------------------------------------------------------------------------------
# largest catalogue: memory, throughput, INSERT


def bench_pgbench(db, cat, seconds, clients, path_setting):
    n_clean = one(connect(db).cursor(), "SELECT count(*) FROM perf_clips WHERE kind = 'clean'")
    tmp = tempfile.mkdtemp()
    script = os.path.join(tmp, "match.sql")
    with open(script, "w") as f:
        f.write("\\set k random(0, %d)\n" % (n_clean - 1))
        f.write("SELECT count(*) FROM match_clip((SELECT audio FROM perf_clips WHERE kind = 'clean' ORDER BY id "
                "OFFSET :k LIMIT 1), %s::regclass);\n" % devlib.literal(devlib.ident(cat)))
    pgbench = os.path.join(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip(), "pgbench")
    if not os.path.exists(pgbench):
        pgbench = shutil.which("pgbench") or "pgbench"
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
    env = dict(os.environ, PGOPTIONS="-c afp.use_landmark_index=%s" % path_setting)
    res = subprocess.run([pgbench, "-n", "-c", str(clients), "-j", str(clients), "-T", str(seconds),
                          "-f", script, db], capture_output=True, text=True, env=env)
    stop.set()
    th.join()
    shutil.rmtree(tmp)
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", res.stdout)
    lat = re.search(r"latency average = ([0-9.]+) ms", res.stdout)
    if not m:
        raise ServerLost("pgbench failed: " + res.stdout + res.stderr)
    total = sum(waits.values()) or 1
    top = ", ".join("%s %.0f%%" % (k, 100.0 * v / total) for k, v in sorted(waits.items(), key=lambda kv: -kv[1])[:2])
    return "%.1f clips/s (avg %s ms; %s)" % (float(m.group(1)), lat.group(1) if lat else "?", top)


def bench_memory(db, cat, path_setting):
    """Growth of a fresh backend's private memory over one match_clip() of a 10 s clip."""
    c = connect(db, {"afp.use_landmark_index": path_setting})
    cur = c.cursor()
    pid = one(cur, "SELECT pg_backend_pid()")
    cur.execute("SELECT afp_landmark_count(fp) FROM perf_clips LIMIT 1")  # load the library
    before = devlib.proc_status(pid)
    cur.execute("SELECT count(*) FROM match_clip((SELECT audio FROM perf_clips WHERE length = 10 AND kind = 'clean' "
                "ORDER BY id LIMIT 1), %s::regclass)", (cat,))
    after = devlib.proc_status(pid)
    c.close()
    private_kb = (after["VmHWM"] - before["VmHWM"]) - (after.get("RssShmem", 0) - before.get("RssShmem", 0))
    return private_kb / 1024.0


def bench_insert(db, cat, repeats, gin=True):
    """INSERT of a real fingerprint (another copy of a db track, re-compressed into TOAST) into the
    catalogue: with both indexes committed, then inside rolled-back transactions with one or both
    afp indexes dropped (DROP INDEX is transactional) to split the cost."""
    c = connect(db)
    cur = c.cursor()
    cur.execute("SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY afp_landmark_count(fp)) FROM bench_tracks")
    median_landmarks = cur.fetchone()[0]
    # Tracks near the median landmark count, so the rows are typical.
    cur.execute("SELECT id, afp_landmark_count(fp) FROM bench_tracks ORDER BY abs(afp_landmark_count(fp) - %s), id LIMIT %s",
                (median_landmarks, repeats))
    picks = cur.fetchall()
    cur.execute("DELETE FROM %s WHERE copy = -1" % devlib.ident(cat))  # a retry after a lost connection
    sql = "INSERT INTO %s (title, source_id, copy, fp) SELECT title || ' (insert)', id, -1, fp FROM bench_tracks WHERE id = %%s" % devlib.ident(cat)
    results = {}
    # committed, both indexes (autocommit: the WAL flush of the commit is included)
    ms = []
    for tid, _ in picks:
        t0 = time.perf_counter()
        cur.execute(sql, (tid,))
        ms.append((time.perf_counter() - t0) * 1000)
    results["both, committed" if gin else "afp_landmark only, committed"] = ms
    variants = ((("both", []), ("afp_landmark only", [cat + "_gin"]), ("GIN only", [cat + "_landmark"]),
                 ("no afp index", [cat + "_gin", cat + "_landmark"])) if gin else
                (("both", None), ("afp_landmark only", []), ("GIN only", None), ("no afp index", [cat + "_landmark"])))
    for label, drops in variants:
        if drops is None:
            results[label] = []
            continue
        ms = []
        for tid, _ in picks:
            cur.execute("BEGIN")
            for d in drops:
                cur.execute("DROP INDEX %s" % devlib.ident(d))
            t0 = time.perf_counter()
            cur.execute(sql, (tid,))
            ms.append((time.perf_counter() - t0) * 1000)
            cur.execute("ROLLBACK")
        results[label] = ms
    cur.execute("DELETE FROM %s WHERE copy = -1" % devlib.ident(cat))
    t0 = time.perf_counter()
    cur.execute("VACUUM %s" % devlib.ident(cat))
    results["vacuum"] = (time.perf_counter() - t0) * 1000
    cur.execute("SELECT * FROM afp_index_stats(%s::regclass)", (cat + "_landmark",))
    stats = dict(zip([d[0] for d in cur.description], cur.fetchone()))
    c.close()
    return results, picks, stats


# ---------------------------------------------------------------------------------------------


NOTES = [
    "(a) Latency rows: each query timed in the server (clock_timestamp around EXECUTE), one backend per path and mode, "
    "after 8 warm-up queries; p50 / p95 of wall time; CPU = mean of the backend's on-CPU time (/proc/self/schedstat, "
    "which the kernel updates at scheduler ticks: exact in sum, not per clip). Right = the first row names the clip's "
    "track at its offset +-0.1 s (or at a repeat of the passage); \"(n distractor)\" = first rows naming a grown copy. "
    "Clips: WAV 16-bit 44.1 kHz stereo; every kind is the same cut degraded with scripts/lib/bench_accuracy.py's "
    "DEGRADATIONS; search only = match_afp on fingerprint() of the clip (reference density, not the query analysis "
    "match_clip uses, so recall can differ from the decode rows).",
]


def print_table():
    header = ("metric", "afp_landmark path (or value)", "GIN path", "method")
    widths = [min(max(len(header[i]), max(len(str(r[i])) for r in rows)), 72) for i in range(3)]
    print("| %-*s | %-*s | %-*s | %s |" % (widths[0], header[0], widths[1], header[1], widths[2], header[2], header[3]))
    print("|%s|%s|%s|---|" % tuple("-" * (w + 2) for w in widths))
    for r in rows:
        cells = [str(x).replace("|", "/") for x in r]
        print("| %-*s | %-*s | %-*s | %s |" % (widths[0], cells[0], widths[1], cells[1], widths[2], cells[2], cells[3]))
    print()
    for n in NOTES:
        print(n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("catalogue", help="CSV with track_id,path,split (db tracks are ingested)")
    ap.add_argument("--sizes", default="10,100,1000", help="catalogue sizes in hours (10000 also works: ~25 GB, see --help)")
    ap.add_argument("--baseline-sizes", default="10,100", help="sizes at which the dejavu schema is built too")
    ap.add_argument("--confidence-sizes", default=None,
                    help="sizes with the confidence pass (min_confidence 0, max_results 5); default the smallest and largest")
    ap.add_argument("--kinds", default=",".join(DEFAULT_KINDS),
                    help="clip kinds: degradations of scripts/lib/bench_accuracy.py, comma-separated")
    ap.add_argument("--lengths", default="5,10", help="clip lengths in seconds")
    ap.add_argument("--clips", type=int, default=20, help="cuts of db tracks per length (each rendered in every kind)")
    ap.add_argument("--held-clips", type=int, default=20, help="clips per length of tracks not in the catalogue")
    ap.add_argument("--nonmusic-clips", type=int, default=10,
                    help="non-music signals per length (tones, a sweep, a square wave, clicks, a drum loop, speech, "
                         "babble, noise, hum: 10 is one of each)")
    ap.add_argument("--pgbench-seconds", type=int, default=15)
    ap.add_argument("--pgbench-clients", default="1,2")
    ap.add_argument("--insert-repeats", type=int, default=5)
    ap.add_argument("--fingerprint-repeats", type=int, default=5, help="0 skips the fingerprint() throughput rows")
    ap.add_argument("--jobs", type=int, default=2, help="workers making clips")
    ap.add_argument("--database", default="afp_bench_perf")
    ap.add_argument("--seed", default="afp-perf-2")
    ap.add_argument("--landmark-maintenance-work-mem", default="1GB",
                    help="maintenance_work_mem of the afp_landmark builds (GIN: 1GB); the build spills to temporary "
                         "files when its postings (12 bytes each) exceed half of it")
    ap.add_argument("--gin-max-size", type=int, default=None,
                    help="build the GIN index (and run the GIN path) only up to this size: at 10,000 h its build alone takes ~1 h")
    ap.add_argument("--results", default=None, help="write every clip's result of every pass here (JSON lines)")
    ap.add_argument("--keep", action="store_true", help="keep the largest catalogue (perf_cat_SIZE) after the run")
    args = ap.parse_args()
    if not os.path.exists(PERF_TOOL):
        sys.exit("bench-perf: %s missing (scripts/setup builds it)" % PERF_TOOL)
    run_t0 = time.time()

    sizes = sorted(int(s) for s in args.sizes.split(","))
    baseline_sizes = {int(s) for s in args.baseline_sizes.split(",") if s}
    conf_sizes = ({int(s) for s in args.confidence_sizes.split(",") if s} if args.confidence_sizes is not None
                  else {sizes[0], sizes[-1]})
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for k in kinds:
        if k not in ba.DEGRADATIONS:
            sys.exit("bench-perf: unknown kind %r (one of: %s)" % (k, ", ".join(ba.DEGRADATIONS)))
    lengths = [int(x) for x in args.lengths.split(",")]
    tracks = ba.read_catalogue(args.catalogue)
    TRACKS_BY_NAME.update({t["name"]: t for t in tracks})
    global RESULTS_FILE
    RESULTS_FILE = args.results
    if RESULTS_FILE:
        open(RESULTS_FILE, "w").close()
    hours_db = sum(t["duration"] for t in tracks if t["split"] == "db") / 3600
    n_db_tracks = sum(t["split"] == "db" for t in tracks)

    with Phase("ingest"):
        def ingest(_):
            db = ba.Database(args.database, {})
            try:
                ba.ingest(db, tracks, 2)
            finally:
                try:
                    db.close()
                except Exception:
                    pass
        ba.prepare_database(args.database, True)  # a clean database every run
        retry(ingest, args.database)
    c = connect(args.database)
    hours_db = one(c.cursor(), "SELECT sum(afp_duration(fp)) / 3600 FROM bench_tracks")
    c.close()

    if args.fingerprint_repeats > 0:
        with Phase("fingerprint() throughput"):
            tmp = tempfile.mkdtemp()
            longest = max((t for t in tracks if t["split"] == "db"), key=lambda t: min(t["duration"], 240))
            bench_fingerprint(args.database, longest, tmp, args.fingerprint_repeats)
            shutil.rmtree(tmp)

    with Phase("clips"):
        clips = retry(make_clips, args.database, tracks, kinds, args.clips, lengths, args.seed, args.held_clips, args.jobs,
                      args.nonmusic_clips)
    all_kinds = kinds + [HELD] + ([NONMUSIC] if args.nonmusic_clips > 0 else [])

    prev = None
    for size in sizes:
        copies = max(1, round(size / hours_db))
        cat = "perf_cat_%d" % size
        if prev is not None:  # disk: only one catalogue at a time
            drop_catalogue(args.database, prev)
        gin = args.gin_max_size is None or size <= args.gin_max_size
        paths = PATHS if gin else PATHS[:1]
        NB = "not built (--gin-max-size)"
        with Phase("catalogue ~%d h: %d copies, load and build %s" % (size, copies, "both indexes" if gin else "afp_landmark")):
            info = retry(build_catalogue, args.database, cat, copies, hours_db, gin, args.landmark_maintenance_work_mem)
        prev = cat
        H = info["hours"]
        h = "%.0f h" % H
        dup = ("; copies beyond %d repeat earlier ones (%d of %d rows are duplicates of another distractor)"
               % (GROW_DISTINCT_COPIES, (copies - 1 - GROW_DISTINCT_COPIES) * n_db_tracks, info["rows"])
               if copies - 1 > GROW_DISTINCT_COPIES else "")
        mb = lambda x: x / H / 1e6  # noqa: E731
        out("storage per hour of audio, %s" % h,
            "%.2f MB/h (heap %.3f, TOAST %.2f, afp_landmark %.2f)" % (mb(info["heap"] + info["toast"] + info["landmark"]),
                                                                    mb(info["heap"]), mb(info["toast"]), mb(info["landmark"])),
            "%.2f MB/h (GIN %.2f)" % (mb(info["heap"] + info["toast"] + info["gin"]), mb(info["gin"])) if gin else NB,
            "pg_relation_size of heap, TOAST (with its index) and each afp index, primary key excluded; %d rows = "
            "%d real tracks x %d copies (afp-perf-tool grow)%s; both: %.2f MB/h"
            % (info["rows"], n_db_tracks, copies, dup, mb(info["heap"] + info["toast"] + info["landmark"] + info["gin"])))
        out("index build, %s" % h,
            "%.1f s = %.0f h of audio / s" % (info["landmark_s"], H / info["landmark_s"]),
            "%.1f s = %.0f h of audio / s" % (info["gin_s"], H / info["gin_s"]) if gin else NB,
            "CREATE INDEX USING afp_landmark / gin (fp), maintenance_work_mem = %s / 1GB, table VACUUMed first; "
            "distractors loaded by COPY in %.0f s" % (args.landmark_maintenance_work_mem, info["load_s"]))
        st = info["stats"]
        out("afp_index_stats(), %s" % h,
            "%d rows, %d packed + %d pending postings, %d buckets, largest %d, %d pages"
            % (st["rows"], st["packed_postings"], st["pending_postings"], st["buckets"], st["largest_bucket"], st["pages"]),
            "—", "%.0f postings per row; %.1f bytes per posting (%d bytes); removed %d"
            % (st["packed_postings"] / max(1, st["rows"]), st["bytes"] / max(1, st["packed_postings"] + st["pending_postings"]),
               st["bytes"], st["removed_postings"]))

        real = real_rows(args.database, cat)
        results = {}
        for mode, make_sql, what in (("with decode", clip_sql, "match_clip(bytes, cat, 1)"),
                                     ("search only", afp_sql, "match_afp(fingerprint of the clip, cat, 1)")):
            for path, setting in paths:
                with Phase("%s, %s path, %s" % (h, path, mode)):
                    results[(mode, path)] = time_pass(args.database, "%s %s %s" % (h, path, mode), make_sql(cat, 1), clips,
                                                      real, {"afp.use_landmark_index": setting})
                    dump(H, "%s %s" % (path, mode), results[(mode, path)])
            for kind in all_kinds:
                for length in lengths:
                    out("p50 / p95 (CPU mean), right: %s, %d s, %s, %s" % (kind, length, mode, h),
                        cell(results[(mode, "landmark")], kind, length), cell(results[(mode, "GIN")], kind, length) if gin else NB,
                        "%s, %d %s (a)" % (what, {HELD: args.held_clips, NONMUSIC: args.nonmusic_clips}.get(kind, args.clips),
                                           {HELD: "held-track clips; answered = false positives",
                                            NONMUSIC: "non-music signals; answered = false positives"}.get(kind, "clips")))
        out("wrong answers of db clips; held false positives, %s" % h,
            " / ".join("%s: %s" % (m, answer_summary(results[(m, "landmark")])) for m in ("with decode", "search only")),
            " / ".join("%s: %s" % (m, answer_summary(results[(m, "GIN")])) for m in ("with decode", "search only")) if gin else NB,
            "first rows over every kind and length; distractor = a grown copy (copy > 0); afp.min_confidence default")

        if size in conf_sizes:
            conf = {}
            for path, setting in paths:
                with Phase("%s, %s path, confidence pass" % (h, path)):
                    conf[path] = time_pass(args.database, "%s %s confidence" % (h, path), clip_sql(cat, 5), clips, real,
                                           {"afp.use_landmark_index": setting, "afp.min_confidence": "0"})
                    dump(H, "%s confidence" % path, conf[path])
            for label, sel in (("db clips", lambda r: not r["held"]), ("held clips", lambda r: r["kind"] == HELD),
                               ("non-music signals", lambda r: r["kind"] == NONMUSIC)):
                vals = {"GIN": NB}
                for path, _ in paths:
                    wrong = [a for r in conf[path] if sel(r) for a in r["answers"] if not a["right"] and not a["shared"]]
                    vals[path] = conf_summary([a["confidence"] for a in wrong], sum(a["distractor"] for a in wrong))
                out("confidence of wrong rows, %s, %s" % (label, h), vals["landmark"], vals["GIN"],
                    "match_clip(bytes, cat, 5) with afp.min_confidence = 0: every returned row that is not the right "
                    "track at the right offset")
            vals = {"GIN": NB}
            for path, _ in paths:
                right = [r["answers"][0]["confidence"] for r in conf[path] if r["answers"] and r["answers"][0]["right"]]
                vals[path] = ("%d right: min %.2f, p5 %.2f, p50 %.2f" % (len(right), min(right), pct(right, 0.05), pct(right, 0.5))
                              if right else "none")
            out("confidence of right first rows, %s" % h, vals["landmark"], vals["GIN"],
                "same pass: for comparison with the wrong rows (a threshold separates them if right min > wrong max)")

        if size in baseline_sizes:
            with Phase("%s, dejavu baseline" % h):
                base = retry(build_baseline, args.database, cat, "dejavu_%d" % size)
                res_base = time_pass(args.database, "%s dejavu" % h, baseline_sql("dejavu_%d" % size), clips, real, {})
                dump(H, "dejavu", res_base)
                drop_catalogue(args.database, "dejavu_%d" % size)
            b_clean = [r for r in res_base if r["kind"] == "clean"]
            b50 = pct([r["ms"] for r in b_clean], 0.5)
            vals = {"GIN": NB}
            for path, _ in paths:
                a_clean = [r for r in results[("search only", path)] if r["kind"] == "clean"]
                a50 = pct([r["ms"] for r in a_clean], 0.5)
                vals[path] = "%s ms vs dejavu %s ms: %.0fx faster" % (fmt_ms(a50), fmt_ms(b50), b50 / a50)
            db_base = [r for r in res_base if not r["held"]]
            out("vs dejavu schema, %s: clean clips p50, no decode" % h, vals["landmark"], vals["GIN"],
                "match_afp vs hash = ANY(...) GROUP BY track, offset on a b-tree, same fingerprints; dejavu right answers "
                "clean %d / %d, all db kinds %d / %d"
                % (sum(bool(r["answers"]) and r["answers"][0]["right"] for r in b_clean), len(b_clean),
                   sum(bool(r["answers"]) and r["answers"][0]["right"] for r in db_base), len(db_base)))
            afp_l = info["heap"] + info["toast"] + info["landmark"]
            afp_g = info["heap"] + info["toast"] + info["gin"]
            out("vs dejavu schema, %s: size" % h,
                "afp %.0f MB vs dejavu %.0f MB: %.1fx smaller" % (afp_l / 1e6, base["bytes"] / 1e6, base["bytes"] / afp_l),
                "afp %.0f MB: %.1fx smaller" % (afp_g / 1e6, base["bytes"] / afp_g) if gin else NB,
                "heap + TOAST + one afp index vs heap + b-tree (pg_total_relation_size); dejavu load + index %.0f s"
                % base["build_s"])

    # The largest catalogue: memory, throughput, INSERT.
    cat, h = prev, "%.0f h" % info["hours"]
    with Phase("%s, memory" % h):
        out("backend memory per match_clip(), %s" % h,
            "%.1f MB" % retry(bench_memory, args.database, cat, "on"), "%.1f MB" % retry(bench_memory, args.database, cat, "off") if gin else NB,
            "fresh backend, one clean 10 s clip: growth of peak RSS minus growth of shared memory touched (/proc)")
    for clients in [int(x) for x in args.pgbench_clients.split(",")]:
        with Phase("%s, pgbench %d clients" % (h, clients)):
            out("match_clip() throughput, %d client%s, %s" % (clients, "" if clients == 1 else "s", h),
                retry(bench_pgbench, args.database, cat, args.pgbench_seconds, clients, "on"),
                retry(bench_pgbench, args.database, cat, args.pgbench_seconds, clients, "off") if gin else NB,
                "pgbench -T %d -c %d, random clean 5/10 s WAV clips; backends sampled every 100 ms (wait events)"
                % (args.pgbench_seconds, clients))
    with Phase("%s, INSERT" % h):
        ins, picks, st_after = retry(bench_insert, args.database, cat, args.insert_repeats, gin)
    fmt = lambda v: "/".join(fmt_ms(x) for x in v)  # noqa: E731
    out("INSERT of one real fingerprint, %s" % h,
        ("both indexes, committed: %s ms; afp_landmark only: %s ms" % (fmt(ins["both, committed"]), fmt(ins["afp_landmark only"]))
         if gin else "afp_landmark only, committed: %s ms; in a rolled-back transaction: %s ms"
         % (fmt(ins["afp_landmark only, committed"]), fmt(ins["afp_landmark only"]))),
        "GIN only: %s ms" % fmt(ins["GIN only"]) if gin else NB,
        "%d tracks near the median landmark count (%s landmarks), INSERT ... SELECT from bench_tracks, client-side ms each; "
        "index-only splits: the INSERT statement inside a transaction that dropped the other index, rolled back; "
        "same way: both %s ms, no afp index %s ms; then DELETE of the committed rows and VACUUM %.1f s, "
        "afp_landmark after it: %d pending, %d removed postings"
        % (len(picks), "/".join(str(p[1]) for p in picks), fmt(ins["both"]), fmt(ins["no afp index"]),
           ins["vacuum"] / 1000, st_after["pending_postings"], st_after["removed_postings"]))
    if not args.keep:
        drop_catalogue(args.database, cat)

    phases.append(("total", time.time() - run_t0))
    v = library_version()
    if versions[-1][1] != v:
        versions.append(("the end", v))
    out("afp.so during the run", "; ".join("%s from %s" % (v, p) for p, v in versions) if len(versions) > 1
        else versions[0][1] + ", unchanged", "—",
        "md5 of the installed library at each phase: every new backend loads the file installed at that moment")
    out("bench-perf phases (wall time)", "; ".join("%s %.0f s" % p for p in phases), "—",
        "this run; another process may have shared the 2 cores")
    print_table()


if __name__ == "__main__":
    main()
