"""afp's settings exist only once the library is loaded in a session: what docs/operations.md
("Settings") says to do about it works as written."""
import pathlib
import re

import psycopg
import pytest

DB = "afp_python_test_settings"
OPERATIONS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def documented_preload_sql():
    """The SQL block of the Settings section of docs/operations.md, for the database 'music'."""
    text = OPERATIONS.read_text()
    section = text[text.index("## Settings"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
    assert len(blocks) == 1 and "session_preload_libraries" in blocks[0]
    return blocks[0]


@pytest.fixture
def db(dsn):
    with psycopg.connect(dbname="postgres", autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS %s" % DB)
        admin.execute("CREATE DATABASE %s" % DB)
    with psycopg.connect(dbname=DB, autocommit=True) as c:
        c.execute("CREATE EXTENSION afp")
    yield DB
    with psycopg.connect(dbname="postgres", autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)


def show(conn):
    return conn.execute("SHOW afp.max_clip_seconds").fetchone()[0]


def test_settings_are_unknown_until_the_library_loads(db):
    with psycopg.connect(dbname=db, autocommit=True) as c:
        with pytest.raises(psycopg.errors.UndefinedObject):
            show(c)
        c.execute("LOAD 'afp'")
        assert show(c) == "1min"
    with psycopg.connect(dbname=db, autocommit=True) as c:
        # a value set before the library loads waits as a placeholder and applies when it loads
        c.execute("SET afp.max_clip_seconds = 30")
        c.execute("SELECT fingerprint(CASE WHEN random() < 2 THEN NULL END::bytea)")  # loads the library
        assert show(c) == "30s"


def test_the_documented_preload_makes_them_visible_from_the_start(db):
    with psycopg.connect(dbname=db, autocommit=True) as c:
        c.execute(documented_preload_sql().replace("music", db))
    with psycopg.connect(dbname=db, autocommit=True) as c:
        assert show(c) == "1min"
