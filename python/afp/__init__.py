"""afp: Python support for the afp PostgreSQL extension (audio fingerprints and recognition).

- ``Fingerprint``: an afp value, parsed from and written to its text and binary forms;
- adapters: ``afp.psycopg.register_afp(conn)``, ``afp.psycopg2.register_afp(conn)``,
  ``await afp.asyncpg.register_afp(conn)``, and ``afp.sqlalchemy`` (type AFP, match_clip);
- ``afp.errors``: one exception class per kind of error afp reports, by SQLSTATE and the afp
  statement that raised it; ``afp.errors.translate(exc, statement)``;
- ``Client`` / ``AsyncClient`` / ``AsyncpgClient``: learn, recognize, forget, stats.

The driver modules import their driver only when imported themselves.
"""
from .errors import (AfpError, AfpNotInstalled, CatalogExists, CorruptedData, EmptyAudio, IndexOutdated, InsufficientPrivilege, InvalidCatalog,
                     InvalidParameter, LimitExceeded, MalformedFingerprint, QueryCanceled, ReadOnly,
                     ResourceExhausted, ShardError, ShardUnavailable, SilentAudio, UnreadableAudio)
from .fingerprint import Fingerprint
from .client import AsyncClient, AsyncpgClient, CatalogStats, Client, Match

__version__ = "0.7.0"

__all__ = ["Fingerprint", "Client", "AsyncClient", "AsyncpgClient", "Match", "CatalogStats", "AfpError",
           "InvalidParameter", "EmptyAudio", "UnreadableAudio", "SilentAudio", "MalformedFingerprint",
           "LimitExceeded", "InvalidCatalog", "CatalogExists", "InsufficientPrivilege", "QueryCanceled",
           "ResourceExhausted", "CorruptedData", "IndexOutdated", "ReadOnly", "ShardError", "ShardUnavailable",
           "AfpNotInstalled", "__version__"]
