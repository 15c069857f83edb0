"""Small clients for a catalogue: learn a track, recognise a clip, forget a track, size it up.

    from afp import Client
    with Client.connect("dbname=music") as afp:
        song = afp.learn("Song", "song.flac")              # bytes or a path
        for m in afp.recognize(open("clip.mp3", "rb").read()):
            print(m.title, m.offset_s, m.confidence)

``Client`` runs on a psycopg 3 Connection, ``AsyncClient`` on a psycopg 3 AsyncConnection and
``AsyncpgClient`` on an asyncpg connection (or pool). The six methods are written once, in
``_Catalog``: each builds a ``_Statement`` (SQL, arguments, how to read the rows) and hands it to the
client's ``_run``, which is the only part that differs between the drivers (sync or async, psycopg's
``%s`` placeholders or asyncpg's ``$n``). Errors are afp's exceptions (afp.errors) for the SQLSTATEs
the statement that ran reports, the driver's own for anything else (a lost connection, say). No
adapters need registering: fingerprints come back as text and are parsed here. Audio always
travels as a bound bytea parameter, and the catalogue's name as a quoted identifier composed into
the SQL, never through % formatting.
"""
from __future__ import annotations

import asyncio
import json
import os
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generator, List, Optional, Sequence, Tuple, Type, Union

from . import errors
from .fingerprint import Fingerprint

Audio = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]
# A catalogue: a table name, schema-qualified with a dot ("music.tracks"), or its parts as a tuple
# when a part contains a dot itself (("my.schema", "tracks")).
CatalogName = Union[str, Sequence[str]]

__all__ = ["Client", "AsyncClient", "AsyncpgClient", "Match", "CatalogStats"]

# The largest max_results the server's integer argument holds.
_MAX_RESULTS = 2 ** 31 - 1
# How long a cancelled call may take to cancel its query on the server before the connection is closed.
CANCEL_TIMEOUT_S = 5.0


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

# The SQL, with {} for each parameter and {catalog} for the catalogue's quoted name.
_LEARN = "INSERT INTO {catalog} (title, fp) VALUES ({}, fingerprint({})) RETURNING id"
_LEARN_META = "INSERT INTO {catalog} (title, fp, meta) VALUES ({}, fingerprint({}), {}::jsonb) RETURNING id"
# learn(on_duplicate="skip"): the track holding the audio over DUPLICATE_SHARE of its length
# (afp_shared_audio, through the index), else the new row; one statement, so any driver runs it.
DUPLICATE_SHARE = 0.8
_LEARN_UNIQUE = (
    "WITH q AS (SELECT fingerprint({}) AS fp),"
    " d AS (SELECT s.track_id FROM q, afp_shared_audio(q.fp, {}::regclass) s"
    "       WHERE s.end_s - s.start_s >= %s * afp_duration(q.fp)"
    "       ORDER BY s.end_s - s.start_s DESC, s.track_id LIMIT 1),"
    " i AS (INSERT INTO {catalog} (title, fp%%s) SELECT {}, q.fp%%s FROM q"
    "       WHERE NOT EXISTS (SELECT FROM d) RETURNING id)"
    " SELECT id FROM i UNION ALL SELECT track_id FROM d" % DUPLICATE_SHARE)
_LEARN_UNIQUE_META = _LEARN_UNIQUE % (", meta", ", {}::jsonb")
_LEARN_UNIQUE = _LEARN_UNIQUE % ("", "")
_RECOGNIZE = "SELECT %s FROM match_clip({}, {}::regclass, {}::integer)" % _MATCH_COLUMNS
_MATCH = "SELECT %s FROM match_afp({}::text::afp, {}::regclass, {}::integer)" % _MATCH_COLUMNS
_FINGERPRINT = "SELECT fingerprint({})::text"
_FORGET = "DELETE FROM {catalog} WHERE id = {} RETURNING id"
_STATS = "SELECT %s FROM afp_catalog_stats({}::regclass)" % _STATS_COLUMNS
_INSTALLED = "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'afp')"


def audio_bytes(audio: Audio) -> bytes:
    """The bytes of audio given as bytes, or as a path (str or os.PathLike) to read."""
    if isinstance(audio, (bytes, bytearray, memoryview)):
        return bytes(audio)
    if isinstance(audio, (str, os.PathLike)):
        with open(audio, "rb") as f:
            return f.read()
    raise TypeError("audio must be bytes or a path, not %s" % type(audio).__name__)


