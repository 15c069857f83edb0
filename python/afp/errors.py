"""afp's errors as Python exceptions, one class per kind of problem, chosen by SQLSTATE.

The extension reports what went wrong with documented SQLSTATEs (docs/sql-reference.md, "Errors"),
so an application can react without reading messages:

======================  =========================  ==============================================
class                   SQLSTATE                   when
======================  =========================  ==============================================
InvalidParameter        22023                      empty audio, max_results < 1, match_segments
                                                   window, index options, mixed parameter sets
EmptyAudio              22023 (subclass)           ``audio data is empty``
UnreadableAudio         22000                      not an accepted format, invalid header,
                                                   truncated, no samples, NaN samples, silent
SilentAudio             22000 (subclass)           ``audio is silent``
MalformedFingerprint    22P02 (text), 22P03 (bin)  an afp value failing validation
LimitExceeded           54000                      afp.max_audio_bytes / _seconds / _samples,
                                                   afp.max_clip_seconds, afp.max_query_hashes
InvalidCatalog          42P01 42703 42702 42809    the catalogue argument is not a usable table
InsufficientPrivilege   42501                      the caller may not read the catalogue, or
                                                   run a function (afp_index_check)
QueryCanceled           57014                      statement_timeout, pg_cancel_backend
ResourceExhausted       53200                      the analysis could not allocate memory
CorruptedData           XX001 XX002                a stored value or an index is corrupted
IndexOutdated           0A000                      an afp_landmark index built by afp 0.3.0-0.5.0,
                                                   before ALTER EXTENSION afp UPDATE rebuilt it
ReadOnly                25006                      afp_index_merge() on a standby
ShardError              42704 55000 08P01          afp_shards: no shards configured, a shard
                                                   without its index, mismatched versions
ShardUnavailable        08006 (subclass)           afp_shards: a shard could not be reached
======================  =========================  ==============================================

Every class derives from AfpError, which keeps the SQLSTATE, the primary message, the detail,
the hint and, as ``__cause__`` when raised by ``translate``, the driver's exception.
``afp.psycopg.translate``, ``afp.psycopg2.translate`` and ``afp.asyncpg.translate`` map a driver's
exception; ``from_exception`` below accepts any of the three.
"""
from __future__ import annotations

from typing import Optional


class AfpError(Exception):
    """An error reported by the afp extension (or by this package about an afp value)."""

    sqlstates: tuple = ()

    def __init__(self, message: str = "", sqlstate: Optional[str] = None, detail: Optional[str] = None,
                 hint: Optional[str] = None):
        super().__init__(message + (": " + detail if detail else ""))
        self.message = message
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint


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
    sqlstates = ("42704", "55000", "08P01")


class ShardUnavailable(ShardError, ConnectionError):
    """A shard could not be reached or its connection broke (the detail names it)."""
    sqlstates = ("08006",)


_BY_SQLSTATE = {s: cls for cls in (InvalidParameter, UnreadableAudio, MalformedFingerprint, LimitExceeded,
                                   InvalidCatalog, InsufficientPrivilege, QueryCanceled, ResourceExhausted,
                                   CorruptedData, IndexOutdated, ReadOnly, ShardError, ShardUnavailable)
                for s in cls.sqlstates}
# Subclasses chosen by the (documented, stable) primary message within one SQLSTATE.
_BY_MESSAGE = {("22023", "audio data is empty"): EmptyAudio, ("22000", "audio is silent"): SilentAudio}

SQLSTATES = tuple(sorted(_BY_SQLSTATE))


def class_for(sqlstate: Optional[str], message: str = "") -> Optional[type]:
    """The AfpError subclass for a SQLSTATE (and primary message), or None when afp does not use it."""
    if sqlstate is None:
        return None
    return _BY_MESSAGE.get((sqlstate, message)) or _BY_SQLSTATE.get(sqlstate)


def from_fields(sqlstate, message, detail=None, hint=None, cause=None) -> Optional[AfpError]:
    cls = class_for(sqlstate, message or "")
    if cls is None:
        return None
    err = cls(message or "", sqlstate=sqlstate, detail=detail, hint=hint)
    err.__cause__ = cause
    return err


def from_exception(exc: BaseException) -> Optional[AfpError]:
    """The afp error for a psycopg 3, psycopg2 or asyncpg exception, or None when it is not one of
    afp's SQLSTATEs (connection failures, syntax errors, ...): re-raise those as they are."""
    if isinstance(exc, AfpError):
        return exc
    diag = getattr(exc, "diag", None)
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if sqlstate is None and diag is not None:
        sqlstate = getattr(diag, "sqlstate", None)
    if sqlstate is None:
        return None
    if diag is not None:  # psycopg 3 and psycopg2
        message, detail, hint = diag.message_primary, diag.message_detail, diag.message_hint
    else:  # asyncpg
        message, detail, hint = getattr(exc, "message", str(exc)), getattr(exc, "detail", None), getattr(exc, "hint", None)
    return from_fields(sqlstate, message, detail, hint, cause=exc)
