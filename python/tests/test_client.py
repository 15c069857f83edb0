"""The clients: learn, recognize, match, fingerprint, forget and stats on real fixtures, with
psycopg 3 (sync and async) and asyncpg; errors arrive as afp's classes."""
import asyncio

import pytest

import afp
from conftest import fixture_bytes, fixture_path


def check_recognition(client_results, ids):
    (m_song3, m_unknown, m_noisy) = client_results
    assert len(m_song3) >= 1 and m_song3[0].track_id == ids["song3"] and m_song3[0].title == "song3"
    assert abs(m_song3[0].offset_s - 7.5) < 0.1 and 0.5 <= m_song3[0].confidence <= 1
    assert m_song3[0].speed == m_song3[0].tempo == m_song3[0].pitch == 1
    assert m_unknown == []
    assert m_noisy[0].track_id == ids["song2"] and abs(m_noisy[0].offset_s - 11.25) < 0.1


def test_client(dsn):
    with afp.Client.connect(dsn, catalog="afp_py_items") as client:
        client.conn.execute("DELETE FROM afp_py_items")
        ids = {"song2": client.learn("song2", fixture_path("song2.flac")),
               "song3": client.learn("song3", fixture_bytes("song3.ogg"))}
        results = (client.recognize(fixture_bytes("clip_song3_at_7.5s.wav")),
                   client.recognize(fixture_path("clip_unknown.wav")),
                   client.recognize(fixture_bytes("clip_song2_at_11.25s_snr5.mp3"), max_results=1))
        check_recognition(results, ids)
        assert len(results[2]) == 1

        fp = client.fingerprint(fixture_bytes("song2.flac"))
        assert isinstance(fp, afp.Fingerprint) and abs(fp.duration - 20) < 0.1
        assert client.match(fp)[0].track_id == ids["song2"]

        stats = client.stats()
        assert stats.tracks == 2 and abs(stats.hours - 40 / 3600) < 1e-3 and stats.param_sets == [1]

        assert client.forget(ids["song2"]) is True and client.forget(ids["song2"]) is False
        assert client.recognize(fixture_bytes("clip_song2_at_11.25s_snr5.mp3")) == []

        with pytest.raises(afp.UnreadableAudio) as e:
            client.learn("text", fixture_bytes("not_audio.txt"))
        assert e.value.sqlstate == "22000" and "could not decode" in e.value.message
        with pytest.raises(afp.EmptyAudio):
            client.recognize(b"")
        with pytest.raises(afp.InvalidParameter):
            client.recognize(fixture_bytes("clip_unknown.wav"), max_results=0)


def test_client_default_catalogue_and_meta(dsn, catalog):
    with afp.Client.connect(dsn) as client:
        m = client.recognize(fixture_bytes("clip_song3_at_7.5s.wav"))
        assert m[0].track_id == catalog["song3"]
        meta = client.conn.execute("SELECT meta FROM afp_tracks WHERE id = %s", [catalog["song3"]]).fetchone()[0]
        assert meta == {"file": "song3.ogg"}


def test_client_on_a_missing_catalogue(dsn):
    with afp.Client.connect(dsn, catalog="no_such_table") as client:
        with pytest.raises(afp.InvalidCatalog) as e:
            client.recognize(fixture_bytes("clip_unknown.wav"))
        assert e.value.sqlstate == "42P01"
        with pytest.raises(afp.InvalidCatalog):
            client.learn("x", fixture_bytes("song3.ogg"))


async def _async_session(client):
    await client.conn.execute("DELETE FROM afp_py_items")
    ids = {"song2": await client.learn("song2", fixture_path("song2.flac")),
           "song3": await client.learn("song3", fixture_bytes("song3.ogg"), meta={"n": 3})}
    results = (await client.recognize(fixture_bytes("clip_song3_at_7.5s.wav")),
               await client.recognize(fixture_bytes("clip_unknown.wav")),
               await client.recognize(fixture_bytes("clip_song2_at_11.25s_snr5.mp3")))
    stats = await client.stats()
    fp = await client.fingerprint(fixture_bytes("song3.ogg"))
    matched = await client.match(fp, max_results=1)
    forgot = (await client.forget(ids["song3"]), await client.forget(ids["song3"]))
    with pytest.raises(afp.SilentAudio):
        await client.learn("silence", fixture_bytes("silence.wav"))
    return ids, results, stats, matched, forgot


