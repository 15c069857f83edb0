#!/usr/bin/python3
"""Accuracy benchmark for afp: recall of degraded clips and false answers for absent ones.

Ingests the db tracks of a catalogue CSV through SQL (the client sends the bytes to
fingerprint()), cuts clips at seeded random offsets from db tracks, held tracks and non-music
sources, degrades them with sox and numpy, writes them in several containers, asks match_clip()
and prints tables. Run through scripts/bench-accuracy, which starts the private cluster.
"""
import argparse
import concurrent.futures
import csv
import hashlib
import io
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import devlib  # noqa: E402  (connect)

WORK_RATE = 44100          # clips are cut, degraded and mixed at this rate, in stereo
OFFSET_TOLERANCE_S = 0.1   # a right answer names the right track within this offset error
TIGHT_OFFSET_S = 0.032
# Log-spectrogram correlation above which two places of one track hold the same passage; two
# random places of one track of the development corpus correlate at 0.1 to 0.75.
REPEAT_SIMILARITY = 0.85

# --places: afp-perf-tool votes each answered db clip again in the answer's rendition and lists its
# places in the answered track with the most evidence (bench/perf_tool.cpp). The chance model
# allows kDependenceAllowance (src/core/matcher.hpp) for the evidence it overstates in music; a
# second place closer than that to the first is one the clip cannot tell from its answer.
PERF_TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "build", "cmake", "afp-perf-tool")
DEPENDENCE_ALLOWANCE_NATS = 19.0

# Tracks of the development corpus that share recorded material across the db/held split, so a
# clip of one is rightly answered with the other: SuperTux's "call of the winding path" (held) and
# "shallow-green" (db) play the same tracker patterns on the same samples. Measured: afp_shared_audio
# finds 20.5 s of the held track (298.6-319.1 s) in shallow-green (at 234.7 s); the places
# match_clip named for five clips elsewhere in it correlate with the clips (log spectrogram) at
# 0.57-0.70, against at most 0.44-0.59 for 300 random places of shallow-green each. An answer
# naming the partner is counted as "shares material", neither right nor a false positive. The
# exemption is for the pair, wherever in the two tracks a clip and its answer are: a chance
# alignment of a clip of one with the other would be counted as shared too (shown apart, never
# hidden: every report prints the count).
SHARED_MATERIAL = {frozenset(("supertux-data/call_of_the_winding_path", "supertux-data/shallow-green"))}


def shares_material(track, answer):
    return track is not None and answer is not None and frozenset((track, answer)) in SHARED_MATERIAL

# name: (sox effects, numpy step, forced container); the numpy step gets (audio, rng, context).
DEGRADATIONS = {
    "clean":           ([], None, None),
    "white noise 10 dB": ([], ("white", 10), None),
    "white noise 5 dB":  ([], ("white", 5), None),
    "white noise 0 dB":  ([], ("white", 0), None),
    "white noise -5 dB": ([], ("white", -5), None),
    "pink noise 5 dB":   ([], ("pink", 5), None),
    "babble 5 dB":       ([], ("babble", 5), None),
    "MP3 64 kbps":       ([], None, "mp3-64"),
    "MP3 32 kbps":       ([], None, "mp3-32"),
    "telephone + GSM":   (["sinc", "300-3400"], None, "gsm"),
    "reverb":            (["reverb", "50", "50", "100"], None, None),
    "level -30 dB":      (["vol", "-30dB"], None, "wav16"),
    "hard clipping":     ([], ("clip", 12), None),
    "speed +2%":         (["speed", "1.02"], None, None),
    "speed -2%":         (["speed", "0.98"], None, None),
    "speed +5%":         (["speed", "1.05"], None, None),
    "speed -5%":         (["speed", "0.95"], None, None),
    "pitch +0.5 semitone": (["pitch", "50"], None, None),
    "pitch -0.5 semitone": (["pitch", "-50"], None, None),
    "pitch +1 semitone": (["pitch", "100"], None, None),
    "pitch -1 semitone": (["pitch", "-100"], None, None),
    "pitch +2 semitones": (["pitch", "200"], None, None),
    "pitch -2 semitones": (["pitch", "-200"], None, None),
    "tempo +2%":         (["tempo", "1.02"], None, None),
    "tempo -2%":         (["tempo", "0.98"], None, None),
    "tempo +5%":         (["tempo", "1.05"], None, None),
    "tempo -5%":         (["tempo", "0.95"], None, None),
    "tempo +8%":         (["tempo", "1.08"], None, None),
    "tempo -8%":         (["tempo", "0.92"], None, None),
}
# Degradations also applied to clips of held tracks (false-positive check): the ones that
# change the signal most, where a wrong answer is most likely.
HELD_DEGRADATIONS = ["clean", "white noise 5 dB", "white noise -5 dB", "pink noise 5 dB",
                     "babble 5 dB", "MP3 32 kbps", "telephone + GSM", "reverb", "speed +2%",
                     "pitch -1 semitone"]
