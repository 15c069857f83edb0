"""Every adapter, in the text and the binary protocol, against the server: values made by
fingerprint() come back as Fingerprint, Fingerprint parameters reach the server intact."""
import asyncio

import pytest

import afp
from afp import Fingerprint
from conftest import fixture_bytes


@pytest.fixture(scope="module")
def song(dsn):
    return fixture_bytes("song1.wav")


@pytest.fixture(scope="module")
def server_text(dsn, song):
    """The server's text form of fingerprint(song1.wav), and its landmark count."""
    import psycopg
    with psycopg.connect(dsn) as c:
        return c.execute("SELECT fingerprint(%s)::text, afp_landmark_count(fingerprint(%s))", [song, song]).fetchone()


# -- psycopg 3 ------------------------------------------------------------------------------------

def test_psycopg_register_looks_up_the_oid(conn):
    import afp.psycopg
    info = afp.psycopg.register_afp(conn)
    assert info.oid == conn.execute("SELECT 'afp'::regtype::oid").fetchone()[0]


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_loads(conn, song, server_text, binary):
    import afp.psycopg
    afp.psycopg.register_afp(conn)
    cur = conn.cursor(binary=binary)
    fp = cur.execute("SELECT fingerprint(%s)", [song]).fetchone()[0]
    assert isinstance(fp, Fingerprint)
    assert fp.to_text() == server_text[0] and len(fp) == server_text[1] > 100
    assert cur.execute("SELECT NULL::afp").fetchone()[0] is None


@pytest.mark.parametrize("placeholder", ["%t", "%b"], ids=["text", "binary"])
@pytest.mark.parametrize("binary_result", [False, True], ids=["text-result", "binary-result"])
def test_psycopg_dumps(conn, server_text, placeholder, binary_result):
    import afp.psycopg
    afp.psycopg.register_afp(conn)
    fp = Fingerprint.from_text(server_text[0])
    cur = conn.cursor(binary=binary_result)
    q = "SELECT {0}, {0}::text, afp_landmark_count({0}), pg_typeof({0})::text".format(placeholder)
    back, text, count, typ = cur.execute(q, [fp] * 4).fetchone()
    assert back == fp and text == server_text[0] and count == len(fp) and typ == "afp"


def test_psycopg_async(dsn, song, server_text):
    import psycopg
    import afp.psycopg

    async def go():
        async with await psycopg.AsyncConnection.connect(dsn) as aconn:
            await afp.psycopg.register_afp_async(aconn)
            out = []
            for binary in (False, True):
                cur = aconn.cursor(binary=binary)
                await cur.execute("SELECT fingerprint(%s)", [song])
                fp = (await cur.fetchone())[0]
                await cur.execute("SELECT %b::text, %t::text", [fp, fp])
                out.append((fp, await cur.fetchone()))
            return out

    for fp, (via_binary, via_text) in asyncio.run(go()):
        assert fp.to_text() == via_binary == via_text == server_text[0]