@pytest.mark.parametrize("kind", ["psycopg", "asyncpg"])
def test_async_clients(dsn, kind):
    async def go():
        if kind == "psycopg":
            client = await afp.AsyncClient.connect(dsn, catalog="afp_py_items")
        else:
            client = await afp.AsyncpgClient.connect(database=dsn.split("=", 1)[1], catalog="afp_py_items")
        async with client:
            return await _async_session(client)

    ids, results, stats, matched, forgot = asyncio.run(go())
    check_recognition(results, ids)
    assert stats.tracks == 2
    assert matched[0].track_id == ids["song3"] and forgot == (True, False)


# -- the three clients are one definition, and behave alike -----------------------------------------

METHODS = ("learn", "recognize", "match", "fingerprint", "forget", "stats")


def test_the_six_methods_are_defined_once():
    for name in METHODS:
        assert getattr(afp.Client, name) is getattr(afp.AsyncClient, name) is getattr(afp.AsyncpgClient, name)


def test_the_package_ships_py_typed():
    import importlib.resources
    assert importlib.resources.files("afp").joinpath("py.typed").is_file()


def test_a_type_checker_sees_the_clients_types(tmp_path):
    # The installed package, as an application's type checker sees it: sync results for Client,
    # awaitables of the same results for the async clients, and a wrong use caught.
    api = pytest.importorskip("mypy.api", reason="mypy is not installed (Debian: python3-mypy)")
    (tmp_path / "app.py").write_text('''
from typing import List
import afp

def sync(c: afp.Client) -> None:
    track: int = c.learn("t", b"x")
    found: List[afp.Match] = c.recognize(b"x")
    gone: bool = c.forget(track)
    stats: afp.CatalogStats = c.stats()

async def run(a: afp.AsyncClient, b: afp.AsyncpgClient) -> None:
    track: int = await a.learn("t", b"x")
    found: List[afp.Match] = await b.recognize(b"x")
    fp: afp.Fingerprint = await a.fingerprint(b"x")
    stats: afp.CatalogStats = await b.stats()
    wrong: str = await a.learn("t", b"x")
''')
    out, err, status = api.run([str(tmp_path / "app.py"), "--cache-dir", str(tmp_path / "cache")])
    errors_found = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors_found) == 1 and "app.py:16:" in errors_found[0] and '"int"' in errors_found[0], out + err


class Blocking:
    """Any of the three clients, its methods called and finished here (on one event loop for the
    async ones), so that one test drives all three."""

    def __init__(self, kind, dsn, catalog="afp_tracks"):
        self.loop = asyncio.new_event_loop()
        self.kind = kind
        if kind == "Client":
            self.client = afp.Client.connect(dsn, catalog=catalog)
        elif kind == "AsyncClient":
            self.client = self.loop.run_until_complete(afp.AsyncClient.connect(dsn, catalog=catalog))
        else:
            self.client = self.loop.run_until_complete(
                afp.AsyncpgClient.connect(database=dsn.split("=", 1)[1], catalog=catalog))

    def __getattr__(self, name):
        method = getattr(self.client, name)

        def call(*args, **kwargs):
            out = method(*args, **kwargs)
            return self.loop.run_until_complete(out) if asyncio.iscoroutine(out) else out
        return call

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        self.loop.close()


KINDS = ["Client", "AsyncClient", "AsyncpgClient"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["100%", "a%sb", 'say "%(x)s"', "Mixed Case"])
def test_catalogue_names_with_percent_and_quotes(dsn, conn, kind, name):
    ident = '"%s"' % name.replace('"', '""')
    conn.execute("DROP TABLE IF EXISTS %s" % ident)  # (no parameters: psycopg reads no placeholders)
    conn.execute("CREATE TABLE %s (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text, fp afp, meta jsonb)"
                 % ident)
    with Blocking(kind, dsn, catalog=(name,)) as client:
        track = client.learn("song3", fixture_bytes("song3.ogg"), meta={"k": 1})
        assert client.recognize(fixture_bytes("clip_song3_at_7.5s.wav"))[0].track_id == track
        assert client.stats().tracks == 1
        assert client.forget(track) is True and client.forget(track) is False
    # a name without dots is the same as a string
    if "." not in name:
        with Blocking(kind, dsn, catalog=name) as client:
            assert client.stats().tracks == 0