def name_parts(name: CatalogName) -> Tuple[str, ...]:
    """A catalogue's name as its parts: 'music.tracks' -> ('music', 'tracks'); a tuple stays as it is."""
    parts = tuple(name.split(".")) if isinstance(name, str) else tuple(name)
    if not parts or not all(isinstance(p, str) and p for p in parts):
        raise ValueError("a catalogue name needs non-empty parts, not %r" % (name,))
    if any("\0" in p for p in parts):
        raise ValueError("a catalogue name cannot contain NUL")
    return parts


def quote_name(name: CatalogName) -> str:
    """A possibly schema-qualified table name as quoted identifiers: 'music.tracks' -> "music"."tracks"."""
    return ".".join('"%s"' % part.replace('"', '""') for part in name_parts(name))


@dataclass(frozen=True)
class _Statement:
    """One afp statement a client runs: its name in afp.errors.STATEMENTS (which errors it reports),
    the SQL template, the arguments, the rows -> result function, and the audio it sends."""

    name: str
    template: str
    args: tuple
    result: Callable[[Sequence[Sequence[Any]]], Any]
    audio: Optional[bytes] = None


def _first_value(rows):
    return rows[0][0]


def _matches(rows):
    return [Match(*r) for r in rows]


def _check_max_results(max_results):
    if not isinstance(max_results, int) or isinstance(max_results, bool):
        raise TypeError("max_results must be an int")
    if max_results > _MAX_RESULTS:
        raise errors.InvalidParameter("max_results must be at most %d" % _MAX_RESULTS, sqlstate="22023")


def _check_title(title):
    if title is not None and "\0" in title:
        # PostgreSQL text cannot hold NUL; the driver would refuse it with its own error.
        raise errors.InvalidParameter("a title cannot contain NUL characters", sqlstate="22021")


class _Catalog:
    """The methods of every client, defined once. A subclass supplies ``_run(statement)``, which runs
    the steps of ``_steps`` on its driver and returns the result (or, async, an awaitable of it)."""

    _driver_error: Type[Exception] = Exception

    def __init__(self, conn, catalog: CatalogName = "afp_tracks"):
        self.conn = conn
        self.catalog = catalog
        self._name = name_parts(catalog)
        self._regclass = quote_name(self._name)

    def learn(self, title: Optional[str], audio: Audio, meta: Optional[dict] = None,
              on_duplicate: str = "insert") -> int:
        """Fingerprints audio on the server and adds it to the catalogue; returns the new id.
        on_duplicate="skip" decides by audio: when the catalogue already holds this audio over 80%
        of its length (another format of the recording, an excerpt), nothing is added and the id of
        that track is returned."""
        _check_title(title)
        data = audio_bytes(audio)
        if on_duplicate == "skip":
            if meta is None:
                return self._run(_Statement("learn", _LEARN_UNIQUE, (data, self._regclass, title), _first_value, data))
            return self._run(_Statement("learn", _LEARN_UNIQUE_META, (data, self._regclass, title, json.dumps(meta)),
                                        _first_value, data))
        if on_duplicate != "insert":
            raise ValueError("on_duplicate must be 'insert' or 'skip'")
        if meta is None:
            return self._run(_Statement("learn", _LEARN, (title, data), _first_value, data))
        return self._run(_Statement("learn", _LEARN_META, (title, data, json.dumps(meta)), _first_value, data))

    def recognize(self, clip: Audio, max_results: int = 5) -> List[Match]:
        """The catalogue's tracks the clip is taken from, best first; [] when none."""
        _check_max_results(max_results)
        data = audio_bytes(clip)
        return self._run(_Statement("match_clip", _RECOGNIZE, (data, self._regclass, max_results), _matches, data))

    def match(self, fp: Fingerprint, max_results: int = 5) -> List[Match]:
        """match_afp: the same for a fingerprint made elsewhere."""
        _check_max_results(max_results)
        return self._run(_Statement("match_afp", _MATCH, (str(fp), self._regclass, max_results), _matches))

    def fingerprint(self, audio: Audio) -> Fingerprint:
        """fingerprint(audio) made by the server."""
        data = audio_bytes(audio)
        return self._run(_Statement("fingerprint", _FINGERPRINT, (data,),
                                    lambda rows: Fingerprint.from_text(rows[0][0]), data))

    def forget(self, track_id: int) -> bool:
        """Removes a track; False when there was none with that id."""
        return self._run(_Statement("forget", _FORGET, (track_id,), lambda rows: len(rows) > 0))

    def stats(self) -> CatalogStats:
        """afp_catalog_stats() of the catalogue."""
        return self._run(_Statement("afp_catalog_stats", _STATS, (self._regclass,),
                                    lambda rows: CatalogStats(*rows[0])))

    def _run(self, statement: _Statement) -> Any:
        raise NotImplementedError

    def _steps(self, st: _Statement) -> Generator[Tuple[str, tuple], Any, Any]:
        """What running a statement takes, for any driver: yields (template, args) to run and receives
        the rows, or has the driver's error thrown in; returns the result or raises afp's error."""
        try:
            rows = yield st.template, st.args
        except self._driver_error as exc:
            err = errors.from_exception(exc, st.name, st.audio)
            if err is not None and err.sqlstate in ("42883", "42704", "42P01"):
                # A missing function, type or table: is afp there at all? (Not askable in a failed
                # transaction: then the SQLSTATE decides.)
                try:
                    installed = (yield _INSTALLED, ())[0][0]
                except self._driver_error:
                    installed = None
                if installed is False:
                    # The server's words ("function match_clip(...) does not exist") become the detail;
                    # its hint (about casts) does not apply.
                    err = errors.AfpNotInstalled(sqlstate=err.sqlstate, detail=errors.server_message(exc))
                    err.__cause__ = exc
                elif installed and isinstance(err, errors.AfpNotInstalled):
                    err = None  # afp is there but not on the search_path: the server's words say it best
            if err is None:
                raise exc
            raise err from exc
        return st.result(rows)


