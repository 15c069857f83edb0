#!/usr/bin/python3
"""Determinism test and mutation sweep of fingerprint(), against the running cluster.

1. Determinism: every audio fixture is fingerprinted in N backends (default 3) at once, each
   taking the fixtures in its own shuffled order; per file, every backend must return the same
   bytes, or the same error.
2. Mutation sweep: mutants of the fixtures (prefixes, changed header bytes and 32-bit header
   fields, Ogg granule positions, Ogg pages resealed with a valid checksum) are fingerprinted in
   two backends at once, in opposite orders. Each must give, in both, a documented error (22000,
   22023, 54000) or the same fingerprint; and a prefix that cuts into the audio of a container
   whose length is exact (WAV, AIFF, FLAC, Ogg) must be rejected.

Prints TAP lines, the failures and a summary table; failing mutants are saved under
build/mutation-failures/. Exits 1 on any failure.
"""
import argparse
import bisect
import concurrent.futures
import hashlib
import os
import random
import re
import shutil
import struct
import sys
import threading
import time

import psycopg2
from psycopg2 import sql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import devlib  # noqa: E402  (audio_files)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAILURE_DIR = os.path.join(ROOT, "build", "mutation-failures")

# What docs/sql-reference.md ("Errors") lets fingerprint() raise for bad audio. Anything else —
# XX000, 57014 from the statement timeout (a hang), a crash — is a bug.
DOCUMENTED_SQLSTATES = {"22000", "22023", "54000"}
STATEMENT_TIMEOUT = "30s"
# Header flips land in the first HEADER bytes: every container keeps its format fields there.
HEADER = 512
# How long a backend waits for the server to accept connections again after a crash restarted it.
RECONNECT_SECONDS = 120

BYTE_CHANGES = {
    "=0x00": lambda b: 0,
    "=0xff": lambda b: 0xFF,
    "^0x01": lambda b: b ^ 0x01,
    "^0x80": lambda b: b ^ 0x80,
    "+1": lambda b: (b + 1) & 0xFF,
    "-1": lambda b: (b - 1) & 0xFF,
}
FIELD_CHANGES = {
    "=0": lambda v: 0,
    "=0xffffffff": lambda v: 0xFFFFFFFF,
    "=0x7fffffff": lambda v: 0x7FFFFFFF,
    "=0x80000000": lambda v: 0x80000000,
    "+1": lambda v: (v + 1) & 0xFFFFFFFF,
    "-1": lambda v: (v - 1) & 0xFFFFFFFF,
}
# Granule positions are signed 64-bit; -1 means "no packet ends on this page".
GRANULE_CHANGES = {
    "=0": lambda g: 0,
    "=-1": lambda g: -1,
    "=-2": lambda g: -2,
    "=2^32": lambda g: 2**32,
    "=2^63-1": lambda g: 2**63 - 1,
    "g+1": lambda g: g + 1,
    "g-1": lambda g: g - 1,
    "g+48000": lambda g: g + 48000,
    "g*2": lambda g: g * 2,
    "g/2": lambda g: g // 2,
}


# ---- containers -------------------------------------------------------------------------------

def chunks(data, big_endian):
    """(id, body offset, declared size) of each chunk of a RIFF (WAV) or IFF (AIFF) file."""
    size_format = ">I" if big_endian else "<I"
    pos = 12
    while pos + 8 <= len(data):
        size = struct.unpack_from(size_format, data, pos + 4)[0]
        yield bytes(data[pos:pos + 4]), pos + 8, size
        pos += 8 + size + (size & 1)


