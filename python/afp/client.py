"""Small clients for a catalogue: learn a track, recognise a clip, forget a track, size it up.

    from afp import Client
    with Client.connect("dbname=music") as afp:
        song = afp.learn("Song", "song.flac")              # bytes or a path
        for m in afp.recognize(open("clip.mp3", "rb").read()):
            print(m.title, m.offset_s, m.confidence)

``Client`` runs on a psycopg 3 Connection, ``AsyncClient`` on a psycopg 3 AsyncConnection and
``AsyncpgClient`` on an asyncpg connection (or pool); all three have the same methods and raise
afp's exceptions (afp.errors) for afp's SQLSTATEs, the driver's own for anything else (a lost
connection, say). They need no adapters registered: fingerprints come back as text and are
parsed here. Audio always travels as a bound bytea parameter, never inlined in the SQL.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

from . import errors
from .fingerprint import Fingerprint

Audio = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]

__all__ = ["Client", "AsyncClient", "AsyncpgClient", "Match", "CatalogStats"]


@dataclass(frozen=True)
class Match:
    """One row of match_clip / match_afp (docs/sql-reference.md, "Recognition result")."""

    track_id: int
    title: Optional[str]
    score: int
    offset_s: float
    confidence: float
    matched_s: float
    clip_start_s: float
    clip_end_s: float
    track_start_s: float
    track_end_s: float
    speed: float
    tempo: float
    pitch: float


@dataclass(frozen=True)
class CatalogStats:
    """afp_catalog_stats() of the client's catalogue."""

    tracks: int
    hours: float
    landmarks: int
    landmarks_per_second: Optional[float]
    table_bytes: int
    index_bytes: int
    bytes_per_hour: Optional[float]
    param_sets: List[int]


_MATCH_COLUMNS = ", ".join(Match.__dataclass_fields__)
_STATS_COLUMNS = ", ".join(CatalogStats.__dataclass_fields__)


def audio_bytes(audio: Audio) -> bytes:
    """The bytes of audio given as bytes, or as a path (str or os.PathLike) to read."""
    if isinstance(audio, (bytes, bytearray, memoryview)):
        return bytes(audio)
    if isinstance(audio, (str, os.PathLike)):
        with open(audio, "rb") as f:
            return f.read()
    raise TypeError("audio must be bytes or a path, not %s" % type(audio).__name__)


def quote_name(name: str) -> str:
    """A possibly schema-qualified table name as quoted identifiers: 'music.tracks' -> "music"."tracks"."""
    return ".".join('"%s"' % part.replace('"', '""') for part in name.split("."))


class _Statements:
    """The SQL every client runs, with %s placeholders (asyncpg's are numbered from these)."""

    def __init__(self, catalog: str):
        self.catalog = quote_name(catalog)
        self.learn = "INSERT INTO %s (title, fp) VALUES (%%s, fingerprint(%%s)) RETURNING id" % self.catalog
        self.learn_meta = ("INSERT INTO %s (title, fp, meta) VALUES (%%s, fingerprint(%%s), %%s::jsonb) RETURNING id"
                           % self.catalog)
        self.recognize = "SELECT %s FROM match_clip(%%s, %%s::regclass, %%s)" % _MATCH_COLUMNS
        self.match = "SELECT %s FROM match_afp(%%s::text::afp, %%s::regclass, %%s)" % _MATCH_COLUMNS
        self.forget = "DELETE FROM %s WHERE id = %%s" % self.catalog
        self.stats = "SELECT %s FROM afp_catalog_stats(%%s::regclass)" % _STATS_COLUMNS
        self.fingerprint = "SELECT fingerprint(%s)::text"

    def learn_args(self, title, audio, meta):
        data = audio_bytes(audio)
        if meta is None:
            return self.learn, (title, data)
        return self.learn_meta, (title, data, json.dumps(meta))


def _check_max_results(max_results):
    if not isinstance(max_results, int) or isinstance(max_results, bool):
        raise TypeError("max_results must be an int")


def _raise_translated(exc: BaseException):
    err = errors.from_exception(exc)
    if err is None:
        raise exc
    raise err from exc


