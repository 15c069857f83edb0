#!/usr/bin/python3
"""How sure afp is of wrong answers, at several catalogue sizes.

Ingests the db tracks of a catalogue CSV, grows catalogues of the sizes asked for from their real
fingerprints (bench_perf.build_catalogue, the afp_landmark index only; a catalogue perf_cat_SIZE
that already exists in the database, such as the one `scripts/bench-perf --keep` leaves, is used
as it is), and runs every clip of one set against each with match_clip() (decode included):

- positives: cuts of db tracks, clean, noisy, reverberant, and changed in speed, tempo and pitch;
- negatives: cuts of held tracks (music that is not in the catalogue), clean and degraded;
- the signal set: tones at several rates and channel counts (a 1 kHz sine as 8-channel FLAC at
  96 kHz among them), sweeps, square and sawtooth waves, clicks in silence, a metronome, DTMF,
  a drum loop, a synthesiser arpeggio loop, mains hum, espeak-ng speech, speech babble, noise.

Two passes per catalogue: the default settings (what users get) and afp.min_confidence = 0 with
up to 5 rows (every candidate the accepting round scored, with its confidence); then ln E of
every candidate of match_afp (below). Prints a table per size
and pass: answered clips per class, right / wrong track / wrong offset, the highest confidence of
a wrong row; optionally writes every row (--results) and an SVG plot of the confidences of wrong
candidates and right answers per size (--plot). An answer that names the db track a held track
shares recorded material with (bench_accuracy.SHARED_MATERIAL) is counted apart.
"""
import argparse
import concurrent.futures
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading

import numpy as np
import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_accuracy as ba  # noqa: E402
import devlib  # noqa: E402
import bench_perf as bp  # noqa: E402

POSITIVE_KINDS = ["clean", "white noise 0 dB", "babble 5 dB", "reverb", "speed +2%", "speed -2%", "tempo +5%",
                  "tempo -5%", "pitch +1 semitone", "pitch -1 semitone"]
NEGATIVE_KINDS = ["clean", "white noise 5 dB", "reverb", "speed +2%", "pitch -1 semitone"]
SIGNAL_PREFIX = "signal: "
NEGATIVE = "held (not in catalogue)"

