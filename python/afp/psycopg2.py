"""afp values in psycopg2: Fingerprint in and out, in the text form (psycopg2 has no binary
protocol).

    import psycopg2, afp.psycopg2
    conn = psycopg2.connect("dbname=music")
    afp.psycopg2.register_afp(conn)
    cur.execute("SELECT fingerprint(%s)", [psycopg2.Binary(audio)]); cur.fetchone()[0]  # a Fingerprint

The result caster is registered for that connection only (``globally=True`` for every
connection); the parameter adapter for Fingerprint is process-wide, as psycopg2's adapters are.
Values are sent as ``'...'::afp`` literals. psycopg2 inlines parameters into the statement text,
so failed statements log them: see docs/sql-reference.md on sending audio as bytea.
"""
from __future__ import annotations

from typing import Optional

import psycopg2
import psycopg2.extensions

from . import errors
from .fingerprint import Fingerprint

__all__ = ["register_afp", "translate"]


class _AfpAdapter:
    def __init__(self, fp: Fingerprint):
        self.fp = fp

    def getquoted(self):
        return b"'" + self.fp.to_text().encode("ascii") + b"'::afp"


def _cast(value, cur):
    if value is None:
        return None
    return Fingerprint.from_text(value)


def register_afp(conn_or_cursor, name: str = "afp", globally: bool = False):
    """Looks up afp's OID on the connection and registers the caster; returns the OID."""
    cur = conn_or_cursor.cursor() if hasattr(conn_or_cursor, "cursor") else conn_or_cursor
    try:
        cur.execute("SELECT to_regtype(%s)::oid", (name,))
        row = cur.fetchone()
    finally:
        if cur is not conn_or_cursor:
            cur.close()
    if row is None or row[0] is None:
        raise errors.AfpNotInstalled(detail="type %s not found" % name)
    oid = row[0]
    caster = psycopg2.extensions.new_type((oid,), "AFP", _cast)
    psycopg2.extensions.register_type(caster, None if globally else conn_or_cursor)
    psycopg2.extensions.register_adapter(Fingerprint, _AfpAdapter)
    return oid


def translate(exc: BaseException, statement: Optional[str] = None, audio: Optional[bytes] = None):
    """The afp exception (an afp.errors.AfpError) for a psycopg2.Error raised by the afp statement named (a key
    of afp.errors.STATEMENTS, e.g. "match_clip"), or None when it is not one of that statement's errors;
    without a statement, only errors raised by the extension's own code are translated
    (afp.errors.translate)."""
    return errors.translate(exc, statement, audio)