def test_psycopg_copy_binary(conn, server_text):
    import afp.psycopg
    afp.psycopg.register_afp(conn)
    fp = Fingerprint.from_text(server_text[0])
    conn.execute("CREATE TEMP TABLE copied (fp afp)")
    with conn.cursor().copy("COPY copied (fp) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["afp"])
        copy.write_row([fp])
    assert conn.execute("SELECT fp::text FROM copied").fetchone()[0] == server_text[0]


# -- psycopg2 (text only: psycopg2 has no binary protocol) ----------------------------------------

def test_psycopg2_text(dsn, song, server_text):
    import psycopg2
    import afp.psycopg2
    c = psycopg2.connect(dsn)
    try:
        oid = afp.psycopg2.register_afp(c)
        cur = c.cursor()
        cur.execute("SELECT 'afp'::regtype::oid")
        assert cur.fetchone()[0] == oid
        cur.execute("SELECT fingerprint(%s), NULL::afp", [song])
        fp, null = cur.fetchone()
        assert isinstance(fp, Fingerprint) and fp.to_text() == server_text[0] and null is None
        cur.execute("SELECT %s, %s::text, afp_landmark_count(%s)", [fp, fp, fp])
        assert cur.fetchone() == (fp, server_text[0], len(fp))
    finally:
        c.close()


def test_psycopg2_registration_is_per_connection(dsn, song):
    import psycopg2
    import afp.psycopg2
    a, b = psycopg2.connect(dsn), psycopg2.connect(dsn)
    try:
        afp.psycopg2.register_afp(a)
        ca, cb = a.cursor(), b.cursor()
        ca.execute("SELECT fingerprint(%s)", [song])
        cb.execute("SELECT fingerprint(%s)", [song])
        assert isinstance(ca.fetchone()[0], Fingerprint) and isinstance(cb.fetchone()[0], str)
    finally:
        a.close()
        b.close()


# -- asyncpg --------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["binary", "text"])
def test_asyncpg(dsn, song, server_text, fmt):
    import asyncpg
    import afp.asyncpg

    async def go():
        c = await asyncpg.connect(database=dsn.split("=", 1)[1])
        try:
            await afp.asyncpg.register_afp(c, format=fmt)
            fp = await c.fetchval("SELECT fingerprint($1)", song)
            row = await c.fetchrow("SELECT $1::afp AS back, $1::afp::text AS text, afp_landmark_count($1) AS n", fp)
            null = await c.fetchval("SELECT NULL::afp")
            return fp, row, null
        finally:
            await c.close()

    fp, row, null = asyncio.run(go())
    assert isinstance(fp, Fingerprint) and fp.to_text() == server_text[0]
    assert row["back"] == fp and row["text"] == server_text[0] and row["n"] == len(fp) and null is None


# -- SQLAlchemy ------------------------------------------------------------------------------------

def _tables():
    from sqlalchemy import BigInteger, Column, MetaData, Table, Text
    from afp.sqlalchemy import AFP
    md = MetaData()
    items = Table("afp_py_items", md, Column("id", BigInteger, primary_key=True), Column("title", Text),
                  Column("fp", AFP))
    return items


def test_sqlalchemy_type_and_match_clip(dsn, catalog, server_text):
    from sqlalchemy import create_engine, delete, func, insert, select
    from afp.sqlalchemy import fingerprint, match_afp, match_clip
    items = _tables()
    engine = create_engine("postgresql+psycopg2:///" + dsn.split("=", 1)[1], future=True)
    fp = Fingerprint.from_text(server_text[0])
    try:
        with engine.begin() as c:
            c.execute(delete(items))
            c.execute(insert(items).values(title="made by the server", fp=fingerprint(fixture_bytes("song1.wav"))))
            c.execute(insert(items).values(title="a Fingerprint", fp=fp))
            rows = c.execute(select(items.c.title, items.c.fp, func.afp_landmark_count(items.c.fp))
                             .order_by(items.c.id)).all()
            assert [r[0] for r in rows] == ["made by the server", "a Fingerprint"]
            assert all(r[1] == fp and r[2] == len(fp) for r in rows)
            assert c.execute(select(items.c.id).where(items.c.fp.shares_hash(fp))).all()

            m = match_clip(fixture_bytes("clip_song3_at_7.5s.wav"), max_results=3)
            got = c.execute(select(m.c.track_id, m.c.title, m.c.offset_s, m.c.confidence)).all()
            assert got[0].track_id == catalog["song3"] and got[0].title == "song3"
            assert abs(got[0].offset_s - 7.5) < 0.1 and got[0].confidence > 0.5
            assert c.execute(select(m)).first().track_id == catalog["song3"]

            m = match_afp(fp, catalog=items, max_results=1)
            assert c.execute(select(m.c.title)).scalar_one() in ("made by the server", "a Fingerprint")
    finally:
        engine.dispose()


def test_sqlalchemy_asyncpg(dsn, catalog):
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine
    from afp.sqlalchemy import fingerprint, match_clip

    async def go():
        engine = create_async_engine("postgresql+asyncpg:///" + dsn.split("=", 1)[1])
        try:
            async with engine.connect() as c:
                fp = (await c.execute(select(fingerprint(fixture_bytes("song2.flac"))))).scalar_one()
                m = match_clip(fixture_bytes("clip_song2_at_11.25s_snr5.mp3"))
                best = (await c.execute(select(m.c.track_id, m.c.offset_s))).first()
                return fp, best
        finally:
            await engine.dispose()

    fp, best = asyncio.run(go())
    assert isinstance(fp, Fingerprint) and len(fp) > 100
    assert best.track_id == catalog["song2"] and abs(best.offset_s - 11.25) < 0.1


def test_sqlalchemy_catalogue_tables_keep_case_and_dots(dsn, conn):
    # Table("Tracks") is the table "Tracks", not tracks; a schema may contain a dot.
    from sqlalchemy import BigInteger, Column, MetaData, Table, Text, create_engine, select
    from afp.sqlalchemy import AFP, match_clip
    conn.execute('DROP SCHEMA IF EXISTS "my.music" CASCADE; CREATE SCHEMA "my.music"')
    conn.execute('DROP TABLE IF EXISTS "Tracks", tracks')
    for table, song in (('"Tracks"', "song3.ogg"), ("tracks", "song2.flac"), ('"my.music"."Tracks"', "song3.ogg")):
        conn.execute("CREATE TABLE %s (id bigint PRIMARY KEY, title text, fp afp)" % table)
        conn.execute("INSERT INTO %s VALUES (7, %%s, fingerprint(%%s))" % table, [song, fixture_bytes(song)])
    md = MetaData()
    cols = lambda: (Column("id", BigInteger, primary_key=True), Column("title", Text), Column("fp", AFP))  # noqa: E731
    upper = Table("Tracks", md, *cols())
    lower = Table("tracks", md, *cols())
    dotted = Table("Tracks", md, *cols(), schema="my.music")
    engine = create_engine("postgresql+psycopg2:///" + dsn.split("=", 1)[1], future=True)
    try:
        with engine.connect() as c:
            clip = fixture_bytes("clip_song3_at_7.5s.wav")
            for table, title in ((upper, "song3.ogg"), (dotted, "song3.ogg"), (lower, None)):
                m = match_clip(clip, catalog=table, max_results=1)
                got = c.execute(select(m.c.title)).scalar_one_or_none()
                assert got == title, (table.fullname, got)
    finally:
        engine.dispose()