class Client(_Catalog):
    """A catalogue client on a psycopg 3 Connection."""

    def __init__(self, conn, catalog: CatalogName = "afp_tracks"):
        import psycopg
        self._driver_error = psycopg.Error
        super().__init__(conn, catalog)
        self._queries = _PsycopgQueries(self._name)

    @classmethod
    def connect(cls, conninfo: str = "", catalog: CatalogName = "afp_tracks", **kwargs) -> "Client":
        """A new autocommit connection by libpq conventions (conninfo string or URI, PG* variables)."""
        import psycopg
        kwargs.setdefault("autocommit", True)
        return cls(psycopg.connect(conninfo, **kwargs), catalog)

    def _run(self, st: _Statement) -> Any:
        steps = self._steps(st)
        reply: Any = None
        failure: Optional[BaseException] = None
        while True:
            try:
                template, args = steps.send(reply) if failure is None else steps.throw(failure)
            except StopIteration as done:
                return done.value
            try:
                with self.conn.cursor() as cur:
                    cur.execute(self._queries[template], args)
                    reply, failure = cur.fetchall(), None
            except self._driver_error as e:
                reply, failure = None, e

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _AsyncCatalog(_Catalog):
    """The async clients: the same steps, awaited."""

    async def _fetch(self, template: str, args: tuple) -> Sequence[Sequence[Any]]:
        raise NotImplementedError

    async def _run(self, st: _Statement) -> Any:  # type: ignore[override]
        steps = self._steps(st)
        reply: Any = None
        failure: Optional[BaseException] = None
        while True:
            try:
                template, args = steps.send(reply) if failure is None else steps.throw(failure)
            except StopIteration as done:
                return done.value
            try:
                reply, failure = await self._fetch(template, args), None
            except self._driver_error as e:
                reply, failure = None, e

    async def close(self) -> None:
        await self.conn.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    if TYPE_CHECKING:  # what the shared methods return here: awaitables of the same results
        async def learn(self, title: Optional[str], audio: Audio, meta: Optional[dict] = None,  # type: ignore[override]
                        on_duplicate: str = "insert") -> int: ...
        async def recognize(self, clip: Audio, max_results: int = 5) -> List[Match]: ...  # type: ignore[override]
        async def match(self, fp: Fingerprint, max_results: int = 5) -> List[Match]: ...  # type: ignore[override]
        async def fingerprint(self, audio: Audio) -> Fingerprint: ...  # type: ignore[override]
        async def forget(self, track_id: int) -> bool: ...  # type: ignore[override]
        async def stats(self) -> CatalogStats: ...  # type: ignore[override]


