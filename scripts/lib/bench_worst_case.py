#!/usr/bin/python3
"""Worst-case cost of every user-callable afp function at the default settings.

Generates (once, cached under build/worst-case/audio/) the largest inputs the default settings
allow — an hour of 48 kHz stereo in every lossy and lossless container, a FLAC at 8 channels and
655,350 Hz, 60 s clips — and crafted afp values (50,000-key GIN operands, million-landmark
queries, vote pairs far beyond the 2^20 cap), runs each call in a fresh backend of the private
cluster and reads that backend's CPU time (/proc/<pid>/schedstat) and peak private memory
(/proc/<pid>/status) around the statement. Prints a markdown table on stdout (also written to
build/worst-case/results.md), progress on stderr.
"""
import argparse
import contextlib
import csv
import ctypes
import hashlib
import os
import subprocess
import sys
import time

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import devlib  # noqa: E402  (/proc readers)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "build", "worst-case")
AUDIO_DIR = os.path.join(OUT_DIR, "audio")
DEFAULT_CORPUS = "/var/tmp/afp-dev-corpus/tracks.csv"

# The hashes of parameter set 1 (src/core/params: 16 bits of anchor bin, 8 of target bin, 6 of
# frame delta over the param-set byte): j in [0, 3614625) enumerates values it can produce.
N_PRODUCIBLE = 3614625


def producible_hash(j):
    return 16777216 + ((144 + j // 16065) << 15) + ((1 + (j // 63) % 255) << 7) + 1 + j % 63


# Two sources: LOUD (pink noise at -6 dB plus a slow sine sweep: every band busy, the most bits
# per second the lossy encoders spend) and QUIET (the same at -30 dB: FLAC of an hour of it stays
# under afp.max_audio_bytes, which an hour of loud noise in FLAC, ~440 MB, does not).
def synth(seconds, noise_db):
    return ["synth", str(seconds), "pinknoise", "gain", str(noise_db), "synth", str(seconds), "sine", "mix", "220-3520"]


LOUD, QUIET = -6, -30
HOUR = 3600

rows = []      # table rows
notes = []     # lines under the table
t_start = time.time()


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# audio


def ensure(path, make):
    """Runs make(tmp) unless path exists; the file appears only when make succeeded."""
    if os.path.exists(path) and os.path.getsize(path) > 0:
        return path
    tmp = path + ".part" + os.path.splitext(path)[1]
    t0 = time.time()
    log("generating %s" % os.path.relpath(path, ROOT))
    make(tmp)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)
    log("  %.1f MB in %.0f s" % (os.path.getsize(path) / 1e6, time.time() - t0))
    return path


def sox(*args):
    subprocess.run(["sox", "-V1"] + [str(a) for a in args], check=True)


class SfInfo(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int), ("channels", ctypes.c_int),
                ("format", ctypes.c_int), ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]


SF_FORMAT_OGG_OPUS = 0x200000 | 0x0064
SFM_WRITE = 0x20
SFC_SET_COMPRESSION_LEVEL = 0x1301