@pytest.mark.parametrize("kind", KINDS)
def test_arguments_the_server_cannot_take_are_afp_errors(dsn, kind):
    with Blocking(kind, dsn) as client:
        with pytest.raises(afp.InvalidParameter):
            client.recognize(fixture_bytes("clip_unknown.wav"), max_results=2 ** 31)
        with pytest.raises(afp.InvalidParameter):
            client.learn("nul\0title", fixture_bytes("song3.ogg"))
        with pytest.raises(afp.EmptyAudio):
            client.recognize(b"")
        assert client.recognize(fixture_bytes("clip_unknown.wav"), max_results=2 ** 31 - 1) == []


@pytest.fixture(scope="module")
def bare_dsn(dsn):
    """A database without the extension."""
    import psycopg
    db = "afp_python_test_bare"
    with psycopg.connect(dbname="postgres", autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS %s" % db)
        admin.execute("CREATE DATABASE %s" % db)
    yield "dbname=%s" % db
    with psycopg.connect(dbname="postgres", autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % db)


@pytest.mark.parametrize("kind", KINDS)
def test_without_the_extension_every_method_says_so(bare_dsn, kind):
    fp = afp.Fingerprint(n_samples=8000, landmarks=((1, 1),))
    calls = {"learn": ("x", b"RIFF"), "recognize": (b"RIFF",), "match": (fp,), "fingerprint": (b"RIFF",),
             "forget": (1,), "stats": ()}
    with Blocking(kind, bare_dsn) as client:
        for method, args in calls.items():
            with pytest.raises(afp.AfpNotInstalled) as e:
                getattr(client, method)(*args)
            assert str(e.value).startswith("afp is not installed in this database: CREATE EXTENSION afp"), method
            assert e.value.detail and "does not exist" in e.value.detail, (method, e.value.detail)


@pytest.mark.parametrize("kind", ["AsyncClient", "AsyncpgClient"])
def test_a_cancelled_call_cancels_its_statement_and_leaves_the_client_usable(dsn, conn, kind):
    # The call waits for a lock another session holds, so it is still running when wait_for gives up.
    import psycopg
    fp = afp.Fingerprint.from_text(conn.execute("SELECT fingerprint(%s)::text", [fixture_bytes("song3.ogg")])
                                   .fetchone()[0])
    with psycopg.connect(dsn) as locker:
        locker.execute("LOCK TABLE afp_py_items IN ACCESS EXCLUSIVE MODE")
        with Blocking(kind, dsn, catalog="afp_py_items") as client:
            if kind == "AsyncClient":
                pid = client.client.conn.pgconn.backend_pid
            else:
                pid = client.loop.run_until_complete(client.client.conn.fetchval("SELECT pg_backend_pid()"))
            with pytest.raises(asyncio.TimeoutError):
                client.loop.run_until_complete(asyncio.wait_for(client.client.match(fp), 0.2))
            # the statement stops running on the server, though the lock is still held (asyncpg sends
            # its cancel request from a task of its own: the loop runs while we look)
            for _ in range(50):
                state = conn.execute("SELECT state, wait_event_type FROM pg_stat_activity WHERE pid = %s",
                                     [pid]).fetchone()
                if state == ("idle", "Client"):
                    break
                client.loop.run_until_complete(asyncio.sleep(0.1))
            assert state == ("idle", "Client"), state
            locker.rollback()
            # and the same connection answers the next call
            assert isinstance(client.match(fp), list)
            assert client.fingerprint(fixture_bytes("song3.ogg")) == fp


def test_a_call_cancelled_while_waiting_for_the_connection_leaves_the_others_statement_alone(dsn, conn):
    """Two tasks share one AsyncClient: the second, cancelled while the first's statement holds the
    connection, has sent nothing, so neither the first's statement nor its results are touched."""
    import psycopg
    fp = afp.Fingerprint.from_text(conn.execute("SELECT fingerprint(%s)::text", [fixture_bytes("song3.ogg")])
                                   .fetchone()[0])

    async def scenario(client):
        first = asyncio.ensure_future(client.match(fp))
        await asyncio.sleep(0.1)                   # the first call's statement waits for the lock
        with pytest.raises(asyncio.TimeoutError):  # the second waits for the connection, and gives up
            await asyncio.wait_for(client.stats(), 0.2)
        await asyncio.sleep(0.2)
        locker.rollback()
        return await asyncio.wait_for(first, 10)

    with psycopg.connect(dsn) as locker:
        locker.execute("LOCK TABLE afp_py_items IN ACCESS EXCLUSIVE MODE")
        with Blocking("AsyncClient", dsn, catalog="afp_py_items") as client:
            assert isinstance(client.loop.run_until_complete(scenario(client.client)), list)
            assert client.fingerprint(fixture_bytes("song3.ogg")) == fp


def test_a_call_waiting_for_the_connection_runs_after_a_cancelled_one_settles(dsn, conn):
    """Two tasks share one AsyncClient: the first is cancelled while its statement runs; the second,
    waiting for the connection, runs only once the first's statement is cancelled and its results
    read, and gets its own answer."""
    import psycopg
    fp = afp.Fingerprint.from_text(conn.execute("SELECT fingerprint(%s)::text", [fixture_bytes("song3.ogg")])
                                   .fetchone()[0])

    async def scenario(client):
        first = asyncio.ensure_future(asyncio.wait_for(client.match(fp), 0.3))
        await asyncio.sleep(0.1)
        second = asyncio.ensure_future(client.stats())
        with pytest.raises(asyncio.TimeoutError):
            await first
        await asyncio.sleep(0.2)
        locker.rollback()
        return await asyncio.wait_for(second, 10)

    with psycopg.connect(dsn) as locker:
        locker.execute("LOCK TABLE afp_py_items IN ACCESS EXCLUSIVE MODE")
        with Blocking("AsyncClient", dsn, catalog="afp_py_items") as client:
            assert isinstance(client.loop.run_until_complete(scenario(client.client)), afp.CatalogStats)
            assert client.fingerprint(fixture_bytes("song3.ogg")) == fp


def test_learn_on_duplicate_skip_decides_by_audio(dsn):
    """on_duplicate="skip": the same recording in another format, or an excerpt, is not added again;
    the id of the track holding its audio comes back. New audio goes in."""
    with afp.Client.connect(dsn, catalog="afp_py_dups") as client:
        client.conn.execute("DROP TABLE IF EXISTS afp_py_dups")
        client.conn.execute("SELECT afp_create_catalog('afp_py_dups')")
        try:
            song3 = client.learn("song3", fixture_bytes("song3.ogg"))
            assert client.learn("song3 again", fixture_bytes("song3.ogg"), on_duplicate="skip") == song3
            assert client.learn("excerpt", fixture_bytes("clip_song3_at_7.5s.wav"), meta={"n": 1},
                                on_duplicate="skip") == song3
            song2 = client.learn("song2", fixture_path("song2.flac"), meta={"n": 2}, on_duplicate="skip")
            assert song2 != song3
            assert client.conn.execute("SELECT count(*) FROM afp_py_dups").fetchone()[0] == 2
            assert client.conn.execute("SELECT meta FROM afp_py_dups WHERE id = %s", [song2]).fetchone()[0] == {"n": 2}
            assert client.learn("song3 anyway", fixture_bytes("song3.ogg")) not in (song2, song3)
            with pytest.raises(ValueError):
                client.learn("x", fixture_bytes("song3.ogg"), on_duplicate="replace")

            async def with_asyncpg():
                import asyncpg
                conn = await asyncpg.connect(database=dsn.split("=", 1)[1])
                try:
                    aclient = afp.AsyncpgClient(conn, catalog="afp_py_dups")
                    return await aclient.learn("song2 again", fixture_bytes("song2.flac"), on_duplicate="skip")
                finally:
                    await conn.close()
            assert asyncio.run(with_asyncpg()) == song2
        finally:
            client.conn.execute("DROP TABLE afp_py_dups")