NON_MUSIC = ["silence", "white noise", "pink noise", "speech babble", "quiet hum",
             "sine tone", "sweep", "square wave", "clicks", "drum loop", "speech"]

# Containers the clips rotate through, so every decoder path is exercised.
CONTAINERS = ["wav16-44k-stereo", "wav16-22k-mono", "wavfloat-48k-stereo", "flac-48k",
              "ogg-44k", "mp3-128"]

BABBLE_TEXTS = [
    ("en+m3", "The committee met on Tuesday to discuss the harbour project, and after a long debate "
              "they agreed that the old warehouse would become a library with a small cafe."),
    ("en-us+f2", "Please remember to bring your tickets, a warm coat and something to read, because "
                 "the train to the coast leaves early and the heating rarely works in winter."),
    ("de+m1", "Am Morgen regnete es in der ganzen Stadt, aber am Nachmittag kam die Sonne heraus "
              "und die Kinder spielten bis zum Abend im Park neben dem Fluss."),
    ("fr+f3", "Nous avons traverse la vallee a pied pendant trois jours, en dormant dans des "
              "granges et en mangeant du pain, du fromage et des pommes du verger."),
    ("es+m2", "El mercado abre a las ocho y cierra a mediodia, asi que conviene llegar temprano "
              "si quieres encontrar pescado fresco y las mejores naranjas de la temporada."),
    ("it+f1", "Il museo della citta ha riaperto dopo due anni di lavori, con nuove sale dedicate "
              "alla storia del porto e una terrazza con vista sul mare."),
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, data=None):
    proc = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise RuntimeError("%s failed: %s" % (cmd[0], proc.stderr.decode(errors="replace").strip()))
    return proc.stdout


RAW = ["-t", "raw", "-e", "floating-point", "-b", "32"]


def sox_read(path, offset=None, length=None, rate=WORK_RATE, channels=2):
    """Decodes (a part of) a file to float32 frames x channels at the working rate."""
    cmd = ["sox", "-V1", path] + RAW + ["-r", str(rate), "-c", str(channels), "-"]
    if offset is not None:
        cmd += ["trim", "%.6f" % offset, "%.6f" % length]
    return np.frombuffer(run(cmd), dtype=np.float32).reshape(-1, channels).copy()


def sox_effects(audio, effects, rate=WORK_RATE):
    """Runs sox effects on float frames; the output keeps the working rate and channel count."""
    if not effects:
        return audio
    ch = audio.shape[1]
    cmd = (["sox", "-V1"] + RAW + ["-r", str(rate), "-c", str(ch), "-"] + RAW +
           ["-r", str(rate), "-c", str(ch), "-"] + effects)
    out = run(cmd, audio.astype(np.float32).tobytes())
    return np.frombuffer(out, dtype=np.float32).reshape(-1, ch).copy()


def encode(audio, container, tmpdir):
    """Writes float frames into a container with sox and returns its bytes."""
    ch = audio.shape[1]
    src = ["sox", "-V1", "-D"] + RAW + ["-r", str(WORK_RATE), "-c", str(ch), "-"]
    spec = {
        "wav16-44k-stereo": ("wav", ["-b", "16", "-c", "2", "-r", "44100"]),
        "wav16": ("wav", ["-b", "16"]),
        "wav16-22k-mono": ("wav", ["-b", "16", "-c", "1", "-r", "22050"]),
        "wavfloat-48k-stereo": ("wav", ["-e", "floating-point", "-b", "32", "-r", "48000"]),
        "flac-48k": ("flac", ["-r", "48000"]),
        "ogg-44k": ("ogg", ["-C", "4"]),
        "mp3-128": ("mp3", ["-C", "128"]),
        "mp3-64": ("mp3", ["-C", "64"]),
        "mp3-32": ("mp3", ["-C", "32"]),
        "gsm": ("wav", ["-e", "gsm-full-rate", "-c", "1", "-r", "8000"]),
    }[container]
    path = os.path.join(tmpdir, "clip." + spec[0])
    data = np.clip(audio, -1.0, 1.0) if container.startswith(("wav16", "flac", "gsm")) else audio
    run(src + spec[1] + [path], data.astype(np.float32).tobytes())
    with open(path, "rb") as f:
        return f.read()


CONTAINER_EXT = {"wav16-44k-stereo": "wav", "wav16": "wav", "wav16-22k-mono": "wav", "wavfloat-48k-stereo": "wav",
                 "flac-48k": "flac", "ogg-44k": "ogg", "mp3-128": "mp3", "mp3-64": "mp3", "mp3-32": "mp3", "gsm": "wav"}


