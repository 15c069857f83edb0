#!/usr/bin/python3
"""afp-plot: draw how a clip was recognised.

For a clip and its best match in a catalogue, writes a PNG with three panels: the clip's
spectrogram (8 kHz analysis, as afp sees it) with its landmark pairs (anchor peak -> target peak),
the matched stretch of the track's landmarks, and the histogram of (track time - clip time) over
every pair of equal hashes, whose peak is the vote that placed the clip.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import psycopg
from psycopg import sql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from afp_tools import afp, connect, describe, die  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HOP_S = 128 / 8000.0
BIN_HZ = 8000 / 1024.0


def fields(hashes):
    """(f1 bin, df bins, dt frames) of packed hashes: f1 (9 bits) | df + 128 (8) | dt (7)."""
    h = np.asarray(hashes, dtype=np.int64) & 0xFFFFFF
    return (h >> 15) & 511, ((h >> 7) & 255) - 128, h & 127


def landmarks(cur, query, args):
    """The landmarks of the afp value that query (SQL text or a psycopg.sql composition) returns."""
    if not isinstance(query, sql.Composable):
        query = sql.SQL(query)
    cur.execute(sql.SQL("SELECT hash, t_s FROM afp_landmarks(({}))").format(query), args)
    rows = cur.fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows])


def draw_pairs(ax, hashes, times, alpha):
    f1, df, dt = fields(hashes)
    for t, f, d, k in zip(times, f1, df, dt):
        ax.plot([t, t + k * HOP_S], [f * BIN_HZ, (f + d) * BIN_HZ], color="tab:orange", lw=0.5, alpha=alpha)
    ax.scatter(times, f1 * BIN_HZ, s=4, color="tab:red", zorder=3)


def main():
    ap = argparse.ArgumentParser(prog="afp-plot", description=__doc__.splitlines()[0])
    ap.add_argument("clip", help="an audio file")
    ap.add_argument("-o", "--output", default="afp-plot.png")
    ap.add_argument("-d", "--dbname", help="connection string or URI (default: the PG* environment)")
    ap.add_argument("-t", "--table", default="afp_tracks", help="catalogue (default afp_tracks)")
    args = ap.parse_args()

    with open(args.clip, "rb") as f:
        audio = f.read()
    conn = connect(args.dbname)
    cur = conn.cursor()
    cur.execute("SELECT track_id, title, offset_s, confidence, clip_start_s, clip_end_s FROM match_clip(%s, %s::regclass, 1)",
                (audio, args.table))
    match = cur.fetchone()
    q_hash, q_t = landmarks(cur, "SELECT fingerprint(%s)", (audio,))

    # The clip as afp analyses it: 8 kHz mono, 1024-sample Hann frames every 128 samples.
    pcm = subprocess.run(["sox", "-V1", args.clip, "-t", "raw", "-e", "floating-point", "-b", "32", "-r", "8000", "-c", "1", "-"],
                         check=True, capture_output=True).stdout
    x = np.frombuffer(pcm, dtype=np.float32)
    n = max(1, (len(x) - 1024) // 128)
    frames = np.stack([x[i * 128:i * 128 + 1024] * np.hanning(1024) for i in range(n)]) if len(x) >= 1024 else np.zeros((1, 1024))
    spec = 10 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-10)

    fig, axes = plt.subplots(3, 1, figsize=(11, 10), gridspec_kw={"height_ratios": [3, 3, 2]})
    ax = axes[0]
    ax.imshow(spec.T, origin="lower", aspect="auto", cmap="magma", extent=[0, n * HOP_S, 0, 4000],
              vmin=np.percentile(spec, 30), vmax=spec.max())
    draw_pairs(ax, q_hash, q_t, 0.6)
    ax.set_title("clip %s: spectrogram, peaks and landmark pairs (%d landmarks)" % (os.path.basename(args.clip), len(q_hash)))
    ax.set_ylabel("Hz")
    ax.set_ylim(0, 4000)

    ax = axes[1]
    hist = axes[2]
    if match is None:
        ax.text(0.5, 0.5, "no match in %s" % args.table, ha="center", va="center", transform=ax.transAxes)
        hist.axis("off")
    else:
        track_id, title, offset, confidence, c0, c1 = match
        cols = catalog_columns(cur, args.table)
        cur.execute("SELECT %s::regclass::text", (args.table,))
        relation = cur.fetchone()[0]  # quoted and qualified as needed by regclass output
        t_hash, t_t = landmarks(cur, sql.SQL("SELECT {} FROM {} WHERE {} = %s").format(
            sql.Identifier(cols[1]), sql.SQL(relation), sql.Identifier(cols[0])), (track_id,))
        keep = (t_t >= offset - 1) & (t_t <= offset + (q_t.max() if len(q_t) else 0) + 1)
        draw_pairs(ax, t_hash[keep], t_t[keep], 0.3)
        common = np.isin(t_hash[keep], q_hash)
        f1, _, _ = fields(t_hash[keep][common])
        ax.scatter(t_t[keep][common], f1 * BIN_HZ, s=30, facecolors="none", edgecolors="tab:blue", zorder=4,
                   label="hashes the clip shares")
        ax.legend(loc="upper right")
        ax.set_title("track %s (id %d): landmarks around %.2f s" % (title, track_id, offset))
        ax.set_ylabel("Hz")
        ax.set_ylim(0, 4000)
        # The vote: every pair of equal hashes gives one offset; the true one piles up.
        order = np.argsort(t_hash)
        th, tt = t_hash[order], t_t[order]
        lo = np.searchsorted(th, q_hash, side="left")
        hi = np.searchsorted(th, q_hash, side="right")
        offsets = np.concatenate([tt[a:b] - t for a, b, t in zip(lo, hi, q_t)]) if len(q_hash) else np.array([])
        hist.hist(offsets, bins=np.arange(offsets.min() - HOP_S, offsets.max() + 2 * HOP_S, HOP_S * 4) if len(offsets) else 10,
                  color="tab:gray")
        hist.axvline(offset, color="tab:red", lw=1)
        hist.set_title("vote: track time - clip time over %d pairs of equal hashes; match at %.3f s, confidence %.3f"
                       % (len(offsets), offset, confidence))
        hist.set_xlabel("seconds")
    axes[0].set_xlabel("seconds into the clip")
    axes[1].set_xlabel("seconds into the track")
    fig.tight_layout()
    fig.savefig(args.output, dpi=90)
    print(args.output)


def catalog_columns(cur, table):
    """The id and afp columns of a catalogue (the same rules as match_clip)."""
    cur.execute("SELECT id, fp FROM afp_catalog_columns(%s::regclass)", (table,))
    return cur.fetchone()


if __name__ == "__main__":
    try:
        main()
    except (psycopg.Error, afp.AfpError) as e:
        die("afp-plot: %s" % describe(e))
