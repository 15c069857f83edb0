"""What the user tools (afp-ingest, afp-match, afp-plot) share: the afp Python package, one way to
connect (libpq conventions), one line per database error, and the audio files under the paths given.
A module: the tools import it, never each other."""
import os
import sys

import psycopg

try:
    import afp  # the afp Python package (python/), when it is installed
except ImportError:  # else the copy in this repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import afp  # noqa: E402,F401

AUDIO_EXTENSIONS = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc"}


def connect(dsn):
    """An autocommit psycopg 3 connection by libpq conventions: a URI or key=value string, a bare
    database name (as psql -d takes it), else the PG* environment."""
    if dsn and "=" not in dsn and "://" not in dsn:
        dsn = "dbname=" + dsn
    return psycopg.connect(dsn or "", autocommit=True)


def describe(error):
    """One line for a database error: SQLSTATE, message and detail."""
    if isinstance(error, afp.AfpError):
        return "%s %s%s" % (error.sqlstate, error.message, (": " + error.detail) if error.detail else "")
    diag = getattr(error, "diag", None)
    if getattr(error, "sqlstate", None) and diag is not None:
        detail = diag.message_detail
        return "%s %s%s" % (error.sqlstate, diag.message_primary, (": " + detail) if detail else "")
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(2)


def audio_files(paths):
    """Files given, and audio files under directories given (recursively), sorted, once each."""
    seen = set()
    out = []
    for p in paths:
        if os.path.isdir(p):
            for top, _, names in os.walk(p):
                for n in sorted(names):
                    f = os.path.join(top, n)
                    if os.path.splitext(n)[1].lower() in AUDIO_EXTENSIONS and f not in seen:
                        seen.add(f)
                        out.append(f)
        elif p not in seen:
            seen.add(p)
            out.append(p)
    return out
