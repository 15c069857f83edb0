"""afp values in asyncpg: a type codec for Fingerprint, binary by default.

    import asyncpg, afp.asyncpg
    conn = await asyncpg.connect(database="music")
    await afp.asyncpg.register_afp(conn)                    # format="text" for the text form
    fp = await conn.fetchval("SELECT fingerprint($1)", audio)   # a Fingerprint

With a pool, register in its ``init`` callback: ``asyncpg.create_pool(..., init=afp.asyncpg.register_afp)``.
"""
from __future__ import annotations

from typing import Optional

from . import errors
from .fingerprint import Fingerprint

__all__ = ["register_afp", "translate"]


async def register_afp(conn, format: str = "binary", schema: Optional[str] = None):
    """Sets the codec for afp on an asyncpg connection. The schema defaults to the one the
    extension was created in."""
    if format not in ("binary", "text"):
        raise ValueError("format must be 'binary' or 'text'")
    if schema is None:
        schema = await conn.fetchval(
            "SELECT n.nspname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE t.oid = to_regtype('afp')")
        if schema is None:
            raise errors.AfpNotInstalled(detail="type afp not found")
    if format == "binary":
        await conn.set_type_codec("afp", schema=schema, encoder=Fingerprint.to_binary,
                                  decoder=Fingerprint.from_binary, format="binary")
    else:
        await conn.set_type_codec("afp", schema=schema, encoder=Fingerprint.to_text,
                                  decoder=Fingerprint.from_text, format="text")


def translate(exc: BaseException, statement: Optional[str] = None, audio: Optional[bytes] = None):
    """The afp exception (an afp.errors.AfpError) for an asyncpg.PostgresError raised by the afp
    statement named (a key of afp.errors.STATEMENTS, e.g. "match_clip"), or None when it is not one of that statement's errors;
    without a statement, only errors raised by the extension's own code are translated
    (afp.errors.translate)."""
    return errors.translate(exc, statement, audio)