def write_opus(path, channels, seconds, noise_db, level=None):
    """Ogg Opus through libsndfile's encoder (sox 14.4 cannot write Opus), fed raw PCM by sox."""
    sf = ctypes.CDLL("libsndfile.so.1")
    sf.sf_open.restype = ctypes.c_void_p
    sf.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(SfInfo)]
    sf.sf_writef_short.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64]
    sf.sf_writef_short.restype = ctypes.c_int64
    sf.sf_close.argtypes = [ctypes.c_void_p]
    sf.sf_command.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    sf.sf_strerror.argtypes = [ctypes.c_void_p]
    sf.sf_strerror.restype = ctypes.c_char_p
    info = SfInfo(0, 48000, channels, SF_FORMAT_OGG_OPUS, 0, 0)
    h = sf.sf_open(path.encode(), SFM_WRITE, ctypes.byref(info))
    if not h:
        raise RuntimeError("libsndfile cannot write Ogg Opus: %s" % sf.sf_strerror(None).decode())
    if level is not None:
        lvl = ctypes.c_double(level)
        sf.sf_command(h, SFC_SET_COMPRESSION_LEVEL, ctypes.byref(lvl), ctypes.sizeof(lvl))
    cmd = ["sox", "-V1", "-D", "-n", "-r", "48000", "-c", str(channels), "-b", "16", "-e", "signed",
           "-t", "raw", "-"] + synth(seconds, noise_db)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    frame = 2 * channels
    try:
        while True:
            b = p.stdout.read(frame * 48000)
            if not b:
                break
            if sf.sf_writef_short(h, b, len(b) // frame) != len(b) // frame:
                raise RuntimeError("libsndfile: %s" % sf.sf_strerror(ctypes.c_void_p(h)).decode())
    finally:
        sf.sf_close(h)
        p.wait()
    if p.returncode != 0:
        raise RuntimeError("sox failed (%d)" % p.returncode)


def audio_path(name):
    return os.path.join(AUDIO_DIR, name)


def make_audio(corpus):
    os.makedirs(AUDIO_DIR, exist_ok=True)
    for d in (OUT_DIR, AUDIO_DIR):
        os.chmod(d, 0o755)  # the server (user postgres) reads the files with pg_read_binary_file
    a = {}
    a["warm"] = ensure(audio_path("warm-2s.wav"), lambda p: sox("-n", "-r", 48000, "-c", 2, "-b", 16, p, *synth(2, LOUD)))
    a["vorbis"] = ensure(audio_path("vorbis-1h-48k-stereo-q10.ogg"),
                         lambda p: sox("-n", "-r", 48000, "-c", 2, "-C", 10, p, *synth(HOUR, LOUD)))
    # 3,599 s: LAME's padding makes 3,600 s of input 3,600.02 s of MP3, which afp.max_audio_seconds refuses.
    a["mp3"] = ensure(audio_path("mp3-3599s-48k-stereo-320k.mp3"),
                      lambda p: sox("-n", "-r", 48000, "-c", 2, "-C", 320, p, *synth(HOUR - 1, LOUD)))
    a["flac"] = ensure(audio_path("flac-1h-48k-stereo-16bit.flac"),
                       lambda p: sox("-D", "-n", "-r", 48000, "-c", 2, "-b", 16, p, *synth(HOUR, QUIET)))
    a["flac5m"] = ensure(audio_path("flac-5min-48k-stereo-16bit.flac"), lambda p: sox(a["flac"], p, "trim", 0, 300))
    # The attacker's FLAC: FLAC's highest rate and channel count, 60 s = 314,568,000 samples,
    # under afp.max_audio_samples (345,600,000); 120 s of a constant (a few kB) is over it.
    a["flac655"] = ensure(audio_path("flac-60s-655350hz-8ch-sine.flac"),
                          lambda p: sox("-D", "-n", "-r", 655350, "-c", 8, "-b", 16, p, "synth", 60, "sine", 1000))
    a["flac655_2m"] = ensure(audio_path("flac-120s-655350hz-8ch-constant.flac"),
                             lambda p: sox("-D", "-n", "-r", 655350, "-c", 8, "-b", 16, p, "trim", 0, 120, "dcshift", 0.5))
    try:
        a["opus"] = ensure(audio_path("opus-1h-48k-stereo-513k.opus"), lambda p: write_opus(p, 2, HOUR, LOUD, level=0.0))
        # 8 channels (mapping family 1; libopusfile refuses family 255, so 8 is the most): the
        # sample cap counts the channels decoded, not the stereo downmix afp reads, so 899 s is the
        # longest such stream allowed (900 s x 48 kHz x 8 = 345.6 M) and the hour is refused.
        a["opus8"] = ensure(audio_path("opus-899s-48k-8ch.opus"), lambda p: write_opus(p, 8, 899, LOUD))
        a["opus8_1h"] = ensure(audio_path("opus-1h-48k-8ch.opus"), lambda p: write_opus(p, 8, HOUR, LOUD))
    except (OSError, RuntimeError) as e:
        notes.append("Ogg Opus skipped: %s" % e)
    a["clip_noise"] = ensure(audio_path("clip-60s-noise-48k-stereo.wav"),
                             lambda p: sox("-n", "-r", 48000, "-c", 2, "-b", 16, p, *synth(60, LOUD)))
    a["clip_noise_61"] = ensure(audio_path("clip-61s-noise-48k-stereo.wav"),
                                lambda p: sox("-n", "-r", 48000, "-c", 2, "-b", 16, p, *synth(61, LOUD)))
    # Steady tones: a handful of distinct hashes repeated at every frame (the cheapest audio to make
    # and, through the afp_landmark vote, among the costliest clips to match).
    a["clip_sine"] = ensure(audio_path("clip-60s-sine-1khz-48k-stereo.wav"),
                            lambda p: sox("-D", "-n", "-r", 48000, "-c", 2, "-b", 16, p, "synth", 60, "sine", 1000))
    a["clip_square"] = ensure(audio_path("clip-60s-square-220hz-48k-stereo.wav"),
                              lambda p: sox("-D", "-n", "-r", 48000, "-c", 2, "-b", 16, p, "synth", 60, "square", 220))
    for k, v in a.items():
        if os.path.getsize(v) > 256 * 1024 * 1024:
            notes.append("WARNING: %s is larger than afp.max_audio_bytes" % os.path.basename(v))
    # Real music from the development corpus: a db track (in every catalogue as copy 0) and a held one.
    a["tracks"] = {}
    if corpus and os.path.exists(corpus):
        with open(corpus, newline="") as f:
            tracks = [r for r in csv.DictReader(f) if os.path.exists(r["path"])]
        for split, kind in (("db", "clip_in"), ("held", "clip_held")):
            cands = sorted((t for t in tracks if t["split"].strip() == split and float(t["duration_s"] or 0) >= 120),
                           key=lambda t: (-float(t["duration_s"]), t["track_id"]))
            if not cands:
                notes.append("no %s track of 120 s or more in %s: that clip is skipped" % (split, corpus))
                continue
            t = cands[0]
            safe = t["track_id"].replace("/", "_")
            a[kind] = ensure(audio_path("clip-60s-%s-at30s.wav" % safe),
                             lambda p, t=t: sox(t["path"], "-r", 48000, "-c", 2, "-b", 16, p, "trim", 30, 60))
            a["tracks"][kind] = t["track_id"]
    else:
        notes.append("no development corpus (%s): the clips of real music are skipped" % corpus)
    return a


# ---------------------------------------------------------------------------------------------
# measuring


def schedstat_s(pid):
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0]) / 1e9


def private_growth_mb(before, after):
    """Peak resident set growth minus the shared buffers and mapped files touched meanwhile."""
    kb = ((after["VmHWM"] - before["VmHWM"]) - (after.get("RssShmem", 0) - before.get("RssShmem", 0))
          - (after.get("RssFile", 0) - before.get("RssFile", 0)))
    return max(0, kb) / 1024.0


class Backend:
    """A fresh backend: parallel workers off (their CPU would not be the backend's), the library
    loaded and FFTW's plans made by a 2 s fingerprint, so a measurement holds only its call."""

    def __init__(self, db, warm_file, settings=()):
        self.conn = devlib.connect(db)
        self.conn.autocommit = True
        self.cur = self.conn.cursor()
        self.cur.execute("SET max_parallel_workers_per_gather = 0")
        self.cur.execute("SET statement_timeout = '30min'")
        for s in settings:
            self.cur.execute(s)
        self.cur.execute("SELECT pg_backend_pid()")
        self.pid = self.cur.fetchone()[0]
        if warm_file:
            self.cur.execute("SELECT afp_landmark_count(fingerprint(pg_read_binary_file(%s)))", (warm_file,))

    def measure(self, sql, params=None):
        before = devlib.proc_status(self.pid)
        cpu0 = schedstat_s(self.pid)
        t0 = time.time()
        result, error = None, None
        try:
            self.cur.execute(sql, params)
            result = self.cur.fetchall() if self.cur.description else None
        except psycopg2.Error as e:
            error = "%s %s" % (e.pgcode, e.diag.message_primary)
        wall = time.time() - t0
        cpu = schedstat_s(self.pid) - cpu0
        after = devlib.proc_status(self.pid)
        return {"cpu": cpu, "wall": wall, "mem": private_growth_mb(before, after), "result": result, "error": error}

    def close(self):
        self.conn.close()