def noise_like(kind, n, ch, rng):
    if kind == "white":
        return rng.standard_normal((n, ch)).astype(np.float32)
    if kind == "pink":
        spec = np.fft.rfft(rng.standard_normal((n, ch)), axis=0)
        f = np.arange(spec.shape[0], dtype=np.float64)
        f[0] = 1.0
        return np.fft.irfft(spec / np.sqrt(f)[:, None], n, axis=0).astype(np.float32)
    raise ValueError(kind)


def mix_at_snr(signal, noise, snr_db):
    ps = float(np.mean(signal.astype(np.float64) ** 2))
    pn = float(np.mean(noise.astype(np.float64) ** 2))
    if ps <= 0 or pn <= 0:
        return signal + noise
    return signal + noise * math.sqrt(ps / (pn * 10 ** (snr_db / 10.0)))


class Babble:
    """Several voices of espeak-ng reading different texts at once, looped into one bed."""

    def __init__(self, tmpdir):
        voices = []
        for i, (voice, text) in enumerate(BABBLE_TEXTS):
            path = os.path.join(tmpdir, "voice%d.wav" % i)
            run(["espeak-ng", "-v", voice, "-s", str(150 + 10 * i), "-w", path, text + " " + text])
            v = sox_read(path, channels=1)[:, 0]
            v = v / (np.sqrt(np.mean(v.astype(np.float64) ** 2)) + 1e-9)
            voices.append(v)
        self.voice = voices[0].astype(np.float32)
        n = max(len(v) for v in voices)
        bed = np.zeros(n, dtype=np.float64)
        for i, v in enumerate(voices):
            bed += np.roll(np.resize(v, n), i * n // len(voices))
        self.bed = bed.astype(np.float32)

    def take(self, n, ch, rng):
        start = int(rng.integers(0, len(self.bed)))
        seg = np.take(self.bed, np.arange(start, start + n), mode="wrap")
        return np.repeat(seg[:, None], ch, axis=1)


def apply_numpy(step, audio, rng, babble):
    kind, amount = step
    if kind in ("white", "pink"):
        return mix_at_snr(audio, noise_like(kind, len(audio), audio.shape[1], rng), amount)
    if kind == "babble":
        return mix_at_snr(audio, babble.take(len(audio), audio.shape[1], rng), amount)
    if kind == "clip":
        peak = float(np.max(np.abs(audio))) or 1.0
        return np.clip(audio / peak * 10 ** (amount / 20.0), -1.0, 1.0)
    raise ValueError(kind)


def non_music(kind, seconds, rng, babble):
    n = int(seconds * WORK_RATE)
    if kind == "silence":
        return np.zeros((n, 2), dtype=np.float32)
    if kind == "white noise":
        return 0.1 * noise_like("white", n, 2, rng)
    if kind == "pink noise":
        x = noise_like("pink", n, 2, rng)
        return 0.1 * x / (np.sqrt(np.mean(x ** 2)) + 1e-9)
    if kind == "speech babble":
        return 0.1 * babble.take(n, 2, rng)
    if kind == "quiet hum":
        t = np.arange(n) / WORK_RATE
        hum = 0.01 * (np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 150 * t))
        return (hum[:, None] + 0.001 * rng.standard_normal((n, 2))).astype(np.float32)
    t = np.arange(n) / WORK_RATE
    if kind == "sine tone":
        f = float(rng.uniform(200, 4000))
        return np.repeat((0.2 * np.sin(2 * np.pi * f * t))[:, None], 2, axis=1).astype(np.float32)
    if kind == "square wave":
        f = float(rng.uniform(100, 1000))
        return np.repeat((0.1 * np.sign(np.sin(2 * np.pi * f * t)))[:, None], 2, axis=1).astype(np.float32)
    if kind == "sweep":
        # a logarithmic chirp from f0 to f1 over the clip
        f0, f1 = float(rng.uniform(80, 300)), float(rng.uniform(4000, 10000))
        k = (f1 / f0) ** (1.0 / seconds)
        phase = 2 * np.pi * f0 * (k ** t - 1) / np.log(k)
        return np.repeat((0.2 * np.sin(phase))[:, None], 2, axis=1).astype(np.float32)
    if kind == "clicks":
        # a metronome: a 2 ms click every beat
        x = np.zeros(n)
        beat = int(WORK_RATE * 60.0 / float(rng.uniform(60, 180)))
        for start in range(int(rng.integers(0, beat)), n, beat):
            x[start:start + int(0.002 * WORK_RATE)] = 0.5
        return np.repeat(x[:, None], 2, axis=1).astype(np.float32)
    if kind == "drum loop":
        # one bar of kick (decaying 60 Hz), snare (decaying noise) and hats, repeated
        bar = int(WORK_RATE * 2.0)
        tb = np.arange(bar) / WORK_RATE
        loop = np.zeros(bar)
        for beat in range(4):
            s0 = beat * bar // 4
            d = tb[: bar // 4]
            if beat % 2 == 0:
                loop[s0:s0 + len(d)] += 0.5 * np.sin(2 * np.pi * 60 * d) * np.exp(-d * 20)
            else:
                loop[s0:s0 + len(d)] += 0.3 * rng.standard_normal(len(d)) * np.exp(-d * 30)
            for h in range(2):
                h0 = s0 + h * bar // 8
                loop[h0:h0 + 400] += 0.1 * rng.standard_normal(400) * np.exp(-np.arange(400) / 80.0)
        x = np.resize(loop, n)
        return np.repeat(x[:, None], 2, axis=1).astype(np.float32)
    if kind == "speech":
        start = int(rng.integers(0, len(babble.voice)))
        seg = np.take(babble.voice, np.arange(start, start + n), mode="wrap")
        return np.repeat((0.1 * seg)[:, None], 2, axis=1).astype(np.float32)
    raise ValueError(kind)


def read_catalogue(path):
    base = os.path.dirname(os.path.abspath(path))
    tracks = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            p = row["path"]
            if not os.path.isabs(p):
                p = os.path.join(base, p)
            dur = row.get("duration_s")
            if not dur:
                dur = run(["soxi", "-D", p]).decode().strip()
            tracks.append({"name": row["track_id"], "path": p, "split": row["split"].strip(),
                           "duration": float(dur)})
    return tracks


class Database:
    """One connection per thread to the benchmark database."""

    def __init__(self, dbname, settings):
        self.dbname = dbname
        self.settings = settings
        self.local = threading.local()
        self.all = []
        self.lock = threading.Lock()

    def conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = devlib.connect(self.dbname, self.settings)
            self.local.conn = c
            with self.lock:
                self.all.append(c)
        return c

    def close(self):
        for c in self.all:
            c.close()


def prepare_database(dbname, reingest):
    admin = devlib.connect("postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
        exists = cur.fetchone() is not None
        if exists and reingest:
            cur.execute("DROP DATABASE %s WITH (FORCE)" % dbname)
            exists = False
        if not exists:
            cur.execute("CREATE DATABASE %s" % dbname)
    admin.close()
    c = devlib.connect(dbname)
    c.autocommit = True
    with c.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS afp")
        cur.execute("ALTER EXTENSION afp UPDATE")  # a kept database gets the installed version
        cur.execute("""CREATE TABLE IF NOT EXISTS bench_tracks (
                         id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                         title text UNIQUE NOT NULL, fp afp NOT NULL)""")
        cur.execute("ALTER TABLE bench_tracks ALTER COLUMN fp SET COMPRESSION lz4")
        cur.execute("CREATE TABLE IF NOT EXISTS bench_probe (title text, digest text)")
    c.close()


def fingerprint_digest(db, path):
    with open(path, "rb") as f:
        data = f.read()
    with db.conn().cursor() as cur:
        cur.execute("SELECT md5(afp_send(fingerprint(%s))::text)", (psycopg2.Binary(data),))
        return cur.fetchone()[0]


def ingest(db, tracks, jobs, index_first=False):
    """Fingerprints the db tracks; a stored probe digest tells whether a rerun can keep them. With
    index_first, the indexes exist before the INSERTs and no VACUUM follows: the state users reach
    by ingesting into afp_tracks (runs and pending postings, whatever autovacuum has merged)."""
    db_tracks = [t for t in tracks if t["split"] == "db"]
    probe = db_tracks[0]
    digest = fingerprint_digest(db, probe["path"])
    with db.conn().cursor() as cur:
        cur.execute("SELECT digest FROM bench_probe WHERE title = %s", (probe["name"],))
        row = cur.fetchone()
        cur.execute("SELECT title FROM bench_tracks")
        have = {r[0] for r in cur.fetchall()}
        if row is None or row[0] != digest:
            cur.execute("TRUNCATE bench_tracks, bench_probe")
            cur.execute("DROP INDEX IF EXISTS bench_tracks_fp_idx")
            have = set()
    todo = [t for t in db_tracks if t["name"] not in have]
    if not todo:
        log("catalogue: %d db tracks already ingested with the current fingerprint" % len(have))
        ensure_indexes(db)
        return 0.0
    hours = sum(t["duration"] for t in todo) / 3600
    if index_first:
        ensure_indexes(db)
    log("ingesting %d tracks (%.2f h of audio) with %d connections" % (len(todo), hours, jobs))
    t0 = time.time()
    done = [0]

    def one(t):
        with open(t["path"], "rb") as f:
            data = f.read()
        with db.conn().cursor() as cur:
            cur.execute("INSERT INTO bench_tracks (title, fp) VALUES (%s, fingerprint(%s))",
                        (t["name"], psycopg2.Binary(data)))
        done[0] += 1
        if done[0] % 10 == 0 or done[0] == len(todo):
            log("  ingested %d/%d (%.0f s)" % (done[0], len(todo), time.time() - t0))

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, todo))
    ensure_indexes(db)
    with db.conn().cursor() as cur:
        cur.execute("ANALYZE bench_tracks" if index_first else "VACUUM ANALYZE bench_tracks")
        cur.execute("INSERT INTO bench_probe VALUES (%s, %s)", (probe["name"], digest))
        cur.execute("SELECT runs, pending_postings FROM afp_index_stats('bench_tracks_fp_landmark_idx')")
        log("afp_landmark index after the ingest: %d runs, %d pending postings" % cur.fetchone())
    elapsed = time.time() - t0
    log("ingest: %.1f s for %.2f h (%.0f x real time with %d connections)"
        % (elapsed, hours, hours * 3600 / elapsed, jobs))
    return elapsed