def container(data):
    """The container of an audio file from its bytes; WAV is split by sample encoding, because
    libsndfile reads integer and float WAV by different code."""
    if data[:4] in (b"RIFF", b"RF64", b"BW64") and data[8:12] == b"WAVE":
        for cid, body, _ in chunks(data, False):
            if cid == b"fmt " and body + 2 <= len(data):
                return {1: "wav-pcm", 3: "wav-float"}.get(struct.unpack_from("<H", data, body)[0], "wav")
        return "wav"
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS" and len(data) > 27:
        packet = data[27 + data[26]:][:8]
        if packet == b"OpusHead":
            return "ogg-opus"
        if packet[1:7] == b"vorbis":
            return "ogg-vorbis"
        return "ogg"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    return "other"


def little_endian(kind):
    """Byte order of the container's integer fields (for the 32-bit field changes)."""
    return kind.startswith("wav") or kind.startswith("ogg")


def audio_end(kind, data):
    """Where the audio of a container with an exact length ends: any shorter prefix must be
    rejected ("audio data is truncated"). None where a shorter prefix may be valid audio: MP3
    (its length is an estimate), WAV whose data size says "unknown" (0, 0xFFFFFFFF), RF64."""
    if kind.startswith("wav") and data[:4] == b"RIFF":
        for cid, body, size in chunks(data, False):
            if cid == b"data":
                return None if size in (0, 0xFFFFFFFF) else body + size
        return None
    if kind == "aiff":
        for cid, body, size in chunks(data, True):
            if cid == b"SSND":
                return body + size
        return None
    if kind == "flac" or kind.startswith("ogg"):
        return len(data)
    return None


def wav_to_aiff(wav):
    """The audio of a 16-bit PCM WAV in an AIFF container, or None for other WAVs. No AIFF fixture
    is generated; this puts libsndfile's AIFF reader under the sweep too."""
    fmt = pcm = None
    for cid, body, size in chunks(wav, False):
        if cid == b"fmt " and size >= 16:
            fmt = struct.unpack_from("<HHIIHH", wav, body)
        elif cid == b"data":
            pcm = wav[body:body + size]
    if fmt is None or pcm is None or fmt[0] != 1 or fmt[5] != 16 or fmt[1] < 1:
        return None
    channels, rate = fmt[1], fmt[2]
    frames = len(pcm) // (2 * channels)
    pcm = pcm[:frames * channels * 2]
    swapped = bytearray(len(pcm))  # AIFF samples are big-endian
    swapped[0::2], swapped[1::2] = pcm[1::2], pcm[0::2]
    exponent = rate.bit_length() - 1  # the rate as an 80-bit extended float, integer bit explicit
    comm = struct.pack(">hIhHQ", channels, frames, 16, 16383 + exponent, rate << (63 - exponent))
    ssnd = struct.pack(">II", 0, 0) + bytes(swapped)
    form = (b"AIFF" + b"COMM" + struct.pack(">I", len(comm)) + comm
            + b"SSND" + struct.pack(">I", len(ssnd)) + ssnd)
    return b"FORM" + struct.pack(">I", len(form)) + form


# ---- Ogg pages --------------------------------------------------------------------------------

def _ogg_crc_table():
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = (r << 1) ^ 0x04C11DB7 if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


OGG_CRC_TABLE = _ogg_crc_table()


def ogg_crc(page):
    """libogg's page checksum: CRC-32, polynomial 0x04C11DB7, not reflected, initial value 0."""
    crc = 0
    for b in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ OGG_CRC_TABLE[(crc >> 24) ^ b]
    return crc


def ogg_page_length(data, pos):
    """Length of the Ogg page at pos, or None if no whole page starts there."""
    if data[pos:pos + 4] != b"OggS" or pos + 27 > len(data):
        return None
    segments = data[pos + 26]
    if pos + 27 + segments > len(data):
        return None
    length = 27 + segments + sum(data[pos + 27:pos + 27 + segments])
    return length if pos + length <= len(data) else None


def ogg_pages(data):
    """Offsets of the Ogg pages, from the start up to the first thing that is not a whole page."""
    pages, pos = [], 0
    while True:
        length = ogg_page_length(data, pos)
        if length is None:
            return pages
        pages.append(pos)
        pos += length


