"""afp's errors as Python exceptions, one class per kind of problem, chosen by the SQLSTATE and the
afp statement that raised it.

The extension reports what went wrong with documented SQLSTATEs (docs/sql-reference.md, "Errors"),
so an application can react without reading messages. Most of those SQLSTATEs are generic (42P01
is any missing table, 57014 any cancelled statement, 22P02 any malformed value), so a SQLSTATE
means an afp error only when an afp statement raised it: ``translate(exc, statement)`` takes the
name of the afp statement that ran (``STATEMENTS``; the clients name theirs), and maps only the
SQLSTATEs that statement reports. Without a statement, only errors raised inside the extension's
own code (the error's source file is one of afp's) are translated.

======================  =========================  ==============================================
class                   SQLSTATE                   when
======================  =========================  ==============================================
InvalidParameter        22023                      empty audio, max_results < 1, match_segments
                                                   window, index options, mixed parameter sets
EmptyAudio              22023 (subclass)           the audio sent was empty (known from the
                                                   statement's argument: ``audio=``)
UnreadableAudio         22000                      not an accepted format, invalid header,
                                                   truncated, no samples, NaN samples, silent
SilentAudio             22000 (subclass)           ``audio is silent``
MalformedFingerprint    22P02 (text), 22P03 (bin)  an afp value failing validation
LimitExceeded           54000                      afp.max_audio_bytes / _seconds / _samples,
                                                   afp.max_clip_seconds, afp.max_query_hashes
InvalidCatalog          42P01 42703 42702 42809    the catalogue argument is not a usable table
CatalogExists           42P07 (subclass)           afp_create_catalog() of a table that exists
InsufficientPrivilege   42501                      the caller may not read the catalogue, or
                                                   run a function (afp_index_check)
QueryCanceled           57014                      statement_timeout, pg_cancel_backend
ResourceExhausted       53200                      the analysis could not allocate memory
CorruptedData           XX001 XX002                a stored value or an index is corrupted
IndexOutdated           0A000                      an afp_landmark index built by afp 0.3.0-0.5.0,
                                                   before ALTER EXTENSION afp UPDATE rebuilt it
ReadOnly                25006                      afp_index_merge() (or learn/forget) on a standby
ShardError              42704 55000 08P01          afp_shards: no shards configured, a shard
                                                   without its index, mismatched versions
ShardUnavailable        08006 (subclass)           afp_shards: a shard could not be reached
AfpNotInstalled         42883 42704 (42P01)        an afp function, the afp type (or the default
                                                   catalogue) does not exist: the extension is not
                                                   installed in this database
======================  =========================  ==============================================

Every class derives from AfpError, which keeps the SQLSTATE, the primary message, the detail and
the hint the server sent (``str()`` shows all three, as psql does) and, as ``__cause__``, the
driver's exception. ``translate`` accepts an exception of psycopg 3, psycopg2 or asyncpg;
``afp.psycopg.translate``, ``afp.psycopg2.translate`` and ``afp.asyncpg.translate`` are the same.

The one subclass still told apart by the server's words is SilentAudio: the server reports silent
and undecodable audio with the same SQLSTATE (22000) from the same statements, and sends nothing
else that tells them apart.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple, Type

__all__ = ["AfpError", "InvalidParameter", "EmptyAudio", "UnreadableAudio", "SilentAudio", "MalformedFingerprint",
           "LimitExceeded", "InvalidCatalog", "CatalogExists", "InsufficientPrivilege", "QueryCanceled", "ResourceExhausted",
           "CorruptedData", "IndexOutdated", "ReadOnly", "ShardError", "ShardUnavailable", "AfpNotInstalled",
           "STATEMENTS", "SQLSTATES", "NOT_INSTALLED", "class_for", "server_message", "from_fields", "from_exception", "translate"]

NOT_INSTALLED = "afp is not installed in this database: CREATE EXTENSION afp"


class AfpError(Exception):
    """An error reported by the afp extension (or by this package about an afp value)."""

    sqlstates: Tuple[str, ...] = ()

    def __init__(self, message: str = "", sqlstate: Optional[str] = None, detail: Optional[str] = None,
                 hint: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint

    def __str__(self) -> str:
        # The server's advice travels with the message: psql's layout, which users know.
        return self.message + "".join("\n%s: %s" % (k, v) for k, v in (("DETAIL", self.detail), ("HINT", self.hint))
                                      if v)


class InvalidParameter(AfpError, ValueError):
    sqlstates = ("22023",)


class EmptyAudio(InvalidParameter):
    pass


class UnreadableAudio(AfpError, ValueError):
    sqlstates = ("22000",)


class SilentAudio(UnreadableAudio):
    pass


class MalformedFingerprint(AfpError, ValueError):
    sqlstates = ("22P02", "22P03")


class LimitExceeded(AfpError):
    sqlstates = ("54000",)


class InvalidCatalog(AfpError):
    sqlstates = ("42P01", "42703", "42702", "42809")


class CatalogExists(InvalidCatalog):
    """afp_create_catalog() of a table that exists (a catalogue is made once)."""
    sqlstates = ("42P07",)


class InsufficientPrivilege(AfpError, PermissionError):
    sqlstates = ("42501",)


class QueryCanceled(AfpError):
    sqlstates = ("57014",)


class ResourceExhausted(AfpError, MemoryError):
    sqlstates = ("53200",)


class CorruptedData(AfpError):
    sqlstates = ("XX001", "XX002")


class IndexOutdated(AfpError):
    """An afp_landmark index of an older layout: ALTER EXTENSION afp UPDATE (or REINDEX) rebuilds it."""
    sqlstates = ("0A000",)


class ReadOnly(AfpError):
    """A change a standby cannot make (afp_index_merge during recovery): make it on the primary."""
    sqlstates = ("25006",)


class ShardError(AfpError):
    """A sharded catalogue (afp_shards) cannot answer: misconfigured or mismatched shards."""
    sqlstates: Tuple[str, ...] = ("42704", "55000", "08P01")


class ShardUnavailable(ShardError, ConnectionError):
    """A shard could not be reached or its connection broke (the detail names it)."""
    sqlstates = ("08006",)


class AfpNotInstalled(AfpError):
    """The database has no afp: its functions, its type or its catalogue do not exist. The message says
    what to do (CREATE EXTENSION afp); the detail keeps what the server said."""
    sqlstates = ("42883",)

    def __init__(self, message: str = NOT_INSTALLED, sqlstate: Optional[str] = None, detail: Optional[str] = None,
                 hint: Optional[str] = None):
        super().__init__(message, sqlstate, detail, hint)


Table = Dict[str, Type[AfpError]]


def _states(*classes: Type[AfpError]) -> Table:
    return {s: cls for cls in classes for s in cls.sqlstates}


# What each kind of afp statement reports (docs/sql-reference.md, "Errors"), by SQLSTATE.
_MISSING: Table = {"42883": AfpNotInstalled, "42704": AfpNotInstalled}   # no such function / type afp
_AUDIO = _states(InvalidParameter, UnreadableAudio, LimitExceeded, ResourceExhausted, QueryCanceled)
_CATALOG = _states(InvalidCatalog, InsufficientPrivilege, QueryCanceled)
_INDEX = _states(CorruptedData, IndexOutdated, LimitExceeded)
_VALUE = _states(MalformedFingerprint)
_SHARDS = _states(ShardError, ShardUnavailable)
_MATCH = {**_MISSING, **_AUDIO, **_CATALOG, **_INDEX}
_INDEX_TOOLS = {**_MISSING, **_states(InvalidCatalog, InsufficientPrivilege, QueryCanceled, CorruptedData,
                                      IndexOutdated, ReadOnly)}

STATEMENTS: Dict[str, Table] = {
    "fingerprint": {**_MISSING, **_AUDIO},                                # fingerprint(audio)
    "learn": {**_MISSING, **_AUDIO, **_CATALOG, **_INDEX, **_states(ReadOnly)},  # INSERT ... fingerprint(audio)
    "match_clip": _MATCH,
    "match_segments": _MATCH,
    "match_afp": {**_MATCH, **_VALUE},
    "forget": {**_CATALOG, **_states(ReadOnly), "42P01": InvalidCatalog},  # DELETE FROM the catalogue
    "afp_catalog_stats": {**_MISSING, **_CATALOG},
    "afp_create_catalog": {**_MISSING, **_states(CatalogExists, InsufficientPrivilege, QueryCanceled, ReadOnly)},
    "afp_index_check": _INDEX_TOOLS,
    "afp_index_stats": _INDEX_TOOLS,
    "afp_index_merge": _INDEX_TOOLS,
    "afp_value": {**_MISSING, **_VALUE, **_states(CorruptedData)},       # an afp value in or out, afp_* of one
    "afp_shards": {**_MATCH, **_SHARDS},                                  # afp_shards.match_*, afp_shard_*
}

# The SQLSTATEs afp reports at all (docs/sql-reference.md's table, and 53200 from src/pg/errors.c).
_ANY: Table = {s: cls for table in STATEMENTS.values() for s, cls in table.items() if cls is not AfpNotInstalled}
_ANY.update(_SHARDS)
SQLSTATES = tuple(sorted(_ANY))

# Errors raised by the extension's own C code carry one of these source files (the server sends the
# base name of __FILE__): without a statement, only they are afp's.
AFP_SOURCE_FILES = frozenset(("coordinator.c", "errors.c", "fingerprint.c", "gin.c", "localsource.c", "match.c",
                              "module.c", "search.c", "shard.c", "type.c"))


def _is_afp_source(filename: Optional[str]) -> bool:
    if not filename:
        return False
    return filename in AFP_SOURCE_FILES or filename.startswith("landmark")


def class_for(sqlstate: Optional[str], statement: Optional[str] = None, audio: Optional[bytes] = None,
              message: str = "") -> Optional[Type[AfpError]]:
    """The AfpError subclass for a SQLSTATE raised by an afp statement (a key of STATEMENTS; None: any of
    afp's), or None when that statement does not report that SQLSTATE. ``audio``: the audio the
    statement sent, when it sent some (empty audio is EmptyAudio)."""
    if sqlstate is None:
        return None
    if statement is None:
        cls = _ANY.get(sqlstate)
    else:
        try:
            cls = STATEMENTS[statement].get(sqlstate)
        except KeyError:
            raise ValueError("unknown afp statement %r (one of %s)" % (statement, ", ".join(sorted(STATEMENTS))))
    if cls is InvalidParameter and audio is not None and len(audio) == 0:
        return EmptyAudio
    if cls is UnreadableAudio and message == "audio is silent":
        return SilentAudio
    return cls


def from_fields(sqlstate, message, detail=None, hint=None, cause=None, statement=None, audio=None) -> Optional[AfpError]:
    cls = class_for(sqlstate, statement, audio, message or "")
    if cls is None:
        return None
    if cls is AfpNotInstalled:
        # The server's words become the detail: they say which object was missing.
        err = cls(sqlstate=sqlstate, detail=message, hint=hint)
    else:
        err = cls(message or "", sqlstate=sqlstate, detail=detail, hint=hint)
    err.__cause__ = cause
    return err


def _fields(exc: BaseException):
    """(sqlstate, message, detail, hint, source file) of a psycopg 3, psycopg2 or asyncpg exception."""
    diag = getattr(exc, "diag", None)
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if sqlstate is None and diag is not None:
        sqlstate = getattr(diag, "sqlstate", None)
    if diag is not None:  # psycopg 3 and psycopg2
        return sqlstate, diag.message_primary, diag.message_detail, diag.message_hint, diag.source_file
    # asyncpg
    return (sqlstate, getattr(exc, "message", str(exc)), getattr(exc, "detail", None), getattr(exc, "hint", None),
            getattr(exc, "server_source_filename", None))


def server_message(exc: BaseException) -> Optional[str]:
    """The primary message of a driver's exception, as the server sent it."""
    return _fields(exc)[1]


def from_exception(exc: BaseException, statement: Optional[str] = None,
                   audio: Optional[bytes] = None) -> Optional[AfpError]:
    """The afp error for a psycopg 3, psycopg2 or asyncpg exception raised by the afp statement named
    (a key of STATEMENTS), or None when it is not one of that statement's errors (a lost connection,
    a syntax error, an error of another statement): re-raise those as they are. Without a statement,
    only errors raised by the extension's own code are translated."""
    if isinstance(exc, AfpError):
        return exc
    sqlstate, message, detail, hint, source = _fields(exc)
    if sqlstate is None:
        return None
    if statement is None and not _is_afp_source(source):
        return None
    return from_fields(sqlstate, message, detail, hint, cause=exc, statement=statement, audio=audio)


translate = from_exception