def ensure_indexes(db):
    """Both indexes: match_clip searches with the afp_landmark one unless afp.use_landmark_index is off."""
    with db.conn().cursor() as cur:
        cur.execute("CREATE INDEX IF NOT EXISTS bench_tracks_fp_idx ON bench_tracks USING gin (fp afp_ops)")
        cur.execute("CREATE INDEX IF NOT EXISTS bench_tracks_fp_landmark_idx ON bench_tracks USING afp_landmark (fp)")


def plan_clips(tracks, lengths, per_cell, held_per_cell, nonmusic_per_cell, seed):
    """Every (length, index) picks one position; each degradation is applied to that same cut."""
    clips = []
    by_split = {s: [t for t in tracks if t["split"] == s] for s in ("db", "held")}
    for length in lengths:
        for split, degs, count in (("db", list(DEGRADATIONS), per_cell),
                                   ("held", HELD_DEGRADATIONS, held_per_cell)):
            pool = [t for t in by_split[split] if t["duration"] >= length + 1.0]
            if not pool:
                continue
            for i in range(count):
                rng = random.Random("%s:%s:%s:%d" % (seed, split, length, i))
                track = rng.choice(pool)
                offset = round(rng.uniform(0.0, track["duration"] - length - 0.5), 3)
                for d, deg in enumerate(degs):
                    clips.append({"kind": split, "degradation": deg, "length": length,
                                  "track": track["name"], "path": track["path"], "offset": offset,
                                  "container": CONTAINERS[(i + d) % len(CONTAINERS)],
                                  "seed": "%s:%s:%s:%d:%s" % (seed, split, length, i, deg)})
        for i in range(nonmusic_per_cell):
            for d, kind in enumerate(NON_MUSIC):
                clips.append({"kind": "nonmusic", "degradation": kind, "length": length,
                              "track": None, "path": None, "offset": None,
                              "container": CONTAINERS[(i + d) % len(CONTAINERS)],
                              "seed": "%s:nonmusic:%s:%d:%s" % (seed, length, i, kind)})
    for i, c in enumerate(clips):
        c["index"] = i
    return clips