class Bench:
    def __init__(self, args, audio):
        self.args = args
        self.db = args.db
        self.audio = audio

    @contextlib.contextmanager
    def cursor(self):
        """A cursor on a new autocommit connection (psycopg2's `with connection` would open a
        transaction block, where VACUUM cannot run), closed afterwards."""
        c = devlib.connect(self.db)
        c.autocommit = True
        try:
            yield c.cursor()
        finally:
            c.close()

    def run(self, sql, params=None, repeat=1, settings=()):
        """The worst of `repeat` runs, each in a fresh backend."""
        worst = None
        for _ in range(repeat):
            b = Backend(self.db, self.audio["warm"], settings)
            try:
                m = b.measure(sql, params)
            finally:
                b.close()
            if worst is None:
                worst = m
            else:
                worst["wall"] = max(worst["wall"], m["wall"])
                worst["mem"] = max(worst["mem"], m["mem"])
                if m["cpu"] > worst["cpu"]:
                    worst["cpu"], worst["result"], worst["error"] = m["cpu"], m["result"], m["error"]
        return worst

    def row(self, case, function, worst_input, m, bound, outcome=None, extrapolated=False):
        if outcome is None:
            outcome = m["error"] if m["error"] else "ok"
        r = {"case": case, "function": function, "input": worst_input, "cpu": m["cpu"], "wall": m["wall"],
             "mem": m.get("mem"), "bound": bound, "outcome": outcome, "extrapolated": extrapolated}
        rows.append(r)
        log("  %s | %s | CPU %.2f s | wall %.2f s | %s | %s" % (
            function, worst_input, m["cpu"], m["wall"],
            ("%.0f MB" % m["mem"]) if m.get("mem") is not None else "-", outcome))
        return r


def mb(path):
    return "%.0f MB" % (os.path.getsize(path) / 1048576.0)


def crafted_afp(n_samples, landmarks):
    """Text form of an afp value: landmarks = iterable of (hash, frame), sorted here."""
    body = ",".join("%d@%d" % hf for hf in sorted(set(landmarks)))
    return "1:1:8000:128:%d:%s" % (n_samples, body)


def spread_hashes(n):
    """n distinct producible hashes spread over the whole range."""
    step = N_PRODUCIBLE // n
    return [producible_hash(j * step) for j in range(n)]


def usable_frames(n_samples):
    return n_samples // 128 - 64  # frames must start a full analysis window inside the audio


# ---------------------------------------------------------------------------------------------
# cases

FP_BOUND = "afp.max_audio_bytes, afp.max_audio_seconds, afp.max_audio_samples"


def case_fingerprint(b):
    a = b.audio
    log("1. fingerprint()")
    with b.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS wc_fp")
        cur.execute("CREATE TABLE wc_fp (name text PRIMARY KEY, fp afp NOT NULL)")
    ins = "INSERT INTO wc_fp SELECT %s, fingerprint(pg_read_binary_file(%s)) RETURNING afp_landmark_count(fp), afp_duration(fp)"

    def fp_row(key, label, note=""):
        path = a[key]
        m = b.run(ins, (key, path))
        out = m["error"] or "%s landmarks, %.0f s" % (format(m["result"][0][0], ","), m["result"][0][1])
        b.row("1", "fingerprint()", "%s (%s)%s" % (label, mb(path), note), m, FP_BOUND, out)
        return m

    fp_row("vorbis", "1 h Ogg Vorbis 48 kHz stereo, q 10")
    fp_row("mp3", "3,599 s MP3 48 kHz stereo 320 kbps")
    fp_row("flac", "1 h FLAC 48 kHz stereo 16-bit")
    fp_row("flac655", "60 s FLAC 8 ch 655,350 Hz (314.6 M samples)")
    m = b.run("SELECT afp_landmark_count(fingerprint(pg_read_binary_file(%s)))", (a["flac655_2m"],))
    b.row("1", "fingerprint()", "120 s FLAC 8 ch 655,350 Hz (629 M samples; %s, read included)" % mb(a["flac655_2m"]),
          m, "afp.max_audio_samples", m["error"] or "not refused!")
    if "opus" in a:
        fp_row("opus", "1 h Ogg Opus 48 kHz stereo, 513 kbps")
        fp_row("opus8", "899 s Ogg Opus 48 kHz 8 ch (345.2 M samples decoded)")
        m = b.run("SELECT afp_landmark_count(fingerprint(pg_read_binary_file(%s)))", (a["opus8_1h"],))
        b.row("1", "fingerprint()", "1 h Ogg Opus 48 kHz 8 ch (1,382 M samples; %s, read included)" % mb(a["opus8_1h"]),
              m, "afp.max_audio_samples", m["error"] or "not refused!")
    # What reading the file costs inside those statements.
    m = b.run("SELECT length(pg_read_binary_file(%s))", (a["vorbis"],))
    notes.append("Reading the input with pg_read_binary_file() is part of every fingerprint() row: %.2f s CPU "
                 "for the %s Vorbis file." % (m["cpu"], mb(a["vorbis"])))
    # The first fingerprint() of a backend also makes FFTW's plans (the rows above exclude it).
    bk = Backend(b.db, None)
    try:
        first = bk.measure("SELECT afp_landmark_count(fingerprint(pg_read_binary_file(%s)))", (a["warm"],))
        second = bk.measure("SELECT afp_landmark_count(fingerprint(pg_read_binary_file(%s)))", (a["warm"],))
    finally:
        bk.close()
    notes.append("A backend's first fingerprint() (library load, FFTW plans): %.3f s CPU for 2 s of audio, "
                 "%.3f s the second time; every row was measured after such a warm-up." % (first["cpu"], second["cpu"]))


def find_landmark_index(cur, cat):
    cur.execute("""SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = %s::regclass AND am.amname = 'afp_landmark'""", (cat,))
    r = cur.fetchone()
    return r[0] if r else None


def catalogue_info(b, cat):
    with b.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (cat,))
        if cur.fetchone()[0] is None:
            return None
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", (cat,))
        rows_ = cur.fetchone()[0]
        cur.execute("SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'copy' AND NOT attisdropped", (cat,))
        has_copy = cur.fetchone() is not None
        return {"name": cat, "rows": rows_, "index": find_landmark_index(cur, cat), "has_copy": has_copy}


