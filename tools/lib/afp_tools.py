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
    database name (as psql -d takes it), else the PG* environment. Raises afp.AfpNotInstalled when
    the database has no afp, which says what to do (rather than "function ... does not exist")."""
    if dsn and "=" not in dsn and "://" not in dsn:
        dsn = "dbname=" + dsn
    conn = psycopg.connect(dsn or "", autocommit=True)
    if not conn.execute("SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'afp')").fetchone()[0]:
        name = conn.info.dbname
        conn.close()
        raise afp.AfpNotInstalled(detail='The database "%s" has no extension afp.' % name)
    return conn


def _line(sqlstate, message, detail, hint):
    return "".join((sqlstate + " " if sqlstate else "", message or "", ": " + detail if detail else "",
                    " Hint: " + hint if hint else ""))


def describe(error):
    """One line for a database error: SQLSTATE, message, and the server's detail and hint."""
    if isinstance(error, afp.AfpError):
        return _line(error.sqlstate, error.message, error.detail, error.hint)
    diag = getattr(error, "diag", None)
    if getattr(error, "sqlstate", None) and diag is not None:
        return _line(error.sqlstate, diag.message_primary, diag.message_detail, diag.message_hint)
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(2)


def audio_files(paths, passed_over=None):
    """Files given, and audio files under directories given (recursively), sorted, once each.
    Files under the directories that are not taken for audio (by their extension: images, tracker
    modules, playlists) are appended to passed_over when it is a list, so a tool can say so."""
    seen = set()
    out = []
    for p in paths:
        if os.path.isdir(p):
            for top, _, names in os.walk(p):
                for n in sorted(names):
                    f = os.path.join(top, n)
                    if os.path.splitext(n)[1].lower() not in AUDIO_EXTENSIONS:
                        if passed_over is not None:
                            passed_over.append(f)
                    elif f not in seen:
                        seen.add(f)
                        out.append(f)
        elif p not in seen:
            seen.add(p)
            out.append(p)
    return out
