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