def make_clip(clip, babble, tmpdir):
    rng = np.random.default_rng(int(hashlib.sha256(clip["seed"].encode()).hexdigest()[:16], 16))
    if clip["kind"] == "nonmusic":
        return encode(non_music(clip["degradation"], clip["length"], rng, babble), clip["container"], tmpdir)
    effects, step, forced = DEGRADATIONS[clip["degradation"]]
    audio = sox_read(clip["path"], clip["offset"], clip["length"])
    audio = sox_effects(audio, effects)
    if step is not None:
        audio = apply_numpy(step, audio, rng, babble)
    clip["container"] = forced or clip["container"]
    return encode(audio, clip["container"], tmpdir)


def query(db, data):
    t0 = time.perf_counter()
    with db.conn().cursor() as cur:
        cur.execute("SELECT track_id, title, score, offset_s, confidence, speed, tempo, pitch "
                    "FROM match_clip(%s, 'bench_tracks'::regclass, 5)", (psycopg2.Binary(data),))
        rows = cur.fetchall()
    return rows, (time.perf_counter() - t0) * 1000.0


def places(db, data, row, tmpdir):
    """The clip's places in the answered track (afp-perf-tool places), strongest first: (offset_s,
    evidence in nats) each."""
    clip_path = os.path.join(tmpdir, "places-clip")
    with open(clip_path, "wb") as f:
        f.write(data)
    buf = io.BytesIO()
    with db.conn().cursor() as cur:
        cur.copy_expert("COPY (SELECT id::bigint, fp FROM bench_tracks WHERE id = %d) TO STDOUT (FORMAT binary)"
                        % int(row[0]), buf)
    out = subprocess.run([PERF_TOOL, "places", clip_path, repr(row[5]), repr(row[6]), repr(row[7])],
                         input=buf.getvalue(), capture_output=True, check=True).stdout.decode()
    lines = list(csv.DictReader(io.StringIO(out)))
    return [(float(l["offset_s"]), float(l["evidence"])) for l in lines]