class AsyncClient(_AsyncCatalog):
    """A catalogue client on a psycopg 3 AsyncConnection (e.g. one from psycopg_pool).

    A call cancelled while its statement runs (asyncio.wait_for, a task's cancel(), a client that
    went away) cancels the statement on the server and waits for the connection to be idle again
    before the CancelledError goes on, so the connection stays usable; if the server does not
    answer within CANCEL_TIMEOUT_S the connection is closed instead. Tasks sharing the connection
    take turns: a call waiting for its turn when cancelled has sent nothing, and touches nothing."""

    def __init__(self, conn, catalog: CatalogName = "afp_tracks"):
        import psycopg
        self._driver_error = psycopg.Error
        super().__init__(conn, catalog)
        self._queries = _PsycopgQueries(self._name)

    @classmethod
    async def connect(cls, conninfo: str = "", catalog: CatalogName = "afp_tracks", **kwargs) -> "AsyncClient":
        import psycopg
        kwargs.setdefault("autocommit", True)
        return cls(await psycopg.AsyncConnection.connect(conninfo, **kwargs), catalog)

    async def _fetch(self, template, args):
        # Calls of tasks sharing the connection take turns, the settling of a cancelled one included:
        # psycopg's own lock is free while it settles, and a call let in then failed with "another
        # command is already in progress" (or read the cancelled statement's results).
        async with _call_lock(self.conn):
            try:
                async with self.conn.cursor() as cur:
                    await cur.execute(self._queries[template], args)
                    return await cur.fetchall()
            except asyncio.CancelledError:
                await _settle_cancelled(self.conn)
                raise


class AsyncpgClient(_AsyncCatalog):
    """A catalogue client on an asyncpg Connection or Pool (asyncpg cancels a cancelled call's
    statement on the server itself)."""

    def __init__(self, conn, catalog: CatalogName = "afp_tracks"):
        import asyncpg
        self._driver_error = asyncpg.PostgresError
        super().__init__(conn, catalog)
        catalog_sql = quote_name(self._name)
        self._queries = _Queries(lambda t: t.format(*("$%d" % (i + 1) for i in range(t.count("{}"))),
                                                    catalog=catalog_sql))

    @classmethod
    async def connect(cls, dsn: Optional[str] = None, catalog: CatalogName = "afp_tracks",
                      **kwargs) -> "AsyncpgClient":
        import asyncpg
        return cls(await asyncpg.connect(dsn, **kwargs), catalog)

    async def _fetch(self, template, args):
        return await self.conn.fetch(self._queries[template], *args)


class _Queries(dict):
    """Templates rendered for one driver and catalogue, once each."""

    def __init__(self, render):
        super().__init__()
        self._render = render

    def __missing__(self, template):
        self[template] = query = self._render(template)
        return query


def _PsycopgQueries(name: Tuple[str, ...]) -> _Queries:
    from psycopg import sql

    class QuotedName(sql.Composable):
        """sql.Identifier with its % doubled: psycopg reads a composed query for %s placeholders again,
        so a catalogue named "100%" or "a%sb" would otherwise be taken for one."""

        def as_bytes(self, context):
            return sql.Identifier(*self._obj).as_bytes(context).replace(b"%", b"%%")

    catalog = QuotedName(name)
    return _Queries(lambda t: sql.SQL(t).format(*[sql.Placeholder()] * t.count("{}"), catalog=catalog))


_CALL_LOCKS: "weakref.WeakKeyDictionary[Any, asyncio.Lock]" = weakref.WeakKeyDictionary()


def _call_lock(conn) -> asyncio.Lock:
    """One lock per psycopg AsyncConnection, shared by every AsyncClient on it."""
    lock = _CALL_LOCKS.get(conn)
    if lock is None:
        lock = _CALL_LOCKS[conn] = asyncio.Lock()
    return lock


async def _settle_cancelled(conn) -> None:
    """After a cancelled call on a psycopg AsyncConnection: cancel its statement on the server and read
    what the server still sends, so the connection is idle again (psycopg 3.1 leaves it ACTIVE, and
    every later statement fails with "another command is already in progress"); close it when that
    does not finish in time."""
    from psycopg import pq
    pgconn = conn.pgconn
    # psycopg runs one statement at a time under conn.lock, which the call that held it has released
    # by now: still held, it is another call's (a task sharing the connection), and this one was
    # cancelled while waiting for it, having sent nothing. Its statement and results are not ours.
    if conn.closed or conn.lock.locked() or pgconn.transaction_status != pq.TransactionStatus.ACTIVE:
        return
    try:
        await asyncio.wait_for(_cancel_and_drain(pgconn), CANCEL_TIMEOUT_S)
    except (Exception, asyncio.CancelledError):
        await conn.close()


async def _cancel_and_drain(pgconn) -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pgconn.get_cancel().cancel)
    while pgconn.flush() != 0:  # the rest of a statement interrupted while being sent
        await _ready(loop, pgconn.socket, write=True)
    while True:
        pgconn.consume_input()
        while not pgconn.is_busy():
            if pgconn.get_result() is None:
                return
        await _ready(loop, pgconn.socket)


async def _ready(loop, fd, write=False) -> None:
    ready = loop.create_future()
    add, remove = (loop.add_writer, loop.remove_writer) if write else (loop.add_reader, loop.remove_reader)
    add(fd, lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        remove(fd)