def resealed(data, page, patches):
    """patches plus the checksum the page at offset page has once they are applied, or None if the
    patched bytes no longer form a page there. libogg drops a page whose checksum fails, so an
    unsealed change inside a page never reaches the codec."""
    window = bytearray(data[page:page + 27 + 255 + 255 * 255])
    for pos, new in patches:
        window[pos - page:pos - page + len(new)] = new
    length = ogg_page_length(window, 0)
    if length is None:
        return None
    window[22:26] = bytes(4)
    return patches + [(page + 22, struct.pack("<I", ogg_crc(window[:length])))]


# ---- sources and mutants ----------------------------------------------------------------------

class Source:
    """An audio input: a fixture file, or a container converted from one."""

    def __init__(self, name, data):
        self.name = name
        self.data = data
        self.kind = container(data)

    def build(self):
        """The bytes to fingerprint (as Mutant.build, so that run_backends takes either)."""
        return self.data


class Mutant:
    """A prefix of a source with some bytes replaced, built only when it is sent (the mutants of
    a 3.5 MB WAV would not fit in memory together)."""

    def __init__(self, source, kind, position, change, description, length=None, patches=(), must_reject=False):
        self.source = source
        self.kind = kind
        self.position = position
        self.change = change
        self.description = "%s %s: %s" % (source.name, kind, description)
        self.length = len(source.data) if length is None else length
        self.patches = list(patches)
        self.must_reject = must_reject

    def build(self):
        data = bytearray(self.source.data[:self.length])
        for pos, new in self.patches:
            data[pos:pos + len(new)] = new
        return bytes(data)

    def file_name(self):
        name = "%s.%s.%d.%s.bin" % (self.source.name, self.kind, self.position, self.change)
        return re.sub(r"[^A-Za-z0-9._=+-]", "_", name)


def load_sources(fixtures):
    """Every audio fixture, plus an AIFF converted from the smallest 16-bit PCM WAV among the songs
    and clips if the fixtures have no AIFF of their own (the smallest: its mutants are the cheapest
    to fingerprint)."""
    sources = []
    for path in devlib.audio_files(fixtures):
        with open(path, "rb") as f:
            sources.append(Source(os.path.relpath(path, fixtures), f.read()))
    if not any(s.kind == "aiff" for s in sources):
        music = [s for s in sources if s.kind == "wav-pcm" and s.name.startswith(("song", "clip"))]
        for s in sorted(music, key=lambda s: len(s.data)):
            aiff = wav_to_aiff(s.data)
            if aiff:
                sources.append(Source(os.path.splitext(s.name)[0] + "-from-wav.aiff", aiff))
                break
    return sources


