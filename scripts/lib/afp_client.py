"""What the scripts share: finding audio files, connecting, reporting errors, reading a backend's
CPU time and memory from /proc (the benchmarks and the soak run on the server host)."""
import os
import sys

import psycopg2

AUDIO_EXTENSIONS = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".caf", ".w64"}


def audio_files(paths):
    """Files given, and audio files under directories given (recursively), sorted, once each."""
    seen = set()
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                for n in sorted(names):
                    f = os.path.join(root, n)
                    if os.path.splitext(n)[1].lower() in AUDIO_EXTENSIONS and f not in seen:
                        seen.add(f)
                        out.append(f)
        elif p not in seen:
            seen.add(p)
            out.append(p)
    return out


def connect(dsn):
    """A connection by libpq conventions: a URI or key=value string, else the PG* environment."""
    if dsn and "=" not in dsn and "://" not in dsn:
        dsn = "dbname=" + dsn  # a bare database name, as psql -d takes it
    conn = psycopg2.connect(dsn or "")
    conn.autocommit = True
    return conn


def describe(error):
    """One line for a database error: SQLSTATE, message and detail."""
    if isinstance(error, psycopg2.Error) and error.pgcode:
        detail = error.diag.message_detail
        return "%s %s%s" % (error.pgcode, error.diag.message_primary, (": " + detail) if detail else "")
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(2)


def backend_cpu(pid):
    """User + system CPU seconds of a backend, from /proc (the benchmark runs on the server host)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid):
    vals = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if v.strip().endswith("kB"):
                vals[k] = int(v.split()[0])
    return vals
