"""afp values in psycopg 3: text and binary loaders and dumpers for Fingerprint.

    import psycopg, afp.psycopg
    conn = psycopg.connect("dbname=music")
    afp.psycopg.register_afp(conn)          # await afp.psycopg.register_afp_async(aconn)
    fp = conn.execute("SELECT fingerprint(%b)", [audio]).fetchone()[0]      # a Fingerprint
    conn.execute("SELECT afp_duration(%b)", [fp])                          # sent in binary
    conn.cursor(binary=True).execute("SELECT fp FROM afp_tracks")          # received in binary

Registration looks the type's OID up on that connection (``afp`` through the search path, or a
schema-qualified name), and applies to the connection or cursor given and what it creates later.
"""
from __future__ import annotations

from typing import Optional

from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format
from psycopg.types import TypeInfo

from . import errors
from .fingerprint import Fingerprint

__all__ = ["register_afp", "register_afp_async", "translate"]


class AfpTextLoader(Loader):
    format = Format.TEXT

    def load(self, data):
        return Fingerprint.from_text(bytes(data).decode("ascii"))


class AfpBinaryLoader(Loader):
    format = Format.BINARY

    def load(self, data):
        return Fingerprint.from_binary(data)


class AfpTextDumper(Dumper):
    format = Format.TEXT

    def dump(self, obj):
        return obj.to_text().encode("ascii")


class AfpBinaryDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj):
        return obj.to_binary()


def _register(context, info, name):
    if info is None:
        raise errors.AfpNotInstalled(detail="type %s not found" % name)
    info.register(context)  # by name too: COPY's set_types(["afp"])
    adapters = context.adapters
    # Dumpers carry the OID, so a Fingerprint parameter is typed afp, not unknown.
    adapters.register_dumper(Fingerprint, type("AfpTextDumper", (AfpTextDumper,), {"oid": info.oid}))
    adapters.register_dumper(Fingerprint, type("AfpBinaryDumper", (AfpBinaryDumper,), {"oid": info.oid}))
    adapters.register_loader(info.oid, AfpTextLoader)
    adapters.register_loader(info.oid, AfpBinaryLoader)
    return info


def register_afp(context, name: str = "afp"):
    """Registers afp's adapters on a psycopg 3 Connection or Cursor; returns the TypeInfo."""
    return _register(context, TypeInfo.fetch(context, name), name)


async def register_afp_async(context, name: str = "afp"):
    """The same for an AsyncConnection or AsyncCursor."""
    return _register(context, await TypeInfo.fetch(context, name), name)


def translate(exc: BaseException, statement: Optional[str] = None, audio: Optional[bytes] = None):
    """The afp exception (an afp.errors.AfpError) for a psycopg.Error raised by the afp statement named (a key
    of afp.errors.STATEMENTS, e.g. "match_clip"), or None when it is not one of that statement's errors;
    without a statement, only errors raised by the extension's own code are translated
    (afp.errors.translate)."""
    return errors.translate(exc, statement, audio)