def hours_of(cat):
    """The nominal hours of a catN catalogue (0 for another name)."""
    return int(cat[3:]) if cat.startswith("cat") and cat[3:].isdigit() else 0


def hours_label(cat):
    return "~%s h" % format(int(cat[3:]), ",") if cat.startswith("cat") and cat[3:].isdigit() else cat


MATCH_BOUND = "afp.max_clip_seconds; afp.index_max_postings, afp.index_candidates, afp.max_speed_change"


def case_match_clip(b, cats):
    a = b.audio
    log("2. match_clip() / match_afp()")
    sql = "SELECT track_id, title, score, offset_s, confidence, speed FROM match_clip(pg_read_binary_file(%s), %s::regclass)"
    for cat in cats:
        h = hours_label(cat["name"])

        def clip_row(key, label, settings=(), expect=None, repeat=2):
            if key not in a:
                return
            m = b.run(sql, (a[key], cat["name"]), repeat=repeat, settings=settings)
            if m["error"]:
                out = m["error"]
            elif not m["result"]:
                out = "no row" + (" (WRONG: %s expected)" % expect if expect else "")
            else:
                top = m["result"][0]
                if expect is None:  # a clip of nothing in the catalogue
                    ok = " (**false positive**)"
                else:
                    ok = " (right)" if top[1] == expect else " (WRONG: %s expected)" % expect
                out = "%s at %.1f s, conf %.2f%s" % (top[1] or top[0], top[3], top[4], ok)
            b.row("2", "match_clip()", "%s vs %s %s" % (label, cat["name"], h), m, MATCH_BOUND, out)

        clip_row("clip_noise", "60 s noise WAV 48 kHz stereo, not in catalogue (speed search runs)")
        clip_row("clip_noise", "same, `SET afp.max_speed_change = 0`", settings=("SET afp.max_speed_change = 0",))
        clip_row("clip_held", "60 s real music, not in catalogue (%s)" % a["tracks"].get("clip_held"))
        clip_row("clip_in", "60 s real music in the catalogue (%s at 30 s)" % a["tracks"].get("clip_in"),
                 expect=a["tracks"].get("clip_in"))
        clip_row("clip_sine", "60 s 1 kHz sine WAV 48 kHz stereo (5 distinct hashes)")
        clip_row("clip_square", "60 s 220 Hz square WAV 48 kHz stereo (34 distinct hashes)")
        clip_row("flac655", "60 s FLAC 8 ch 655,350 Hz 1 kHz sine (the costliest clip to decode)", repeat=1)
    # Refusals: a clip over afp.max_clip_seconds, and an hour-long fingerprint given to match_afp.
    cat = cats[-1]["name"]
    m = b.run(sql, (a["clip_noise_61"], cat))
    b.row("2", "match_clip()", "61 s WAV (read included)", m, "afp.max_clip_seconds", m["error"] or "not refused!")
    m = b.run(sql, (a["vorbis"], cat))
    b.row("2", "match_clip()", "1 h Ogg Vorbis (%s, read included)" % mb(a["vorbis"]), m, "afp.max_clip_seconds",
          m["error"] or "not refused!")
    m = b.run("SELECT count(*) FROM match_afp((SELECT fp FROM wc_fp WHERE name = 'vorbis'), %s::regclass)", (cat,))
    b.row("2", "match_afp()", "the 1 h fingerprint", m, "afp.max_clip_seconds", m["error"] or "not refused!")


