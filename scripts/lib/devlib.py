"""What the developer scripts share (a module: they import it, never each other's programs): one
way to connect, finding audio files, and a backend's CPU time and memory from /proc (the
benchmarks and the soak run on the server host)."""
import os

import psycopg2

AUDIO_EXTENSIONS = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc"}


def connect(dbname=None, settings=None, **params):
    """The one way the developer scripts connect: libpq conventions (the PG* environment that
    scripts/common.sh sets, overridden by params such as host and port), autocommit, and each
    setting applied with set_config for the session."""
    conn = psycopg2.connect(dbname=dbname, **params) if dbname else psycopg2.connect(**params)
    conn.autocommit = True
    with conn.cursor() as cur:
        for k, v in (settings or {}).items():
            cur.execute("SELECT set_config(%s, %s, false)", (k, str(v)))
    return conn


def ident(name):
    """An identifier quoted for SQL text, as psycopg2.sql.Identifier quotes it (for the statements
    that take no parameters: DDL, VACUUM, table names in FROM)."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(text):
    """A string literal for SQL text (regclass names in statements that pgbench runs)."""
    return "'" + str(text).replace("'", "''") + "'"


def audio_files(directory):
    """The audio files under a directory, recursively, sorted."""
    out = []
    for top, _, names in os.walk(directory):
        out += [os.path.join(top, n) for n in sorted(names) if os.path.splitext(n)[1].lower() in AUDIO_EXTENSIONS]
    return sorted(out)


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