# The signal set: (name, seconds, sample rate, channels, container extension, how it is made).
# "sox:..." is a sox synth effect chain; anything else names a numpy generator below.
SIGNALS = [
    ("sine 1 kHz, 8 ch FLAC 96 kHz", 60, 96000, 8, "flac", "sox:sine 1000"),
    ("sine 440 Hz, mono WAV 22.05 kHz", 10, 22050, 1, "wav", "sox:sine 440"),
    ("sine 3 kHz, WAV 44.1 kHz", 60, 44100, 2, "wav", "sox:sine 3000"),
    ("sine 100 Hz, WAV 8 kHz", 10, 8000, 1, "wav", "sox:sine 100"),
    ("sine 12 kHz, FLAC 48 kHz", 10, 48000, 2, "flac", "sox:sine 12000"),
    ("two sines 697+1209 Hz, Ogg", 10, 44100, 2, "ogg", "sox:sine 697 sine 1209 remix -"),
    ("square 300 Hz, WAV 44.1 kHz", 30, 44100, 2, "wav", "sox:square 300 vol 0.2"),
    ("square 1 kHz, MP3", 10, 44100, 2, "mp3", "sox:square 1000 vol 0.2"),
    ("sawtooth 220 Hz, WAV 48 kHz", 10, 48000, 2, "wav", "sox:sawtooth 220 vol 0.3"),
    ("sawtooth 55 Hz, FLAC 44.1 kHz", 30, 44100, 1, "flac", "sox:sawtooth 55 vol 0.3"),
    ("linear sweep 100 Hz - 8 kHz", 10, 48000, 2, "wav", "sox:sine 100-8000 vol 0.3"),
    ("log sweep 50 Hz - 16 kHz", 30, 44100, 2, "wav", "sox:sine 50:16000 vol 0.3"),
    ("triangle 880 Hz, Ogg", 10, 44100, 2, "ogg", "sox:triangle 880 vol 0.3"),
    ("clicks in silence", 30, 44100, 2, "wav", "clicks"),
    ("metronome 120 bpm", 30, 44100, 2, "wav", "metronome"),
    ("metronome 90 bpm, MP3", 10, 44100, 2, "mp3", "metronome90"),
    ("DTMF digits", 10, 8000, 1, "wav", "dtmf"),
    ("drum loop", 10, 44100, 2, "wav", "drum loop"),
    ("arpeggio loop", 30, 44100, 2, "wav", "arpeggio"),
    ("mains hum 50 Hz", 30, 44100, 1, "wav", "hum50"),
    ("mains hum 60 Hz, FLAC", 10, 48000, 2, "flac", "hum60"),
    ("espeak-ng speech, English", 10, 22050, 1, "wav", "speech en"),
    ("espeak-ng speech, German", 10, 22050, 1, "wav", "speech de"),
    ("espeak-ng speech, French, MP3", 10, 44100, 2, "mp3", "speech fr"),
    ("speech babble", 10, 44100, 2, "wav", "speech babble"),
    ("white noise", 10, 44100, 2, "wav", "white noise"),
    ("pink noise", 10, 44100, 2, "wav", "pink noise"),
]
SPEECH = {
    "en": "The quick brown fox jumps over the lazy dog. Please hold, your call is important to us, "
          "all of our operators are busy at the moment.",
    "de": "Guten Abend, meine Damen und Herren. Hier sind die Nachrichten. Das Wetter morgen wird sonnig und warm.",
    "fr": "Bonjour a tous, voici les informations de la matinee. Il fera beau sur toute la France demain.",
}
DTMF = {"1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "4": (770, 1209), "5": (770, 1336),
        "6": (770, 1477), "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "0": (941, 1336)}


def synth_numpy(kind, seconds, rng, babble, tmpdir):
    """A signal of the set at WORK_RATE, stereo float32."""
    sr = ba.WORK_RATE
    n = int(seconds * sr)
    t = np.arange(n) / sr
    mono = lambda x: np.repeat(np.asarray(x, dtype=np.float32)[:n, None], 2, axis=1)  # noqa: E731
    if kind == "clicks":
        x = np.zeros(n)
        for s in rng.integers(0, n - 100, max(1, int(seconds * 1.5))):
            x[s:s + 40] = 0.5
        return mono(x)
    if kind in ("metronome", "metronome90"):
        x = np.zeros(n)
        period = int(sr * 60.0 / (120 if kind == "metronome" else 90))
        blip = 0.6 * np.sin(2 * np.pi * 2000 * np.arange(int(0.004 * sr)) / sr)
        for s in range(0, n - len(blip), period):
            x[s:s + len(blip)] = blip
        return mono(x)
    if kind == "dtmf":
        parts = []
        while sum(len(p) for p in parts) < n:
            a, b = DTMF[str(int(rng.integers(0, 10)))]
            tt = np.arange(int(0.12 * sr)) / sr
            parts += [0.3 * (np.sin(2 * np.pi * a * tt) + np.sin(2 * np.pi * b * tt)), np.zeros(int(0.08 * sr))]
        return mono(np.concatenate(parts))
    if kind == "arpeggio":
        notes = [220.0, 277.18, 329.63, 440.0]
        seg = []
        for f in notes:
            tt = np.arange(int(0.25 * sr)) / sr
            seg.append(np.exp(-tt * 6) * sum(0.3 / k * np.sin(2 * np.pi * f * k * tt) for k in range(1, 5)))
        return mono(np.resize(np.concatenate(seg), n))
    if kind in ("hum50", "hum60"):
        f = 50.0 if kind == "hum50" else 60.0
        hum = 0.05 * (np.sin(2 * np.pi * f * t) + 0.5 * np.sin(2 * np.pi * 2 * f * t) + 0.3 * np.sin(2 * np.pi * 3 * f * t))
        return mono(hum + 0.0005 * rng.standard_normal(n))
    if kind.startswith("speech "):
        lang = kind.split(" ", 1)[1]
        if lang == "babble":
            return ba.non_music("speech babble", seconds, rng, babble)
        path = os.path.join(tmpdir, "speech-%s.wav" % lang)
        ba.run(["espeak-ng", "-v", lang, "-w", path, SPEECH[lang] + " " + SPEECH[lang]])
        v = ba.sox_read(path, channels=1)[:, 0]
        v = 0.3 * v / (np.max(np.abs(v)) + 1e-9)
        return mono(np.resize(v, n))
    return ba.non_music(kind, seconds, rng, babble)  # drum loop, white noise, pink noise


def make_signal(sig, babble, tmpdir):
    """The signal's bytes in its container."""
    name, seconds, rate, channels, ext, how = sig
    path = os.path.join(tmpdir, "signal." + ext)
    if how.startswith("sox:"):
        ba.run(["sox", "-V1", "-D", "-n", "-r", str(rate), "-c", str(channels), "-b", "16", path,
                "synth", str(seconds)] + how[4:].split())
    else:
        rng = np.random.default_rng(int(hashlib.sha256(name.encode()).hexdigest()[:16], 16))
        audio = synth_numpy(how, seconds, rng, babble, tmpdir)
        args = ["sox", "-V1", "-D"] + ba.RAW + ["-r", str(ba.WORK_RATE), "-c", "2", "-", "-r", str(rate),
                                                  "-c", str(channels)]
        if ext in ("wav", "flac"):
            args += ["-b", "16"]
        ba.run(args + [path], np.clip(audio, -1.0, 1.0).astype(np.float32).tobytes())
    with open(path, "rb") as f:
        return f.read()


def make_clips(db, tracks, n, n_held, lengths, seed, jobs):
    """Positives and negatives as bench_perf.make_clips makes them, then the signal set."""
    clips = bp.make_clips(db, tracks, POSITIVE_KINDS, n, lengths, seed, 0, jobs, 0)
    # Negatives in several degradations: make_clips renders held cuts clean only, so render them here.
    plan = []
    for length in lengths:
        pool = [t for t in tracks if t["split"] == "held" and t["duration"] > length + 2]
        for k in range(n_held):
            rng = random.Random("%s:held:%d:%d" % (seed, length, k))
            t = rng.choice(pool)
            off = round(rng.uniform(0, t["duration"] - length - 1), 3)
            for kind in NEGATIVE_KINDS:
                plan.append({"kind": "held", "degradation": kind, "length": length, "track": t["name"],
                             "path": t["path"], "offset": off, "container": bp.CLIP_CONTAINER,
                             "seed": "%s:held:%d:%d:%s" % (seed, length, k, kind)})
    workdir = tempfile.mkdtemp(prefix="afp-bench-confidence-")
    babble = ba.Babble(workdir)
    dbs = ba.Database(db, {})
    lock = threading.Lock()
    next_id = [max(c["id"] for c in clips) + 1 if clips else 1]
    refused = []

    def store(kind, length, title, offset, data, label):
        with lock:
            i = next_id[0]
            next_id[0] += 1
        try:
            with dbs.conn().cursor() as cur:
                cur.execute("INSERT INTO perf_clips VALUES (%s, %s, %s, true, %s, %s, %s, fingerprint(%s))",
                            (i, kind, length, title, offset, psycopg2.Binary(data), psycopg2.Binary(data)))
        except psycopg2.Error as e:
            dbs.conn().rollback()
            with lock:
                refused.append((label, e.pgcode, str(e).splitlines()[0]))

    def make_negative(clip):
        tmp = tempfile.mkdtemp(dir=workdir)
        data = ba.make_clip(clip, babble, tmp)
        store("%s, %s" % (NEGATIVE, clip["degradation"]), clip["length"], clip["track"], clip["offset"], data,
              clip["seed"])

    def make_sig(sig):
        tmp = tempfile.mkdtemp(dir=workdir)
        store(SIGNAL_PREFIX + sig[0], sig[1], None, None, make_signal(sig, babble, tmp), sig[0])

    try:
        with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
            list(ex.map(make_negative, plan))
            list(ex.map(make_sig, SIGNALS))
    finally:
        dbs.close()
    for label, code, msg in refused:
        bp.log("  fingerprint() refused %s: %s %s" % (label, code, msg))
    c = bp.connect(db)
    cur = c.cursor()
    cur.execute("VACUUM ANALYZE perf_clips")
    cur.execute("SELECT id, kind, length, held, title, offset_s FROM perf_clips ORDER BY id")
    out = [dict(zip(("id", "kind", "length", "held", "title", "offset_s"), r)) for r in cur.fetchall()]
    c.close()
    return out, refused


def klass(clip):
    if clip["kind"].startswith(SIGNAL_PREFIX):
        return "signal"
    return "negative" if clip["held"] else "positive"


def classify(clip, answer):
    """right, shared, wrong track or wrong offset."""
    if answer["right"]:
        return "right"
    if answer["shared"]:
        return "shared"
    if not clip["held"] and answer["title"] == clip["title"]:
        return "wrong offset"
    return "wrong track"


def summarize(size_h, label, res):
    lines = []
    by = {}
    for r in res:
        by.setdefault((klass(r), r["kind"]), []).append(r)
    head = "| %s, %s | clips | answered | right | wrong track | wrong offset | shares material | highest wrong confidence | p50 / p95 ms |" % (
        fmt_h(size_h), label)
    lines += [head, "|---|---|---|---|---|---|---|---|---|"]
    totals = {}
    for (k, kind), sel in sorted(by.items()):
        first = [(r, r["answers"][0]) for r in sel if r["answers"]]
        counts = {c: sum(classify(r, a) == c for r, a in first) for c in ("right", "wrong track", "wrong offset", "shared")}
        wrong = [a["confidence"] for r in sel for a in r["answers"] if classify(r, a) in ("wrong track", "wrong offset")]
        ms = [r["ms"] for r in sel]
        lines.append("| %s | %d | %d | %d | %d | %d | %d | %s | %s / %s |" % (
            kind, len(sel), len(first), counts["right"], counts["wrong track"], counts["wrong offset"], counts["shared"],
            "%.3g" % max(wrong) if wrong else "—", bp.fmt_ms(bp.pct(ms, 0.5)), bp.fmt_ms(bp.pct(ms, 0.95))))
        t = totals.setdefault(k, {"clips": 0, "answered": 0, "wrong track": 0, "wrong offset": 0, "conf>=0.5 wrong offset": 0})
        t["clips"] += len(sel)
        t["answered"] += sum(a["confidence"] >= 0.5 and classify(r, a) != "shared" for r, a in first)
        t["wrong track"] += counts["wrong track"]
        t["wrong offset"] += counts["wrong offset"]
        t["conf>=0.5 wrong offset"] += sum(classify(r, a) == "wrong offset" and a["confidence"] >= 0.5 for r, a in first)
    lines.append("")
    sig, neg, pos = totals.get("signal", {}), totals.get("negative", {}), totals.get("positive", {})
    lines.append("%s, %s: signals answered %d of %d; negatives answered %d of %d (answers naming the track they share "
                 "material with aside); positives: %d wrong track, %d wrong offset (%d of them at confidence >= 0.5)"
                 % (fmt_h(size_h), label, sig.get("answered", 0), sig.get("clips", 0), neg.get("answered", 0),
                    neg.get("clips", 0), pos.get("wrong track", 0), pos.get("wrong offset", 0),
                    pos.get("conf>=0.5 wrong offset", 0)))
    return lines


def fmt_h(h):
    return "{:,.0f} h".format(h)


# ---------------------------------------------------------------------------------------------
# ln E of every candidate: match_afp() with afp.min_confidence = 0 names the candidates of its
# first round (the clip as recorded, every catalogue row compared), some of them moved to another
# rendition by the refinement (then compared among every rendition of the search), and
# afp-perf-tool votes each again in its rendition and prints ln E, the log of the expected number
# of chance alignments as strong: confidence = exp(-E), which a float4 rounds to 0 for E > ~100
# and to 1 for E < ~1e-7, so ln E shows how far from the bar a candidate is where the confidence
# cannot.

def renditions_searched(cur):
    """The renditions a search tries at the session's settings, the clip as recorded included
    (the steps of src/core/policy.hpp: 0.5% of speed and of tempo, half a semitone of pitch)."""
    def steps(setting, step):
        cur.execute("SELECT current_setting(%s)::float8", (setting,))
        return 2 * int(math.floor(cur.fetchone()[0] / step + 1e-9))
    return 1 + steps("afp.max_speed_change", 0.005) + steps("afp.max_tempo_change", 0.005) + steps("afp.max_pitch_change", 0.5)


def ln_expected(db, cat, clips, real):
    """[(clip, rank, answer title, offset, ln E)] for every candidate of every clip, best first."""
    c = bp.connect(db, {"afp.min_confidence": "0"})
    cur = c.cursor()
    cur.execute("SELECT count(*) FROM %s" % devlib.ident(cat))
    rows = cur.fetchone()[0]
    renditions = renditions_searched(cur)
    cur.execute("SELECT c.id, m.ordinality, m.track_id, m.offset_s, m.speed, m.tempo, m.pitch "
                "FROM perf_clips c, LATERAL match_afp(c.fp, %s::regclass, 5) WITH ORDINALITY m "
                "ORDER BY c.id, m.ordinality" % devlib.literal(devlib.ident(cat)))
    groups = {}  # (clip, rendition) -> [(rank, track, offset)]
    for clip_id, rank, track_id, offset, speed, tempo, pitch in cur.fetchall():
        groups.setdefault((clip_id, (speed, tempo, pitch)), []).append((rank, track_id, offset))
    c.close()
    by_id = {cl["id"]: cl for cl in clips}
    out = []
    for (clip_id, rendition), cands in sorted(groups.items()):
        ids = ",".join(str(int(t)) for _, t, _ in cands)
        sql = ("COPY (SELECT 0::int8, fp FROM perf_clips WHERE id = %d UNION ALL "
               "SELECT * FROM (SELECT id, fp FROM %s WHERE id IN (%s) ORDER BY id) s) TO STDOUT BINARY"
               % (clip_id, devlib.ident(cat), ids))
        copy = subprocess.run(["psql", "-X", "-q", "-d", db, "-c", sql], capture_output=True, check=True).stdout
        as_recorded = rendition == (1.0, 1.0, 1.0)
        compared = rows * (1 if as_recorded else renditions)
        lines = subprocess.run([bp.PERF_TOOL, "vote", str(compared)] + [repr(x) for x in rendition],
                               input=copy, capture_output=True, check=True).stdout.decode().splitlines()[1:]
        ln_e = {int(l.split(",")[0]): float(l.split(",")[-1]) for l in lines}
        for rank, track_id, offset in cands:
            out.append((by_id[clip_id], rank, real.get(track_id), offset, ln_e[int(track_id)]))
    out.sort(key=lambda x: (x[0]["id"], x[1]))
    return out


# ---------------------------------------------------------------------------------------------
# the plot, written by hand (SVG): one panel per catalogue size

SERIES = [("positive", "wrong rows, clips of catalogue tracks", "#1f77b4"),
          ("negative", "rows for music not in the catalogue", "#d62728"),
          ("signal", "rows for the signal set", "#9467bd"),
          ("right", "right first rows (for contrast)", "#2ca02c")]


def plot_svg(path, panels):
    """panels: [(hours, {series: [ln E, ...]})]; x = ln E on a symmetric log scale."""
    W, left, right, ph, top, gap = 960, 260, 30, 120, 64, 44
    H = top + len(panels) * (ph + gap) + 90
    squash = lambda v: math.copysign(math.log10(1 + abs(v)), v)  # noqa: E731
    lo, hi = squash(-1000), squash(1000)

    def x_of(v):
        v = min(max(v, -1000), 1000)
        return left + (squash(v) - lo) / (hi - lo) * (W - left - right)

    s = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="22" font-size="15" font-weight="bold">How sure afp is of wrong candidates: ln E, E = expected '
         'chance alignments as strong</text>' % 10,
         '<text x="%d" y="42" fill="#444">confidence = exp(-E); left of the dashed line (E = ln 2) a row is answered '
         '(confidence &gt; 0.5). Every candidate of match_afp with afp.min_confidence = 0 (up to 5 rows per clip).</text>' % 10]
    rng = np.random.default_rng(1)
    ticks = [-1000, -100, -10, -1, 0, 1, 10, 100, 1000]
    for p, (hours, series) in enumerate(panels):
        y0 = top + p * (ph + gap)
        s.append('<text x="10" y="%d" font-size="14" font-weight="bold">%s</text>' % (y0 - 6, fmt_h(hours)))
        s.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>' % (left, y0, W - left - right, ph))
        for t in ticks:
            x = x_of(t)
            s.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>' % (x, y0, x, y0 + ph))
        xt = x_of(math.log(math.log(2)))
        s.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000" stroke-dasharray="4,3"/>' % (xt, y0 - 4, xt, y0 + ph + 4))
        band = ph / len(SERIES)
        for k, (key, label, colour) in enumerate(SERIES):
            values = series.get(key, [])
            yc = y0 + band * (k + 0.5)
            s.append('<text x="%d" y="%.1f" text-anchor="end" fill="%s">%s (%d)</text>' % (left - 8, yc + 4, colour, label, len(values)))
            for v in values:
                s.append('<circle cx="%.1f" cy="%.1f" r="2.2" fill="%s" fill-opacity="0.55"/>'
                         % (x_of(v), yc + rng.uniform(-band * 0.35, band * 0.35), colour))
    ya = top + len(panels) * (ph + gap) - gap + 18
    for t in ticks:
        s.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x_of(t), ya, "{:,}".format(t)))
    s.append('<text x="%.1f" y="%d" text-anchor="middle">ln E (symmetric log scale; beyond +-1,000 drawn at the edge). '
             'confidence 0.5 at ln E = -0.37, 0.999 at -6.9, 1e-9 at +3.0</text>' % ((left + W - right) / 2, ya + 22))
    s.append('</svg>')
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("catalogue", help="CSV with track_id,path,split (db tracks are ingested, held ones are negatives)")
    ap.add_argument("--sizes", default="10,1000", help="catalogue sizes in hours; perf_cat_SIZE is reused if it exists")
    ap.add_argument("--lengths", default="5,10", help="clip lengths in seconds (positives and negatives)")
    ap.add_argument("--clips", type=int, default=6, help="cuts of db tracks per length, each in every positive kind")
    ap.add_argument("--held-clips", type=int, default=6, help="cuts of held tracks per length, each in every negative kind")
    ap.add_argument("--database", default="afp_bench_conf")
    ap.add_argument("--reingest", action="store_true", help="start from an empty database (drops its catalogues)")
    ap.add_argument("--seed", default="afp-confidence-1")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--results", default=None, help="write every clip's rows of every pass here (JSON lines)")
    ap.add_argument("--plot", default=None, help="write the SVG plot here")
    args = ap.parse_args()

    tracks = ba.read_catalogue(args.catalogue)
    bp.TRACKS_BY_NAME.update({t["name"]: t for t in tracks})
    sizes = sorted(int(s) for s in args.sizes.split(","))
    lengths = [int(x) for x in args.lengths.split(",")]
    ba.prepare_database(args.database, args.reingest)
    db = ba.Database(args.database, {})
    try:
        ba.ingest(db, tracks, args.jobs)  # kept when the database already holds them
    finally:
        db.close()
    c = bp.connect(args.database)
    cur = c.cursor()
    cur.execute("SELECT sum(afp_duration(fp)) / 3600 FROM bench_tracks")
    hours_db = cur.fetchone()[0]
    c.close()
    bp.log("clips ...")
    clips, refused = make_clips(args.database, tracks, args.clips, args.held_clips, lengths, args.seed, args.jobs)
    for cl in clips:  # make_clips labels held cuts by kind only; the signal set's titles are empty
        if cl["kind"] == bp.HELD:
            cl["kind"] = "%s, clean" % NEGATIVE
    if args.results:
        open(args.results, "w").close()
    report, panels = [], []
    for size in sizes:
        copies = max(1, round(size / hours_db))
        cat = "perf_cat_%d" % size
        c = bp.connect(args.database)
        cur = c.cursor()
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (cat,))
        exists = cur.fetchone()[0]
        c.close()
        if not exists:
            bp.log("catalogue ~%d h: %d copies ..." % (size, copies))
            bp.retry(bp.build_catalogue, args.database, cat, copies, hours_db, False)
        c = bp.connect(args.database)
        cur = c.cursor()
        cur.execute("SELECT sum(afp_duration(fp)) / 3600 FROM %s" % cat)
        hours = cur.fetchone()[0]
        c.close()
        real = bp.real_rows(args.database, cat)
        series = {}
        for label, settings in (("default settings", {}), ("min_confidence 0", {"afp.min_confidence": "0"})):
            res = bp.time_pass(args.database, "%s %s" % (fmt_h(hours), label), bp.clip_sql(cat, 5), clips, real, settings)
            report += summarize(hours, label, res) + [""]
            if args.results:
                with open(args.results, "a") as f:
                    for r in res:
                        f.write(json.dumps(dict(r, hours=hours, run=label), default=str) + "\n")
        firsts = set()
        strongest = {}
        for clip, _rank, title, offset, ln_e in ln_expected(args.database, cat, clips, real):
            answer = {"title": title, "right": not clip["held"] and bp.is_right(clip, title, offset),
                      "shared": clip["held"] and ba.shares_material(clip["title"], title)}
            kind = classify(clip, answer)
            if kind in ("wrong track", "wrong offset"):
                series.setdefault(klass(clip), []).append(ln_e)
                strongest[klass(clip)] = min(strongest.get(klass(clip), math.inf), ln_e)
            elif kind == "right" and clip["id"] not in firsts:
                series.setdefault("right", []).append(ln_e)
            firsts.add(clip["id"])
        report.append("%s, candidates of match_afp (afp.min_confidence 0): the strongest wrong row's ln E: %s "
                      "(a row is answered below ln E = -0.37)" % (fmt_h(hours), ", ".join(
                          "%s %.1f" % (k, v) for k, v in sorted(strongest.items())) or "none"))
        right = sorted(series.get("right", []))
        if right:
            report.append("%s, right first rows: %d, ln E min %.1f, median %.1f, max %.1f" % (
                fmt_h(hours), len(right), right[0], right[len(right) // 2], right[-1]))
        report.append("")
        panels.append((hours, series))
    print("afp confidence benchmark: %d clips (%d refused by fingerprint())" % (len(clips), len(refused)))
    for label, code, msg in refused:
        print("- refused: %s (%s: %s)" % (label, code, msg))
    print()
    print("\n".join(report))
    if args.plot:
        plot_svg(args.plot, panels)
        print("plot: %s" % args.plot)


if __name__ == "__main__":
    main()