def cut_mutants(source, rng, full, pages):
    """Prefixes: in the header, spread over the file, near the end, and (Ogg) on page boundaries,
    where the stream ends cleanly but without its end-of-stream page."""
    size = len(source.data)
    if full:
        head = list(range(1, 17)) + list(range(20, 101, 4)) + [128, 192, 256, 384, 512]
        spread = [size * k // 21 for k in range(1, 21)]
        tail = [size - d for d in (1, 2, 3, 4, 8, 16, 64, 256, 1024, 4096, 16384, 65536)]
        boundaries = pages[1:]
    else:
        head = [1, 4, 8, 12, 24, 36, 44, 64, 100]
        spread = [size * k // 6 for k in range(1, 6)]
        tail = [size - d for d in (1, 2, 64, 4096)]
        boundaries = rng.sample(pages[1:], min(3, len(pages) - 1)) if pages else []
    end = audio_end(source.kind, source.data)
    return [Mutant(source, "cut", cut, "prefix", "first %d of %d bytes" % (cut, size), length=cut,
                   must_reject=end is not None and cut < end)
            for cut in sorted({c for c in head + spread + tail + boundaries if 0 < c < size})]


def flip_mutant(source, kind, pos, change, old, new, pages, detail):
    """A mutant replacing old by new at pos. A change inside one Ogg page gets the page checksum
    recomputed, so that it reaches the decoder, unless it changes the checksum itself."""
    patches = [(pos, new)]
    description = "at %d, %s -> %s (%s)%s" % (pos, old.hex(), new.hex(), change, detail)
    if pages:
        page = pages[bisect.bisect_right(pages, pos) - 1]
        end = pos + len(new)
        inside = end <= page + ogg_page_length(source.data, page)
        if inside and (end <= page + 22 or pos >= page + 26):
            sealed = resealed(source.data, page, patches)
            if sealed:
                patches = sealed
                description += ", page checksum recomputed"
    return Mutant(source, kind, pos, change, description, patches=patches)


def byte_mutants(source, rng, full, pages):
    """Single bytes of the header region set to 0 or 0xff, xor-ed with 1 or 0x80, or stepped by 1.
    Full: every byte once (a seeded choice of change), every change on the first 64 bytes."""
    region = min(HEADER, len(source.data))
    names = sorted(BYTE_CHANGES)
    if full:
        plan = [(pos, rng.choice(names)) for pos in range(region)]
        plan += [(pos, name) for pos in range(min(64, region)) for name in names]
    else:
        plan = [(pos, rng.choice(names)) for pos in rng.sample(range(min(64, region)), min(7, region))]
        plan += [(pos, rng.choice(names)) for pos in rng.sample(range(64, max(64, region)), min(3, max(0, region - 64)))]
    mutants, seen = [], set()
    for pos, name in plan:
        old = source.data[pos]
        new = BYTE_CHANGES[name](old)
        if new != old and (pos, new) not in seen:
            seen.add((pos, new))
            mutants.append(flip_mutant(source, "byte", pos, name, bytes([old]), bytes([new]), pages, ""))
    return mutants


def field_mutants(source, rng, full, pages):
    """32-bit fields of the header region (in the container's byte order) set to 0, -1, INT_MAX,
    INT_MIN, or stepped by 1. Full: every change at every offset of the first 64 bytes (fields are
    not always aligned: FLAC packs bits), then every 4th offset with a seeded choice of change."""
    last = min(HEADER, len(source.data)) - 4  # the last offset a field fits at
    if last < 0:
        return []
    order = "<" if little_endian(source.kind) else ">"
    names = sorted(FIELD_CHANGES)
    if full:
        plan = [(pos, name) for pos in range(min(64, last + 1)) for name in names]
        plan += [(pos, rng.choice(names)) for pos in range(64, last + 1, 4)]
    else:
        plan = [(pos, rng.choice(names)) for pos in rng.sample(range(min(64, last + 1)), min(6, last + 1))]
        plan += [(pos, rng.choice(names)) for pos in rng.sample(range(64, max(64, last + 1)), min(2, max(0, last - 63)))]
    mutants, seen = [], set()
    for pos, name in plan:
        old = source.data[pos:pos + 4]
        new = struct.pack(order + "I", FIELD_CHANGES[name](struct.unpack(order + "I", old)[0]))
        if new != old and (pos, new) not in seen:
            seen.add((pos, new))
            mutants.append(flip_mutant(source, "field32", pos, name, old, new, pages,
                                       ", %s-endian" % ("little" if order == "<" else "big")))
    return mutants


def granule_mutants(source, rng, full, pages):
    """Ogg granule positions (the end time of a page's last packet; Opus and Vorbis trim the end of
    the stream by the last one) changed, the page resealed so that libogg accepts it. The last two
    pages get the most changes: a granule there sets the length of the whole stream.
    Full: every page once (a seeded choice of change), every change on the last two pages."""
    if not pages:
        return []
    names = list(GRANULE_CHANGES)
    last_two = range(max(0, len(pages) - 2), len(pages))
    if full:
        plan = [(i, rng.choice(names)) for i in range(len(pages))]
        plan += [(i, name) for i in last_two for name in names]
    else:
        plan = [(i, name) for i in last_two for name in rng.sample(names, 3)]
        plan += [(i, rng.choice(names)) for i in rng.sample(range(len(pages)), min(2, len(pages)))]
    mutants, seen = [], set()
    for i, name in plan:
        page = pages[i]
        old = struct.unpack_from("<q", source.data, page + 6)[0]
        new = GRANULE_CHANGES[name](old)
        if new == old or not -2**63 <= new < 2**63 or (i, new) in seen:
            continue
        seen.add((i, new))
        patches = resealed(source.data, page, [(page + 6, struct.pack("<q", new))])
        mutants.append(Mutant(source, "granule", page, name,
                              "page %d at %d, granule %d -> %d (%s), page checksum recomputed" % (i, page, old, new, name),
                              patches=patches))
    return mutants


MUTATORS = (("cut", cut_mutants), ("byte", byte_mutants), ("field32", field_mutants), ("granule", granule_mutants))


def mutants_of(source, seed, full):
    """Every mutant of a source. Each source has its own seeded generator, so its mutants are the
    same whatever other sources are swept."""
    rng = random.Random("%d:%s" % (seed, source.name))
    pages = ogg_pages(source.data) if source.kind.startswith("ogg") else []
    return [m for _, mutate in MUTATORS for m in mutate(source, rng, full, pages)]


# ---- running fingerprint() --------------------------------------------------------------------

class Backend:
    """One connection, so one server backend, fingerprinting inputs and reporting the outcome:
    ("fingerprint", afp_send bytes), ("error", SQLSTATE, message) or ("lost", message)."""

    def __init__(self, database):
        self.database = database
        self.conn = None

    def connect(self):
        deadline = time.time() + RECONNECT_SECONDS
        while True:
            try:
                self.conn = devlib.connect(self.database)
                break
            except psycopg2.OperationalError:
                # After a crash the postmaster ends every backend and recovers before it accepts
                # connections again.
                if time.time() > deadline:
                    raise
                time.sleep(1)
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("SET statement_timeout = '%s'" % STATEMENT_TIMEOUT)
            # psycopg2 inlines the audio into the statement text, and the server logs the text of
            # every failed statement: thousands of rejected mutants would write gigabytes of hex.
            cur.execute("SET log_min_error_statement = panic")

    def fingerprint(self, data):
        if self.conn is None or self.conn.closed:
            self.connect()
        try:
            with self.conn.cursor() as cur:
                cur.execute("SELECT afp_send(fingerprint(%s))", (psycopg2.Binary(data),))
                return ("fingerprint", bytes(cur.fetchone()[0]))
        except psycopg2.Error as e:
            if self.conn.closed:
                return ("lost", (str(e).strip().splitlines() or [type(e).__name__])[0])
            return ("error", e.pgcode, e.diag.message_primary)

    def close(self):
        if self.conn is not None and not self.conn.closed:
            self.conn.close()


class Progress:
    """A line on stderr every 15 seconds: long sweeps would otherwise be silent."""

    def __init__(self, what, total):
        self.what, self.total, self.done = what, total, 0
        self.start = self.last = time.time()
        self.lock = threading.Lock()

    def tick(self):
        with self.lock:
            self.done += 1
            now = time.time()
            if now - self.last >= 15:
                self.last = now
                print("  %s: %d/%d statements, %.0f s" % (self.what, self.done, self.total, now - self.start),
                      file=sys.stderr, flush=True)


def run_backends(database, inputs, orders, what):
    """Fingerprints inputs[i] for every i of orders[k] in backend k, all backends at once; returns
    outcomes[k][i]. A crash ends every backend, so the others lose their statement too: inputs
    whose connection was lost are fingerprinted again afterwards, one at a time, and only a loss
    then counts."""
    outcomes = [{} for _ in orders]
    progress = Progress(what, sum(len(o) for o in orders))

    def work(k):
        backend = Backend(database)
        try:
            for i in orders[k]:
                outcomes[k][i] = backend.fingerprint(inputs[i].build())
                progress.tick()
        finally:
            backend.close()

    with concurrent.futures.ThreadPoolExecutor(len(orders)) as pool:
        for future in [pool.submit(work, k) for k in range(len(orders))]:
            future.result()
    for k, done in enumerate(outcomes):
        lost = [i for i in orders[k] if done[i][0] == "lost"]
        if lost:
            backend = Backend(database)
            for i in lost:
                done[i] = backend.fingerprint(inputs[i].build())
            backend.close()
    return outcomes


def describe(outcome):
    if outcome[0] == "fingerprint":
        return "fingerprint of %d bytes (sha1 %s)" % (len(outcome[1]), hashlib.sha1(outcome[1]).hexdigest()[:12])
    if outcome[0] == "error":
        return "SQLSTATE %s %s" % (outcome[1], outcome[2])
    return "connection lost (backend crash?): %s" % outcome[1]


# ---- the two tests ----------------------------------------------------------------------------

class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def result(self, ok, name, diagnostics=()):
        self.n += 1
        self.failed += not ok
        print("%sok %d - %s" % ("" if ok else "not ", self.n, name))
        for line in diagnostics:
            print("#   " + line)
        sys.stdout.flush()


def determinism(database, sources, backends, seed, tap):
    """Same bytes or same error for every fixture in every backend, whatever came before it."""
    orders = []
    for k in range(backends):
        order = list(range(len(sources)))
        random.Random(seed * 1000 + k).shuffle(order)
        orders.append(order)
    print("# determinism: %d inputs in %d backends, each in its own order" % (len(sources), backends), flush=True)
    outcomes = run_backends(database, sources, orders, "determinism")
    for i, source in enumerate(sources):
        seen = [outcomes[k][i] for k in range(backends)]
        ok = all(o == seen[0] for o in seen) and seen[0][0] != "lost"
        tap.result(ok, "determinism: %s" % source.name,
                   [] if ok else ["backend %d: %s" % (k, describe(o)) for k, o in enumerate(seen)])
    return {s.name: outcomes[0][i] for i, s in enumerate(sources)}


def judge(mutant, a, b):
    """None if the two outcomes of a mutant are acceptable, else what is wrong."""
    if a != b:
        return "backends disagree: A gave %s; B gave %s" % (describe(a), describe(b))
    if a[0] == "lost":
        return describe(a)
    if a[0] == "error" and a[1] not in DOCUMENTED_SQLSTATES:
        return "undocumented error: %s" % describe(a)
    if a[0] == "fingerprint" and mutant.must_reject:
        return "a prefix cutting into the audio was accepted (%s), not rejected as truncated" % describe(a)
    return None


def sweep(database, mutants, tap):
    """Each mutant in backend A (in order) and B (in reverse order, at the same time), judged.
    Returns per-kind counts for the summary and the failures."""
    print("# mutation sweep: %d mutants in 2 backends, in opposite orders" % len(mutants), flush=True)
    a, b = run_backends(database, mutants, [list(range(len(mutants))), list(range(len(mutants)))[::-1]], "sweep")
    shutil.rmtree(FAILURE_DIR, ignore_errors=True)
    summary, failures, groups = {}, [], {}
    for i, m in enumerate(mutants):
        why = judge(m, a[i], b[i])
        row = summary.setdefault(m.kind, {"inputs": 0, "errors": {}, "fingerprints": 0, "failures": 0})
        row["inputs"] += 1
        if why:
            row["failures"] += 1
            os.makedirs(FAILURE_DIR, exist_ok=True)
            path = os.path.join(FAILURE_DIR, m.file_name())
            with open(path, "wb") as f:
                f.write(m.build())
            failures.append((m, why, path))
        elif a[i][0] == "error":
            row["errors"][a[i][1]] = row["errors"].get(a[i][1], 0) + 1
        else:
            row["fingerprints"] += 1
        groups.setdefault((m.source.name, m.kind), []).append((m, why))
    for (name, kind), members in groups.items():
        bad = [(m, why) for m, why in members if why]
        tap.result(not bad, "mutants: %s %s (%d inputs%s)" % (name, kind, len(members),
                                                              ", %d failed" % len(bad) if bad else ""),
                   ["%s: %s" % (m.description, why) for m, why in bad])
    return summary, failures


def print_summary(summary, failures, elapsed):
    print()
    print("| kind of mutant | inputs | errors by SQLSTATE | fingerprints | failures |")
    print("|---|---|---|---|---|")
    total = {"inputs": 0, "errors": {}, "fingerprints": 0, "failures": 0}
    rows = [(kind, summary[kind]) for kind, _ in MUTATORS if kind in summary]
    for _, row in rows:
        for key in ("inputs", "fingerprints", "failures"):
            total[key] += row[key]
        for state, n in row["errors"].items():
            total["errors"][state] = total["errors"].get(state, 0) + n
    for label, row in rows + [("all", total)]:
        errors = ", ".join("%s: %d" % kv for kv in sorted(row["errors"].items())) or "0"
        print("| %s | %d | %s | %d | %d |" % (label, row["inputs"], errors, row["fingerprints"], row["failures"]))
    print()
    if failures:
        print("Failures (inputs saved in %s):" % FAILURE_DIR)
        for m, why, path in failures:
            print("- %s: %s [%s]" % (m.description, why, os.path.basename(path)))
        print()
    print("mutation sweep: %d mutants, %d failures, %.0f s" % (total["inputs"], total["failures"], elapsed))


def ensure_database(database):
    """The database to run in: created if missing (from the maintenance database postgres), with
    the extension."""
    admin = devlib.connect("postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    admin.close()
    conn = devlib.connect(database)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS afp")
    conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--short", dest="full", action="store_false",
                      help="one fixture per container, ~300 mutants, under a minute (the default)")
    mode.add_argument("--full", dest="full", action="store_true",
                      help="every fixture, every header byte: tens of thousands of mutants, tens of minutes")
    ap.set_defaults(full=False)
    ap.add_argument("--fixtures", default=os.environ.get("AFP_FIXTURES", os.path.join(ROOT, "test", "data")))
    ap.add_argument("--database", default="afp_mutation", help="created with the extension if missing")
    ap.add_argument("--backends", type=int, default=3, help="backends of the determinism test")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    sources = load_sources(args.fixtures)
    if not sources:
        sys.exit("mutation-sweep: no audio fixtures in %s (scripts/make-fixtures writes them)" % args.fixtures)
    ensure_database(args.database)
    start = time.time()
    tap = Tap()
    first = determinism(args.database, sources, args.backends, args.seed, tap)

    if args.full:
        swept = sources
    else:
        # One source per container, preferably one that fingerprints, preferably a song.
        swept = {}
        for s in sorted(sources, key=lambda s: (first[s.name][0] != "fingerprint", not s.name.startswith("song"), s.name)):
            swept.setdefault(s.kind, s)
        swept = sorted(swept.values(), key=lambda s: s.name)
    print("# swept: %s" % ", ".join("%s (%s)" % (s.name, s.kind) for s in swept), flush=True)
    mutants = [m for s in swept for m in mutants_of(s, args.seed, args.full)]
    summary, failures = sweep(args.database, mutants, tap)
    print("1..%d" % tap.n)
    print_summary(summary, failures, time.time() - start)
    sys.exit(1 if tap.failed else 0)


if __name__ == "__main__":
    main()