def case_match_afp_crafted(b, cats):
    """Crafted 60 s queries: match_* take at most afp.max_query_hashes landmarks; the duration
    alone would not bound them (4 M landmarks cost 8.8 s CPU and 809 MB before that cap)."""
    log("2b. match_afp() / ORDER BY <~> with crafted queries")
    n_samples = 60 * 8000
    nf = usable_frames(n_samples)
    with b.cursor() as cur:
        # The attacker's choice: the hashes most frequent in the catalogues (all are grown from the
        # same real tracks, so cat10's frequencies stand for every size), the longest posting lists.
        cur.execute("SELECT h FROM %s, unnest(afp_hashes(fp)) h GROUP BY h ORDER BY count(*) DESC, h LIMIT 50000"
                    % devlib.ident(cats[0]["name"]))
        frequent = [r[0] for r in cur.fetchall()]
    queries = [
        ("50,000 landmarks of 50,000 distinct hashes spread over the range",
         crafted_afp(n_samples, ((h, (i * 7) % nf) for i, h in enumerate(spread_hashes(50000))))),
        ("50,000 landmarks of the 50,000 most frequent hashes",
         crafted_afp(n_samples, ((h, (i * 7) % nf) for i, h in enumerate(frequent)))),
        ("50,000 landmarks: the 1,000 most frequent hashes at 50 frames each",
         crafted_afp(n_samples, ((h, (i * 7 + k * 73) % nf) for i, h in enumerate(frequent[:1000]) for k in range(50)))),
    ]
    # Few hashes at every frame: each posting the index vote reads meets every frame of its hash in
    # the query, so the vote grows with postings x frames. Heavy: guarded by --max-mem-gb.
    low_entropy = [
        ("47,918 landmarks: the 13 most frequent hashes at all 3,686 frames",
         crafted_afp(n_samples, ((h, f) for h in frequent[:13] for f in range(nf)))),
        ("48,000 landmarks: the 40 most frequent hashes at 1,200 frames each",
         crafted_afp(n_samples, ((h, f * nf // 1200) for h in frequent[:40] for f in range(1200)))),
    ]
    heavy_cats = b.args.heavy_catalogs.split(",")
    for cat in cats:
        for label, q in queries:
            m = b.run("SELECT count(*) FROM match_afp(%s::afp, %s::regclass)", (q, cat["name"]))
            b.row("2", "match_afp()", "crafted 60 s afp, %s, vs %s" % (label, cat["name"]), m,
                  "afp.max_query_hashes (landmarks), afp.index_max_postings, 2^20 vote pairs",
                  m["error"] or "%d rows" % m["result"][0][0])
        if cat["name"] not in heavy_cats:
            notes.append("The crafted few-hashes-at-every-frame queries were not run against %s (not in --heavy-catalogs): "
                         "no setting bounds their memory (see their rows for the other catalogues)." % cat["name"])
            continue
        first_mb = 0
        for k, (label, q) in enumerate(low_entropy):
            if k > 0 and first_mb > b.args.max_mem_gb * 1024 / 2:
                notes.append("match_afp() of the crafted %s was not run against %s: the previous crafted query took %.1f GB "
                             "there, and this one took about twice as much elsewhere (--max-mem-gb %g)."
                             % (label, cat["name"], first_mb / 1024, b.args.max_mem_gb))
                log("  skipped %s vs %s" % (label, cat["name"]))
                continue
            m = b.run("SELECT count(*) FROM match_afp(%s::afp, %s::regclass)", (q, cat["name"]))
            first_mb = first_mb or (m["mem"] or 0)
            b.row("2", "match_afp()", "crafted 60 s afp, %s, vs %s" % (label, cat["name"]), m,
                  "afp.max_query_hashes (landmarks) — **not bounded in memory**",
                  m["error"] or "%d rows" % m["result"][0][0])
    q1m = crafted_afp(n_samples, ((h, (i * 7) % nf) for i, h in enumerate(spread_hashes(1000000))))
    m = b.run("SELECT count(*) FROM match_afp(%s::afp, %s::regclass)", (q1m, cats[-1]["name"]))
    b.row("2", "match_afp()", "crafted 60 s afp, 1 M landmarks (%.0f MB text; afp_in included)" % (len(q1m) / 1e6), m,
          "afp.max_query_hashes (landmarks)", m["error"] or "not refused!")
    # ORDER BY <~> through afp_landmark takes any query: the hour, and a crafted million landmarks.
    q1h = crafted_afp(HOUR * 8000, ((h, (i * 7) % usable_frames(HOUR * 8000)) for i, h in enumerate(spread_hashes(1000000))))
    for cat in cats:
        if not cat["index"]:
            continue
        m = b.run("SELECT count(*) FROM (SELECT id FROM %s ORDER BY fp <~> (SELECT fp FROM wc_fp WHERE name = 'vorbis') "
                  "LIMIT 10) s" % devlib.ident(cat["name"]), repeat=2)
        b.row("5", "`ORDER BY fp <~> q LIMIT 10` (afp_landmark scan)", "q = the 1 h fingerprint (203,130 landmarks) vs %s"
              % cat["name"], m, "afp.index_max_postings", m["error"] or "%d rows" % m["result"][0][0])
        m = b.run("SELECT count(*) FROM (SELECT id FROM %s ORDER BY fp <~> %%s::afp LIMIT 10) s" % devlib.ident(cat["name"]), (q1h,))
        b.row("5", "`ORDER BY fp <~> q LIMIT 10` (afp_landmark scan)", "q = crafted 1 h afp, 1 M distinct hashes "
              "(%.0f MB text; afp_in included) vs %s" % (len(q1h) / 1e6, cat["name"]), m, "afp.index_max_postings",
              m["error"] or "%d rows" % m["result"][0][0])


def case_match_segments(b, cats, full, budget):
    a = b.audio
    log("3. match_segments()")
    sql = "SELECT count(*) FROM match_segments(pg_read_binary_file(%s), %s::regclass, window_s => %s, hop_s => %s)"
    # Fingerprinting and slicing costs, to extrapolate from 5 minutes to the hour.
    fp5 = b.run("SELECT afp_landmark_count(fingerprint(pg_read_binary_file(%s)))", (a["flac5m"],))
    with b.cursor() as cur:
        cur.execute("INSERT INTO wc_fp SELECT 'flac5m', fingerprint(pg_read_binary_file(%s)) ON CONFLICT DO NOTHING", (a["flac5m"],))
    sl = {}
    for name, n in (("flac5m", 300), ("flac", 3600)):
        m = b.run("DO $$DECLARE f afp := (SELECT fp FROM wc_fp WHERE name = '%s'); g afp; BEGIN "
                  "FOR w IN 0..%d LOOP g := afp_slice(f, w, w + 1); END LOOP; END$$" % (name, n - 1))
        sl[name] = m["cpu"] / n
    fp1h = next((r for r in rows if r["function"] == "fingerprint()" and "FLAC 48 kHz" in r["input"]), None)
    for cat in cats:
        for window, hop in ((1, 1), (10, 5)):
            label = "window_s %d, hop_s %d vs %s" % (window, hop, cat["name"])
            if window == 1 and not full:
                m5 = b.run(sql, (a["flac5m"], cat["name"], window, hop))
                if m5["error"]:
                    b.row("3", "match_segments()", "5 min FLAC, " + label, m5, "", m5["error"])
                    continue
                b.row("3", "match_segments()", "5 min FLAC (%d windows), %s" % (300 // hop, label), m5,
                      "hop_s >= 1, window_s <= afp.max_clip_seconds, afp.max_audio_seconds", "%d segments" % m5["result"][0][0])
                per_window = (m5["cpu"] - fp5["cpu"]) / (300 / hop)
                per_window_wall = (m5["wall"] - fp5["wall"]) / (300 / hop)
                extra = sl["flac"] - sl["flac5m"]  # slicing an hour costs more per window than slicing 5 minutes
                cpu = (fp1h["cpu"] if fp1h else 12 * fp5["cpu"]) + (HOUR / hop) * (per_window + extra)
                wall = (fp1h["wall"] if fp1h else 12 * fp5["wall"]) + (HOUR / hop) * (per_window_wall + extra)
                b.row("3", "match_segments()", "**1 h** FLAC (%d windows), %s — extrapolated" % (HOUR // hop, label),
                      {"cpu": cpu, "wall": wall, "mem": None}, "hop_s >= 1, window_s <= afp.max_clip_seconds, afp.max_audio_seconds",
                      "fingerprint(1 h) + %d x %.1f ms per window (+%.2f ms to slice an hour)"
                      % (HOUR // hop, 1000 * per_window, 1000 * extra), extrapolated=True)
                if cpu <= budget:  # cheap enough: measure the hour too, which checks the extrapolation
                    m = b.run(sql, (a["flac"], cat["name"], window, hop))
                    b.row("3", "match_segments()", "1 h FLAC (%d windows), %s" % (HOUR // hop, label), m,
                          "hop_s >= 1, window_s <= afp.max_clip_seconds, afp.max_audio_seconds",
                          m["error"] or "%d segments" % m["result"][0][0])
            else:
                m = b.run(sql, (a["flac"], cat["name"], window, hop))
                b.row("3", "match_segments()", "1 h FLAC (%d windows), %s" % (HOUR // hop, label), m,
                      "hop_s >= 1, window_s <= afp.max_clip_seconds, afp.max_audio_seconds",
                      m["error"] or "%d segments" % m["result"][0][0])
    m = b.run(sql, (a["flac5m"], cats[0]["name"], 61, 5))
    b.row("3", "match_segments()", "window_s 61", m, "afp.max_clip_seconds", m["error"] or "not refused!")
    m = b.run(sql, (a["flac5m"], cats[0]["name"], 10, 0.5))
    b.row("3", "match_segments()", "hop_s 0.5", m, "hop_s >= 1", m["error"] or "not refused!")
    notes.append("match_segments() rows use the FLAC recordings; an Opus recording adds the difference between the "
                 "fingerprint() rows (decoding is done once, before the windows).")


def case_gin(b, source):
    log("4. && and %% through GIN (a copy of %s)" % source)
    with b.cursor() as cur:
        cur.execute("SELECT to_regclass('wc_gin') IS NOT NULL AND (SELECT count(*) FROM wc_gin) = (SELECT count(*) FROM %s)"
                    " AND obj_description('wc_gin'::regclass) = %%s" % devlib.ident(source), (source,))
        if not cur.fetchone()[0]:
            t0 = time.time()
            cur.execute("DROP TABLE IF EXISTS wc_gin")
            cur.execute("CREATE TABLE wc_gin AS SELECT id, fp FROM %s" % devlib.ident(source))
            cur.execute("SET maintenance_work_mem = '1GB'")
            cur.execute("CREATE INDEX wc_gin_fp ON wc_gin USING gin (fp)")
            cur.execute("VACUUM ANALYZE wc_gin")
            cur.execute("COMMENT ON TABLE wc_gin IS %s", (source,))
            log("  copied %s and built its GIN index in %.0f s" % (source, time.time() - t0))
        cur.execute("SELECT count(*), pg_size_pretty(pg_relation_size('wc_gin_fp')) FROM wc_gin")
        nrows, gin_size = cur.fetchone()
        # The attacker's choice: the most frequent hashes of the table, the longest posting lists.
        cur.execute("SELECT h FROM wc_gin, unnest(afp_hashes(fp)) h GROUP BY h ORDER BY count(*) DESC, h LIMIT 60000")
        frequent = [r[0] for r in cur.fetchall()]
    n_samples = HOUR * 8000
    nf = usable_frames(n_samples)

    def operand(hashes):
        return crafted_afp(n_samples, ((h, i % nf) for i, h in enumerate(hashes)))

    where = "%s (%s rows, GIN %s)" % (source, format(nrows, ","), gin_size)
    for op in ("&&", "%"):
        for n in (10000, 25000, 50000, 60000):
            q = operand(spread_hashes(n))
            m = b.run("SELECT count(*) FROM wc_gin WHERE fp %s %%s::afp" % op.replace("%", "%%"), (q,),
                      repeat=2 if n <= 50000 else 1, settings=("SET enable_seqscan = off",))
            b.row("4", "`fp %s q` (GIN)" % op, "%s distinct hashes spread over the range, %s" % (format(n, ","), where), m,
                  "afp.max_query_hashes", m["error"] or "%d rows" % m["result"][0][0])
        q = operand(frequent[:50000])
        m = b.run("SELECT count(*) FROM wc_gin WHERE fp %s %%s::afp" % op.replace("%", "%%"), (q,), repeat=2,
                  settings=("SET enable_seqscan = off",))
        b.row("4", "`fp %s q` (GIN)" % op, "the 50,000 **most frequent** hashes of %s" % where, m,
              "afp.max_query_hashes", m["error"] or "%d rows" % m["result"][0][0])


def case_pairs(b, cats):
    log("5. <~> / afp_vote_distance and afp_shared_hashes")
    pair = "FROM wc_fp a, wc_fp b WHERE a.name = 'vorbis' AND b.name = %s"
    for other, label in (("mp3", "1 h Vorbis fp vs 1 h MP3 fp of the same audio"), ("vorbis", "the 1 h fp vs itself")):
        with b.cursor() as cur:
            cur.execute("SELECT 1 FROM wc_fp WHERE name = %s", (other,))
            if cur.fetchone() is None:
                continue
        m = b.run("SELECT a.fp <~> b.fp " + pair, (other,), repeat=2)
        b.row("5", "`a <~> b` (afp_vote_distance)", label, m, "2^20 vote pairs", m["error"] or "%s" % m["result"][0][0])
        m = b.run("SELECT afp_shared_hashes(a.fp, b.fp) " + pair, (other,), repeat=2)
        b.row("5", "afp_shared_hashes()", label, m, "none (linear in the two values)", m["error"] or "%s" % m["result"][0][0])
    # Crafted: one hash at 200,000 frames in both, 4 x 10^10 candidate pairs.
    n_samples = HOUR * 8000
    one_hash = crafted_afp(n_samples, ((producible_hash(0), f) for f in range(200000)))
    m = b.run("SELECT %s::afp <~> %s::afp", (one_hash, one_hash), repeat=2)
    b.row("5", "`a <~> b` (afp_vote_distance)", "crafted: one hash at 200,000 frames in both (4 x 10^10 pairs; afp_in of both included)",
          m, "2^20 vote pairs", m["error"] or "%s" % m["result"][0][0])
    small = [c for c in cats if c["name"] == "cat10"] or cats[:1]
    for cat in small:
        m = b.run("SELECT count(*) FROM (SELECT id FROM %s ORDER BY fp <~> (SELECT fp FROM wc_fp WHERE name = 'vorbis') "
                  "LIMIT 10) s" % devlib.ident(cat["name"]), settings=("SET enable_indexscan = off", "SET enable_bitmapscan = off"))
        b.row("5", "`ORDER BY fp <~> q LIMIT 10` (sequential scan)", "q = the 1 h fingerprint vs %s (%s rows: %.1f ms per row)"
              % (cat["name"], format(cat["rows"], ","), 1000 * m["cpu"] / max(1, cat["rows"])), m,
              "none: grows with the table", m["error"] or "%d rows" % m["result"][0][0])


def case_io_and_small(b, cats):
    log("6. afp_in / afp_out and the other functions")
    with b.cursor() as cur:
        cur.execute("SELECT fp::text FROM wc_fp WHERE name = 'vorbis'")
        text = cur.fetchone()[0]
    m = b.run("SELECT afp_landmark_count(%s::afp)", (text,), repeat=2)
    b.row("6", "afp_in (text input)", "the 1 h fingerprint's text (%.1f MB; SQL literal parsed too)" % (len(text) / 1e6), m,
          "none but the 1 GB limit of a value: linear", m["error"] or "%s landmarks" % format(m["result"][0][0], ","))
    n_samples = 9 * HOUR * 8000
    crafted = crafted_afp(n_samples, ((h, (i * 13) % usable_frames(n_samples)) for i, h in enumerate(spread_hashes(3000000))))
    m = b.run("SELECT afp_landmark_count(%s::afp)", (crafted,))
    b.row("6", "afp_in (text input)", "crafted 9 h value, 3 M landmarks (%.0f MB text)" % (len(crafted) / 1e6), m,
          "none but the 1 GB limit of a value: linear", m["error"] or "%s landmarks" % format(m["result"][0][0], ","))
    one = "(SELECT fp FROM wc_fp WHERE name = 'vorbis')"
    for fn, sql in (("afp_out (text output)", "SELECT length(%s::text)" % one),
                    ("afp_send (binary output)", "SELECT length(afp_send(%s))" % one),
                    ("afp_hashes()", "SELECT cardinality(afp_hashes(%s))" % one),
                    ("afp_landmarks()", "SELECT count(*) FROM afp_landmarks(%s)" % one),
                    ("afp_slice()", "SELECT afp_landmark_count(afp_slice(%s, 1800, 1860))" % one),
                    ("afp_duration(), afp_landmark_count(), afp_param_set()",
                     "SELECT afp_duration(f), afp_landmark_count(f), afp_param_set(f) FROM %s s(f)" % one)):
        m = b.run(sql, repeat=2)
        b.row("6", fn, "the 1 h fingerprint (detoast included)", m, "none: linear in the value",
              m["error"] or str(m["result"][0][0]))
    # afp_recv: COPY BINARY of the hour back into a table.
    bk = Backend(b.db, b.audio["warm"])
    try:
        import io
        buf = io.BytesIO()
        bk.cur.copy_expert("COPY (SELECT fp FROM wc_fp WHERE name = 'vorbis') TO STDOUT (FORMAT binary)", buf)
        bk.cur.execute("CREATE TEMP TABLE wc_recv (fp afp)")
        buf.seek(0)
        before, cpu0, t0 = devlib.proc_status(bk.pid), schedstat_s(bk.pid), time.time()
        bk.cur.copy_expert("COPY wc_recv FROM STDIN (FORMAT binary)", buf)
        m = {"cpu": schedstat_s(bk.pid) - cpu0, "wall": time.time() - t0, "error": None,
             "mem": private_growth_mb(before, devlib.proc_status(bk.pid))}
        b.row("6", "afp_recv (binary input)", "the 1 h fingerprint by COPY BINARY (%.1f MB; TOAST write included)"
              % (len(buf.getvalue()) / 1e6), m, "none but the 1 GB limit of a value: linear", "ok")
    finally:
        bk.close()
    # Catalogue-wide functions: their cost grows with the catalogue; no setting bounds them.
    for cat in cats:
        if hours_of(cat["name"]) <= 1000 or b.args.all_catalogue_scans:
            m = b.run("SELECT tracks FROM afp_catalog_stats(%s::regclass)", (cat["name"],))
            b.row("6", "afp_catalog_stats()", "%s (%s rows)" % (cat["name"], format(cat["rows"], ",")), m,
                  "none: reads every row", m["error"] or "ok")
        if cat["index"]:
            m = b.run("SELECT * FROM afp_index_stats(%s::regclass)", (cat["index"],), repeat=2)
            b.row("6", "afp_index_stats()", cat["index"], m, "none: reads the directory pages", m["error"] or "ok")
        if cat["index"] and (hours_of(cat["name"]) <= 100 or b.args.all_catalogue_scans):
            m = b.run("SELECT missing, orphaned FROM afp_index_check(%s::regclass)", (cat["index"],))
            b.row("6", "afp_index_check()", "%s (%s rows)" % (cat["index"], format(cat["rows"], ",")), m,
                  "none: reads the whole index and table", m["error"] or "missing %s, orphaned %s" % m["result"][0])
    checked = [c for c in cats if c["index"] and (hours_of(c["name"]) <= 100 or b.args.all_catalogue_scans)]
    checks = [r for r in rows if r["function"] == "afp_index_check()" and r["outcome"].startswith("missing")]
    if checks and checked and not b.args.all_catalogue_scans and len(checked) < len([c for c in cats if c["index"]]):
        last, h = checks[-1], max(1, hours_of(checked[-1]["name"]))
        notes.append("afp_index_check() ran only on the catalogues up to ~100 h and afp_catalog_stats() up to ~1,000 h "
                     "(--all-catalogue-scans runs them everywhere); both read everything, so their cost is linear in the "
                     "catalogue: afp_index_check() on %s took %.1f s CPU and %.0f MB of backend memory, so ~%.0f s and "
                     "~%.1f GB at ~1,000 h, ~%.0f GB at ~10,000 h."
                     % (last["input"], last["cpu"], last["mem"] or 0, last["cpu"] * 1000.0 / h,
                        (last["mem"] or 0) * 1000.0 / h / 1024, (last["mem"] or 0) * 10000.0 / h / 1024))


# ---------------------------------------------------------------------------------------------


def library_version():
    libdir = subprocess.run(["pg_config", "--pkglibdir"], capture_output=True, text=True).stdout.strip()
    path = os.path.join(libdir, "afp.so")
    with open(path, "rb") as f:
        digest = hashlib.md5(f.read()).hexdigest()[:10]
    return "%s (installed %s)" % (digest, time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(path))))


def fmt_mem(v):
    if v is None:
        return "–"
    return "%.0f MB" % v if v >= 1 else "< 1 MB"


def report(args, settings, lib, lib_end, elapsed, gen_s):
    lines = []
    lines.append("Worst cases at the default settings (%s). Backend CPU = utime + stime of the backend "
                 "(/proc/<pid>/schedstat), parallel workers off; peak memory = growth of the backend's peak RSS minus "
                 "shared buffers and files touched (fresh backend per call). Max of 2 runs where the input says nothing else."
                 % ", ".join("%s = %s" % kv for kv in settings))
    lines.append("")
    lines.append("| # | function | worst input allowed by the defaults | backend CPU s | wall s | peak memory | bounded by | outcome |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: r["case"]):  # stable: the order of each case's rows stays
        cpu = ("~%.1f" % r["cpu"]) if r["extrapolated"] else ("%.3f" % r["cpu"] if r["cpu"] < 1 else "%.2f" % r["cpu"])
        wall = ("~%.0f" % r["wall"]) if r["extrapolated"] else ("%.3f" % r["wall"] if r["wall"] < 1 else "%.2f" % r["wall"])
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["case"], r["function"], r["input"], cpu, wall, fmt_mem(r["mem"]), r["bound"], r["outcome"].replace("|", "/")))
    lines.append("")
    for n in notes:
        lines.append("- " + n)
    lines.append("- afp.so %s%s; database %s; run took %.1f min (+ %.1f min generating audio); %s."
                 % (lib, "" if lib == lib_end else " — CHANGED during the run to %s: rows may mix versions" % lib_end,
                    args.db, elapsed / 60, gen_s / 60, time.strftime("%Y-%m-%d %H:%M")))
    lines.append("- Command: scripts/bench-worst-case %s" % " ".join(sys.argv[1:]))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="afp_bench_accuracy", help="database with the catalogues (default afp_bench_accuracy)")
    ap.add_argument("--catalogs", default="cat10,cat100,cat1000,cat10000",
                    help="catalogue tables for match_clip() and <~> (default cat10,cat100,cat1000,cat10000; missing ones are skipped)")
    ap.add_argument("--segment-catalogs", default="cat10,cat1000", help="catalogues for match_segments() (default cat10,cat1000)")
    ap.add_argument("--gin-source", default="cat100", help="table copied for the GIN case (default cat100)")
    ap.add_argument("--corpus", default=DEFAULT_CORPUS, help="tracks.csv of the development corpus, for the real-music clips")
    ap.add_argument("--full-segments", action="store_true",
                    help="run match_segments() with window_s 1, hop_s 1 on the whole hour instead of extrapolating from 5 min")
    ap.add_argument("--segment-budget", type=float, default=120,
                    help="run the hour of window_s 1, hop_s 1 as well when its extrapolation is under this many CPU s (default 120)")
    ap.add_argument("--heavy-catalogs", default="cat10,cat100,cat1000",
                    help="catalogues for the crafted few-hashes-at-every-frame match_afp() queries (default "
                         "cat10,cat100,cat1000: up to ~2 GB of backend memory; at ~10,000 h the first took 8.5 GB)")
    ap.add_argument("--max-mem-gb", type=float, default=4,
                    help="skip the second of those queries on a catalogue where the first took more than half this (default 4)")
    ap.add_argument("--all-catalogue-scans", action="store_true",
                    help="also run afp_catalog_stats() beyond ~1,000 h and afp_index_check() beyond ~100 h")
    ap.add_argument("--only", default="1,2,3,4,5,6", help="cases to run (default 1,2,3,4,5,6; 1 is needed by 2, 3, 5, 6)")
    ap.add_argument("--cleanup", action="store_true", help="drop the wc_* tables at the end (wc_gin is otherwise kept for reruns)")
    args = ap.parse_args()
    only = set(args.only.split(","))

    lib = library_version()
    t0 = time.time()
    audio = make_audio(args.corpus)
    gen_s = time.time() - t0
    t_run = time.time()

    b = Bench(args, audio)
    with b.cursor() as cur:
        cur.execute("SELECT extversion, (SELECT default_version FROM pg_available_extensions WHERE name = 'afp') "
                    "FROM pg_extension WHERE extname = 'afp'")
        r = cur.fetchone()
        if r is None:
            sys.exit("database %s has no afp extension" % args.db)
        if r[0] != r[1]:
            log("ALTER EXTENSION afp UPDATE (%s -> %s) in %s" % (r[0], r[1], args.db))
            cur.execute("ALTER EXTENSION afp UPDATE")
        cur.execute("LOAD 'afp'")
        cur.execute("SELECT name, setting FROM pg_settings WHERE name LIKE 'afp.max%%' OR name IN "
                    "('afp.index_max_postings', 'afp.index_candidates', 'afp.min_shared_hashes') ORDER BY name")
        settings = cur.fetchall()
        cur.execute("SELECT name FROM pg_settings WHERE name LIKE 'afp.%' AND source <> 'default'")
        changed = [x[0] for x in cur.fetchall()]
        if changed:
            notes.append("WARNING: settings not at their defaults in this database or server: %s" % ", ".join(changed))
    cats = [c for c in (catalogue_info(b, n) for n in args.catalogs.split(",") if n) if c]
    missing = set(args.catalogs.split(",")) - {c["name"] for c in cats}
    if missing:
        notes.append("catalogues not found in %s, skipped: %s" % (args.db, ", ".join(sorted(missing))))
    if not cats:
        sys.exit("none of the catalogues %s exists in %s" % (args.catalogs, args.db))
    seg_cats = [c for c in cats if c["name"] in args.segment_catalogs.split(",")] or cats[:1]

    if "1" in only or "2" in only or "3" in only or "5" in only or "6" in only:
        case_fingerprint(b)
    if "2" in only:
        case_match_clip(b, cats)
        case_match_afp_crafted(b, cats)
    if "3" in only:
        case_match_segments(b, seg_cats, args.full_segments, args.segment_budget)
    if "4" in only:
        case_gin(b, args.gin_source)
    if "5" in only:
        case_pairs(b, cats)
    if "6" in only:
        case_io_and_small(b, cats)

    with b.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS wc_fp")
        if args.cleanup:
            cur.execute("DROP TABLE IF EXISTS wc_gin")
    text = report(args, settings, lib, library_version(), time.time() - t_run, gen_s)
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "results.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