class Client:
    """A catalogue client on a psycopg 3 Connection."""

    def __init__(self, conn, catalog: str = "afp_tracks"):
        import psycopg
        self._driver_error = psycopg.Error
        self.conn = conn
        self.catalog = catalog
        self._sql = _Statements(catalog)

    @classmethod
    def connect(cls, conninfo: str = "", catalog: str = "afp_tracks", **kwargs) -> "Client":
        """A new autocommit connection by libpq conventions (conninfo string or URI, PG* variables)."""
        import psycopg
        kwargs.setdefault("autocommit", True)
        try:
            conn = psycopg.connect(conninfo, **kwargs)
        except psycopg.Error as e:
            _raise_translated(e)
        return cls(conn, catalog)

    def _run(self, query, args, fetch):
        try:
            with self.conn.cursor() as cur:
                cur.execute(query, args)
                return fetch(cur)
        except self._driver_error as e:
            _raise_translated(e)

    def learn(self, title: Optional[str], audio: Audio, meta: Optional[dict] = None) -> int:
        """Fingerprints audio on the server and adds it to the catalogue; returns the new id."""
        query, args = self._sql.learn_args(title, audio, meta)
        return self._run(query, args, lambda cur: cur.fetchone()[0])

    def recognize(self, clip: Audio, max_results: int = 5) -> List[Match]:
        """The catalogue's tracks the clip is taken from, best first; [] when none."""
        _check_max_results(max_results)
        return self._run(self._sql.recognize, (audio_bytes(clip), self._sql.catalog, max_results),
                         lambda cur: [Match(*r) for r in cur.fetchall()])

    def match(self, fp: Fingerprint, max_results: int = 5) -> List[Match]:
        """match_afp: the same for a fingerprint made elsewhere."""
        _check_max_results(max_results)
        return self._run(self._sql.match, (str(fp), self._sql.catalog, max_results),
                         lambda cur: [Match(*r) for r in cur.fetchall()])

    def fingerprint(self, audio: Audio) -> Fingerprint:
        return self._run(self._sql.fingerprint, (audio_bytes(audio),),
                         lambda cur: Fingerprint.from_text(cur.fetchone()[0]))

    def forget(self, track_id: int) -> bool:
        """Removes a track; False when there was none with that id."""
        return self._run(self._sql.forget, (track_id,), lambda cur: cur.rowcount > 0)

    def stats(self) -> CatalogStats:
        return self._run(self._sql.stats, (self._sql.catalog,), lambda cur: CatalogStats(*cur.fetchone()))

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AsyncClient:
    """A catalogue client on a psycopg 3 AsyncConnection (e.g. one from psycopg_pool)."""

    def __init__(self, conn, catalog: str = "afp_tracks"):
        import psycopg
        self._driver_error = psycopg.Error
        self.conn = conn
        self.catalog = catalog
        self._sql = _Statements(catalog)

    @classmethod
    async def connect(cls, conninfo: str = "", catalog: str = "afp_tracks", **kwargs) -> "AsyncClient":
        import psycopg
        kwargs.setdefault("autocommit", True)
        try:
            conn = await psycopg.AsyncConnection.connect(conninfo, **kwargs)
        except psycopg.Error as e:
            _raise_translated(e)
        return cls(conn, catalog)

    async def _run(self, query, args, fetch):
        try:
            async with self.conn.cursor() as cur:
                await cur.execute(query, args)
                return await fetch(cur)
        except self._driver_error as e:
            _raise_translated(e)

    async def learn(self, title: Optional[str], audio: Audio, meta: Optional[dict] = None) -> int:
        query, args = self._sql.learn_args(title, audio, meta)
        return await self._run(query, args, _first_value)

    async def recognize(self, clip: Audio, max_results: int = 5) -> List[Match]:
        _check_max_results(max_results)
        return await self._run(self._sql.recognize, (audio_bytes(clip), self._sql.catalog, max_results), _matches)

    async def match(self, fp: Fingerprint, max_results: int = 5) -> List[Match]:
        _check_max_results(max_results)
        return await self._run(self._sql.match, (str(fp), self._sql.catalog, max_results), _matches)

    async def fingerprint(self, audio: Audio) -> Fingerprint:
        return Fingerprint.from_text(await self._run(self._sql.fingerprint, (audio_bytes(audio),), _first_value))

    async def forget(self, track_id: int) -> bool:
        async def deleted(cur):
            return cur.rowcount > 0
        return await self._run(self._sql.forget, (track_id,), deleted)

    async def stats(self) -> CatalogStats:
        async def one(cur):
            return CatalogStats(*(await cur.fetchone()))
        return await self._run(self._sql.stats, (self._sql.catalog,), one)

    async def close(self):
        await self.conn.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()


async def _first_value(cur):
    return (await cur.fetchone())[0]


async def _matches(cur):
    return [Match(*r) for r in await cur.fetchall()]


def _numbered(query: str) -> str:
    """%s placeholders as asyncpg's $1, $2, ..."""
    parts = query.split("%s")
    return "".join(p + ("$%d" % (i + 1) if i < len(parts) - 1 else "") for i, p in enumerate(parts))


class AsyncpgClient:
    """A catalogue client on an asyncpg Connection or Pool."""

    def __init__(self, conn, catalog: str = "afp_tracks"):
        import asyncpg
        self._driver_error = asyncpg.PostgresError
        self.conn = conn
        self.catalog = catalog
        self._sql = _Statements(catalog)

    @classmethod
    async def connect(cls, dsn: Optional[str] = None, catalog: str = "afp_tracks", **kwargs) -> "AsyncpgClient":
        import asyncpg
        try:
            conn = await asyncpg.connect(dsn, **kwargs)
        except asyncpg.PostgresError as e:
            _raise_translated(e)
        return cls(conn, catalog)

    async def _call(self, method, query, *args):
        try:
            return await getattr(self.conn, method)(_numbered(query), *args)
        except self._driver_error as e:
            _raise_translated(e)

    async def learn(self, title: Optional[str], audio: Audio, meta: Optional[dict] = None) -> int:
        query, args = self._sql.learn_args(title, audio, meta)
        return await self._call("fetchval", query, *args)

    async def recognize(self, clip: Audio, max_results: int = 5) -> List[Match]:
        _check_max_results(max_results)
        rows = await self._call("fetch", self._sql.recognize, audio_bytes(clip), self._sql.catalog, max_results)
        return [Match(*r) for r in rows]

    async def match(self, fp: Fingerprint, max_results: int = 5) -> List[Match]:
        _check_max_results(max_results)
        rows = await self._call("fetch", self._sql.match, str(fp), self._sql.catalog, max_results)
        return [Match(*r) for r in rows]

    async def fingerprint(self, audio: Audio) -> Fingerprint:
        return Fingerprint.from_text(await self._call("fetchval", self._sql.fingerprint, audio_bytes(audio)))

    async def forget(self, track_id: int) -> bool:
        status = await self._call("execute", self._sql.forget, track_id)
        return status != "DELETE 0"

    async def stats(self) -> CatalogStats:
        row = await self._call("fetchrow", self._sql.stats, self._sql.catalog)
        return CatalogStats(*row)

    async def close(self):
        await self.conn.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
