"""Fixtures: a database of its own on the server the PG* variables point at (scripts/common.sh
points them at the private cluster), with the extension, a few catalogues and a role without
privileges; the audio fixtures of test/data (scripts/make-fixtures)."""
import os

import psycopg
import pytest

DB = os.environ.get("AFP_PYTHON_TEST_DB", "afp_python_test")
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.environ.get("AFP_FIXTURES") or os.path.join(HERE, "..", "..", "test", "data")

SETUP = """
CREATE EXTENSION afp;
-- the default catalogue: made by CREATE EXTENSION up to 0.6.0, by afp_create_catalog() since 0.7.0
DO $$ BEGIN IF to_regclass('afp_tracks') IS NULL THEN PERFORM afp_create_catalog(); END IF; END $$;
CREATE TABLE afp_py_private (id bigint PRIMARY KEY, title text, fp afp);
CREATE TABLE afp_py_noafp (id bigint PRIMARY KEY, title text);
CREATE TABLE afp_py_twoafp (id bigint PRIMARY KEY, a afp, b afp);
CREATE SEQUENCE afp_py_seq;
CREATE TABLE afp_py_items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text, fp afp, meta jsonb);
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'afp_py_nobody') THEN CREATE ROLE afp_py_nobody NOLOGIN; END IF;
END $$;
REVOKE ALL ON afp_py_private FROM PUBLIC;
"""


def fixture_path(name):
    path = os.path.join(FIXTURES, name)
    if not os.path.exists(path):
        pytest.skip("fixture %s missing: run scripts/make-fixtures" % name)
    return path


def fixture_bytes(name):
    with open(fixture_path(name), "rb") as f:
        return f.read()


@pytest.fixture(scope="session")
def dsn():
    with psycopg.connect(dbname="postgres", autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS %s" % DB)
        admin.execute("CREATE DATABASE %s" % DB)
    with psycopg.connect(dbname=DB, autocommit=True) as conn:
        conn.execute(SETUP)
    yield "dbname=%s" % DB
    with psycopg.connect(dbname="postgres", autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)


@pytest.fixture(scope="session")
def catalog(dsn):
    """afp_tracks with song2 and song3; returns their ids."""
    import afp
    with afp.Client.connect(dsn) as client:
        ids = {"song2": client.learn("song2", fixture_path("song2.flac")),
               "song3": client.learn("song3", fixture_bytes("song3.ogg"), meta={"file": "song3.ogg"})}
    return ids


@pytest.fixture
def conn(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        yield c