def evaluate(db, clips, babble, jobs, workdir, save_dir=None, with_places=False):
    results = []
    t0 = time.time()
    lock = threading.Lock()
    local = threading.local()

    def one(clip):
        if not hasattr(local, "tmp"):
            local.tmp = tempfile.mkdtemp(dir=workdir)
        data = make_clip(clip, babble, local.tmp)
        if save_dir:
            clip["file"] = "%s/clip%05d.%s" % (save_dir, clip["index"], CONTAINER_EXT[clip["container"]])
            with open(clip["file"], "wb") as f:
                f.write(data)
        rows, ms = query(db, data)
        r = dict(clip)
        r["ms"] = ms
        r["bytes"] = len(data)
        if rows:
            r.update(answer=rows[0][1], score=rows[0][2], answer_offset=rows[0][3], confidence=rows[0][4])
            if with_places and clip["kind"] == "db":
                r["places"] = places(db, data, rows[0], local.tmp)
        else:
            r.update(answer=None, score=0, answer_offset=None, confidence=0.0)
        with lock:
            results.append(r)
            n = len(results)
            if n % 100 == 0 or n == len(clips):
                el = time.time() - t0
                log("  clips %d/%d, %.0f s elapsed, ETA %.0f s" % (n, len(clips), el, el / n * (len(clips) - n)))
        return r

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, clips))
    return results, time.time() - t0


def log_spectrogram(path, offset, length):
    x = sox_read(path, max(0.0, offset), length, rate=8000, channels=1)[:, 0]
    n = (len(x) - 1024) // 256
    if n <= 0:
        return None
    frames = np.stack([x[i * 256:i * 256 + 1024] * np.hanning(1024) for i in range(n)])
    return np.log(np.abs(np.fft.rfft(frames, axis=1)) + 1e-4)


def is_repeat(r, tracks_by_name):
    """Whether the track holds the clip's audio again where the answer placed it: looped music
    repeats whole bars sample for sample, and naming the other occurrence is not an error."""
    path = tracks_by_name[r["track"]]["path"]
    a = log_spectrogram(path, r["offset"], r["length"])
    b = log_spectrogram(path, r["answer_offset"], r["length"])
    if a is None or b is None:
        return False
    n = min(len(a), len(b))
    best = -1.0
    for lag in range(-3, 4):  # frames of 32 ms: the answer's own offset error
        x = a[max(0, lag):n + min(0, lag)]
        y = b[max(0, -lag):n - max(0, lag)]
        if len(x) > 4:
            best = max(best, float(np.corrcoef(x.ravel(), y.ravel())[0, 1]))
    return best >= REPEAT_SIMILARITY


def mark_repeats(results, tracks):
    by_name = {t["name"]: t for t in tracks}
    for r in results:
        r["repeat"] = False
        if (r["kind"] == "db" and r["answer"] == r["track"] and r["answer_offset"] is not None
                and abs(r["answer_offset"] - r["offset"]) > OFFSET_TOLERANCE_S):
            r["repeat"] = is_repeat(r, by_name)


def is_right(r, tol=OFFSET_TOLERANCE_S):
    if r["answer"] != r["track"] or r["answer_offset"] is None:
        return False
    return abs(r["answer_offset"] - r["offset"]) <= tol or r.get("repeat", False)


