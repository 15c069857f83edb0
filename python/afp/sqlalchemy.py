"""afp in SQLAlchemy (1.4 and 2.0): the column type AFP and table-valued match_clip / match_afp.

    from sqlalchemy import Column, BigInteger, Text, select
    from afp.sqlalchemy import AFP, fingerprint, match_clip

    class Track(Base):
        __tablename__ = "afp_tracks"
        id = Column(BigInteger, primary_key=True)
        title = Column(Text)
        fp = Column(AFP, nullable=False)

    session.add(Track(title="Song", fp=fingerprint(audio_bytes)))   # fingerprinted by the server
    m = match_clip(clip_bytes, max_results=3)
    for row in session.execute(select(m.c.track_id, m.c.title, m.c.offset_s).where(m.c.confidence > 0.9)):
        ...

AFP values travel in the text form, cast on the server side (``CAST(CAST(:p AS TEXT) AS afp)``
and ``CAST(fp AS TEXT)``), so the type works with every driver (psycopg2, psycopg, asyncpg,
pg8000) whether or not that driver has afp's adapters registered. Columns load as Fingerprint.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer, LargeBinary, Text, cast, column, func, literal, type_coerce
from sqlalchemy.dialects.postgresql import REGCLASS
from sqlalchemy.types import UserDefinedType

from .fingerprint import Fingerprint

__all__ = ["AFP", "fingerprint", "match_clip", "match_afp", "MATCH_COLUMNS"]


class AFP(UserDefinedType):
    """The afp column type; Python values are Fingerprint (text in the afp form is accepted too)."""

    cache_ok = True

    def get_col_spec(self, **kw):
        return "afp"

    def bind_processor(self, dialect):
        def process(value):
            if value is None or isinstance(value, str):
                return value
            if isinstance(value, Fingerprint):
                return value.to_text()
            raise TypeError("an afp parameter must be a Fingerprint or its text form, not %s" % type(value).__name__)
        return process

    def bind_expression(self, bindvalue):
        return cast(cast(bindvalue, Text), AFP())

    def column_expression(self, col):
        return type_coerce(cast(col, Text), self)

    def result_processor(self, dialect, coltype):
        def process(value):
            if value is None or isinstance(value, Fingerprint):
                return value
            return Fingerprint.from_text(value)
        return process

    class comparator_factory(UserDefinedType.Comparator):
        def shares_hash(self, other):
            """``fp && other``: at least one hash in common (served by the GIN index)."""
            return self.op("&&", return_type=_Boolean())(other)

        def similar_to(self, other):
            """``fp % other``: at least afp.min_shared_hashes hashes in common."""
            return self.op("%", return_type=_Boolean())(other)

        def vote_distance(self, other):
            """``fp <~> other``, for ORDER BY ... LIMIT k through the afp_landmark index."""
            return self.op("<~>", return_type=Float())(other)


def _Boolean():
    from sqlalchemy import Boolean
    return Boolean()


# The columns of match_clip / match_afp, in order (docs/sql-reference.md, "Recognition result").
MATCH_COLUMNS = (
    ("track_id", BigInteger), ("title", Text), ("score", Integer), ("offset_s", Float), ("confidence", Float),
    ("matched_s", Float), ("clip_start_s", Float), ("clip_end_s", Float), ("track_start_s", Float),
    ("track_end_s", Float), ("speed", Float), ("tempo", Float), ("pitch", Float),
)


def _audio(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return literal(bytes(value), LargeBinary)
    return value  # a column or another SQL expression


def _quoted(name) -> str:
    """A Table's name or schema as regclass input reads it: quoted, so that it keeps its case and
    its dots (Table("Tracks") is "Tracks", not tracks), unless SQLAlchemy was told not to quote it."""
    if getattr(name, "quote", None) is False:
        return str(name)
    return '"%s"' % str(name).replace('"', '""')


def _catalog(catalog):
    """The catalogue argument as a regclass: a Table, a table name (regclass input: 'music.tracks',
    '"Tracks"'), or a SQL expression."""
    if catalog is None:
        catalog = "afp_tracks"
    if hasattr(catalog, "fullname"):  # a Table: its fullname is unquoted ("my.schema.Tracks")
        parts = ([catalog.schema] if catalog.schema else []) + [catalog.name]
        catalog = ".".join(_quoted(p) for p in parts)
    if isinstance(catalog, str):
        return cast(literal(catalog, Text), REGCLASS)
    return catalog


def fingerprint(audio):
    """``fingerprint(audio)``: an afp made by the server from encoded audio bytes."""
    return func.fingerprint(_audio(audio), type_=AFP)


def _matches(fn_name, query, catalog, max_results, name):
    fn = getattr(func, fn_name)(query, _catalog(catalog), max_results)
    return fn.table_valued(*(column(n, t) for n, t in MATCH_COLUMNS), name=name)


def match_clip(clip, catalog=None, max_results: int = 5, name: str = "match"):
    """``match_clip(clip, catalog, max_results)`` as a table in FROM: select its ``.c`` columns."""
    return _matches("match_clip", _audio(clip), catalog, max_results, name)


def match_afp(query, catalog=None, max_results: int = 5, name: str = "match"):
    """``match_afp(query, catalog, max_results)`` for a Fingerprint or an afp expression."""
    if isinstance(query, Fingerprint):
        query = literal(query, AFP)
    return _matches("match_afp", query, catalog, max_results, name)