def pct(k, n):
    return "—" if n == 0 else "%.1f%%" % (100.0 * k / n)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def report(results, lengths, elapsed, ingest_s, args, n_db, n_held, hours_db):
    out = []
    out.append("afp accuracy benchmark: %d db tracks (%.2f h) ingested, %d held tracks, %d clips, seed %s"
               % (n_db, hours_db, n_held, len(results), args.seed))
    out.append("")
    out.append("recall@1: the first row names the right track with |offset error| <= %.1f s, or at another place"
               % OFFSET_TOLERANCE_S)
    out.append("where the track repeats the clip's audio (log spectrogram correlation >= %.2f)" % REPEAT_SIMILARITY)
    out.append("")
    rows = []
    hdr = ["degradation"] + ["%g s" % l for l in lengths]
    for deg in DEGRADATIONS:
        row = [deg]
        for l in lengths:
            cell = [r for r in results if r["kind"] == "db" and r["degradation"] == deg and r["length"] == l]
            row.append(pct(sum(is_right(r) for r in cell), len(cell)))
        rows.append(row)
    row = ["**all**"]
    for l in lengths:
        cell = [r for r in results if r["kind"] == "db" and r["length"] == l]
        row.append(pct(sum(is_right(r) for r in cell), len(cell)))
    rows.append(row)
    out.append(table(hdr, rows))
    out.append("")

    db = [r for r in results if r["kind"] == "db"]
    wrong = [r for r in db if r["answer"] is not None and r["answer"] != r["track"]]
    misplaced = [r for r in db if r["answer"] == r["track"] and not is_right(r)]
    repeats = [r for r in db if r.get("repeat")]
    out.append("answers for db clips: %d right (%d of them at a repeat of the clip's audio), %d named another track, "
               "%d right track but offset off, %d no answer"
               % (sum(is_right(r) for r in db), len(repeats), len(wrong), len(misplaced),
                  sum(r["answer"] is None for r in db)))
    out.append("")
    out.append("false positives: any row returned for a clip that is not in the catalogue")
    out.append("")
    rows = []
    for kind, label in (("held", "held-track clips"), ("nonmusic", "non-music clips")):
        row = [label]
        for l in lengths:
            cell = [r for r in results if r["kind"] == kind and r["length"] == l]
            shared = sum(r["answer"] is not None and shares_material(r["track"], r["answer"]) for r in cell)
            row.append("%d / %d%s" % (sum(r["answer"] is not None for r in cell) - shared, len(cell),
                                       " (+%d sharing material)" % shared if shared else ""))
        rows.append(row)
    out.append(table(["negatives"] + ["%g s" % l for l in lengths], rows))
    out.append("")

    errs = sorted(abs(r["answer_offset"] - r["offset"]) * 1000 for r in db if is_right(r) and not r["repeat"])
    if errs:
        q = lambda p: errs[min(len(errs) - 1, int(p * len(errs)))]
        out.append("offset error of right answers (repeats aside): p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms; %s within %d ms"
                   % (q(0.5), q(0.95), q(0.99), errs[-1],
                      pct(sum(e <= TIGHT_OFFSET_S * 1000 for e in errs), len(errs)), TIGHT_OFFSET_S * 1000))
    ms = sorted(r["ms"] for r in results)
    out.append("match_clip() round trip, client side: p50 %.1f ms, p95 %.1f ms (clip decode included)"
               % (ms[len(ms) // 2], ms[int(0.95 * len(ms))]))
    out.append("time: ingest %.0f s, clips %.0f s with %d workers" % (ingest_s, elapsed, args.jobs))

    if args.places:
        out.append("")
        out.append(places_report(db))
    if args.min_confidence is not None and float(args.min_confidence) == 0.0:
        out.append("")
        out.append("confidence of the first row (db clips: right answers kept; negatives: answers given)")
        out.append("")
        rows = []
        for th in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99):
            kept = sum(is_right(r) and r["confidence"] >= th for r in db)
            fp = sum(r["answer"] is not None and r["confidence"] >= th and not shares_material(r["track"], r["answer"])
                     for r in results if r["kind"] != "db")
            wr = sum(r["answer"] is not None and not is_right(r) and r["confidence"] >= th for r in db)
            rows.append(["%.2f" % th, pct(kept, len(db)), fp, wr])
        out.append(table(["threshold", "recall (db clips)", "false positives (negatives)", "wrong answers (db clips)"], rows))
    return "\n".join(out)


def places_report(db):
    """How close each answer's second place came: the evidence of the first place (where the vote
    put the clip) minus that of the strongest place more than 0.5 s from it, by what the answer was."""
    answered = [r for r in db if r.get("places")]
    moved = sum(abs(r["places"][0][0] - r["answer_offset"]) > OFFSET_TOLERANCE_S for r in answered)
    groups = (("at the clip's place", lambda r: is_right(r) and not r["repeat"]),
              ("at a repeat of its audio", lambda r: r["repeat"]),
              ("right track, offset off", lambda r: r["answer"] == r["track"] and not is_right(r)),
              ("another track", lambda r: r["answer"] != r["track"]))
    rows = []
    for label, member in groups:
        cell = [r for r in answered if member(r)]
        margins = sorted(r["places"][0][1] - (r["places"][1][1] if len(r["places"]) > 1 else 0.0) for r in cell)
        rows.append([label, len(cell),
                     sum(m < 5 for m in margins), sum(m < 10 for m in margins),
                     sum(m < DEPENDENCE_ALLOWANCE_NATS for m in margins),
                     "%.1f" % margins[len(margins) // 2] if margins else "—"])
    out = ["which place: the first place's evidence minus the second's, in nats (afp-perf-tool places, the "
           "answer's rendition; %d of %d first places differ from the answer's offset by more than %.1f s; "
           "the tool ran beside the timed queries, so this run's latencies are not comparable with a plain one)"
           % (moved, len(answered), OFFSET_TOLERANCE_S), ""]
    out.append(table(["answers", "n", "margin < 5", "< 10", "< %g (the dependence allowance)" % DEPENDENCE_ALLOWANCE_NATS,
                      "median margin"], rows))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("catalogue", help="CSV with track_id,path,split (split: db or held)")
    ap.add_argument("--clips-per-cell", type=int, default=24, help="db clips per degradation and length")
    ap.add_argument("--held-per-cell", type=int, default=8, help="held-track clips per degradation and length")
    ap.add_argument("--nonmusic-per-cell", type=int, default=4, help="non-music clips per kind and length")
    ap.add_argument("--lengths", default="3,5,10", help="clip lengths in seconds")
    ap.add_argument("--only", default=None, help="comma-separated degradations to run (default all)")
    ap.add_argument("--seed", default="afp-accuracy-1")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--database", default="afp_bench_accuracy")
    ap.add_argument("--reingest", action="store_true", help="drop and rebuild the benchmark database")
    ap.add_argument("--index-first", action="store_true",
                    help="create the indexes before ingesting and leave them as the INSERTs leave them (use with --reingest)")
    ap.add_argument("--min-confidence", default=None,
                    help="afp.min_confidence for the queries; 0 also prints a calibration table")
    ap.add_argument("--min-shared-hashes", default=None, help="afp.min_shared_hashes for the queries")
    ap.add_argument("--search", choices=("landmark", "gin"), default="landmark",
                    help="match with the afp_landmark index (default) or the GIN index")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="another setting for the queries, e.g. --set afp.index_max_postings=100000")
    ap.add_argument("--results", default=None, help="write one CSV row per clip here")
    ap.add_argument("--save-clips", default=None, help="keep each clip's bytes in this directory")
    ap.add_argument("--places", action="store_true",
                    help="vote each answered db clip again (afp-perf-tool places) and report how close "
                         "the best other place in the track came")
    args = ap.parse_args()

    for tool in ("sox", "soxi", "espeak-ng"):
        if shutil.which(tool) is None:
            sys.exit("bench-accuracy: %s not found (scripts/setup installs it)" % tool)
    lengths = [float(x) for x in args.lengths.split(",")]
    lengths = [int(l) if l.is_integer() else l for l in lengths]
    tracks = read_catalogue(args.catalogue)
    settings = {}
    if args.min_confidence is not None:
        settings["afp.min_confidence"] = str(args.min_confidence)
    if args.min_shared_hashes is not None:
        settings["afp.min_shared_hashes"] = str(args.min_shared_hashes)
    settings["afp.use_landmark_index"] = "on" if args.search == "landmark" else "off"
    for item in args.set:
        name, _, value = item.partition("=")
        settings[name.strip()] = value.strip()

    prepare_database(args.database, args.reingest)
    db = Database(args.database, settings)
    ingest_s = ingest(db, tracks, args.jobs, args.index_first)

    clips = plan_clips(tracks, lengths, args.clips_per_cell, args.held_per_cell, args.nonmusic_per_cell, args.seed)
    if args.only:
        keep = set(s.strip() for s in args.only.split(","))
        clips = [c for c in clips if c["degradation"] in keep or c["kind"] == "nonmusic"]
    workdir = tempfile.mkdtemp(prefix="afp-bench-accuracy-")
    try:
        babble = Babble(workdir)
        log("querying %d clips with %d workers" % (len(clips), args.jobs))
        if args.save_clips:
            os.makedirs(args.save_clips, exist_ok=True)
        results, elapsed = evaluate(db, clips, babble, args.jobs, workdir, args.save_clips, args.places)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        db.close()
    mark_repeats(results, tracks)
    if args.results:
        cols = ["index", "file", "kind", "degradation", "length", "container", "track", "offset", "answer",
                "answer_offset", "repeat", "score", "confidence", "ms", "bytes"]
        with open(args.results, "w", newline="") as f:
            w = csv.DictWriter(f, cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(results)
    n_db = sum(t["split"] == "db" for t in tracks)
    hours_db = sum(t["duration"] for t in tracks if t["split"] == "db") / 3600
    print(report(results, lengths, elapsed, ingest_s, args, n_db, len(tracks) - n_db, hours_db))


if __name__ == "__main__":
    main()
