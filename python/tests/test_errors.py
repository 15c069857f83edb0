"""Every SQLSTATE afp reports maps to its exception class, for every driver: each error is provoked
for real on the server (bad audio, malformed values, limits, catalogues, privileges, a timeout)."""
import asyncio
import struct

import pytest

import afp
from afp import errors
from afp.fingerprint import Fingerprint
from conftest import fixture_bytes

# A value whose framing is right but which the server refuses: a landmark past the audio's frames.
BAD_FP = Fingerprint(n_samples=0, landmarks=((23341697, 5),))
CLIP = "clip_song3_at_7.5s.wav"

# name: (setup statements, query with %s, parameters (fixture names as ('file', name)), class, SQLSTATE,
#        the afp statement that ran: the name translate() takes)
CASES = {
    "undecodable audio": ([], "SELECT fingerprint(%s)", [("file", "not_audio.txt")], afp.UnreadableAudio, "22000", "fingerprint"),
    "truncated audio": ([], "SELECT fingerprint(%s)", [("file", "truncated.flac")], afp.UnreadableAudio, "22000", "fingerprint"),
    "NaN samples": ([], "SELECT fingerprint(%s)", [("file", "nan.wav")], afp.UnreadableAudio, "22000", "fingerprint"),
    "silent audio": ([], "SELECT fingerprint(%s)", [("file", "silence.wav")], afp.SilentAudio, "22000", "fingerprint"),
    "empty audio": ([], "SELECT fingerprint(%s)", [b""], afp.EmptyAudio, "22023", "fingerprint"),
    "max_results < 1": ([], "SELECT * FROM match_clip(%s, 'afp_tracks', 0)", [("file", CLIP)],
                        afp.InvalidParameter, "22023", "match_clip"),
    "malformed text afp": ([], "SELECT %s::text::afp", ["1:1:8000:128:0:23341697@5"], afp.MalformedFingerprint,
                           "22P02", "afp_value"),
    "malformed binary afp": ([], "binary", [BAD_FP], afp.MalformedFingerprint, "22P03", "afp_value"),
    "audio larger than afp.max_audio_bytes": (["SET afp.max_audio_bytes = 1000"], "SELECT fingerprint(%s)",
                                              [("file", "song1.wav")], afp.LimitExceeded, "54000", "fingerprint"),
    "clip longer than afp.max_clip_seconds": (["SET afp.max_clip_seconds = 1"],
                                              "SELECT * FROM match_clip(%s)", [("file", CLIP)],
                                              afp.LimitExceeded, "54000", "match_clip"),
    "no such catalogue": ([], "SELECT * FROM match_clip(%s, 4000000000::oid::regclass)", [("file", CLIP)],
                          afp.InvalidCatalog, "42P01", "match_clip"),
    "catalogue without afp column": ([], "SELECT * FROM match_clip(%s, 'afp_py_noafp')", [("file", CLIP)],
                                     afp.InvalidCatalog, "42703", "match_clip"),
    "catalogue with two afp columns": ([], "SELECT * FROM match_clip(%s, 'afp_py_twoafp')", [("file", CLIP)],
                                       afp.InvalidCatalog, "42702", "match_clip"),
    "catalogue that exists already": ([], "SELECT afp_create_catalog(%s)", ["afp_py_items"],
                                      afp.CatalogExists, "42P07", "afp_create_catalog"),
    "catalogue that is a sequence": ([], "SELECT * FROM match_clip(%s, 'afp_py_seq')", [("file", CLIP)],
                                     afp.InvalidCatalog, "42809", "match_clip"),
    "catalogue the role cannot read": (["SET ROLE afp_py_nobody"], "SELECT * FROM match_clip(%s, 'afp_py_private')",
                                       [("file", CLIP)], afp.InsufficientPrivilege, "42501", "match_clip"),
    "function the role cannot run": (["SET ROLE afp_py_nobody"],
                                     "SELECT * FROM afp_index_check('afp_tracks_fp_landmark_idx')", [],
                                     afp.InsufficientPrivilege, "42501", "afp_index_check"),
    "statement_timeout": (["SET statement_timeout = '200ms'"],
                          "SELECT count(fingerprint(CASE WHEN g > 0 THEN %s::bytea END)) FROM generate_series(1, 500) g",
                          [("file", "song1.wav")], afp.QueryCanceled, "57014", "fingerprint"),
}


def _params(params):
    return [fixture_bytes(p[1]) if isinstance(p, tuple) else p for p in params]


def _pgcopy_binary(value: bytes) -> bytes:
    """A COPY ... (FORMAT binary) stream of one row with one field."""
    return (b"PGCOPY\n\xff\r\n\0" + struct.pack("!ii", 0, 0) + struct.pack("!hi", 1, len(value)) + value
            + struct.pack("!h", -1))


def _audio(params):
    return params[0] if params and isinstance(params[0], bytes) else None


def run_psycopg(dsn, setup, query, params, statement=None):
    import psycopg
    import afp.psycopg
    with psycopg.connect(dsn, autocommit=True) as c:
        afp.psycopg.register_afp(c)
        for s in setup:
            c.execute(s)
        try:
            if query == "binary":
                c.execute("SELECT %b::text", params)
            else:
                c.execute(query, params).fetchall()
        except psycopg.Error as e:
            return e, afp.psycopg.translate(e, statement, _audio(params))


def run_psycopg2(dsn, setup, query, params, statement=None):
    import psycopg2
    import afp.psycopg2
    c = psycopg2.connect(dsn)
    c.autocommit = True
    try:
        cur = c.cursor()
        for s in setup:
            cur.execute(s)
        try:
            if query == "binary":  # psycopg2 speaks text only: send the binary form through COPY
                import io
                cur.execute("CREATE TEMP TABLE t (fp afp)")
                cur.copy_expert("COPY t FROM STDIN (FORMAT binary)", io.BytesIO(_pgcopy_binary(params[0].to_binary())))
            else:
                cur.execute(query, [p if not isinstance(p, bytes) else psycopg2.Binary(p) for p in params])
                cur.fetchall()
        except psycopg2.Error as e:
            return e, afp.psycopg2.translate(e, statement, _audio(params))
    finally:
        c.close()


def run_asyncpg(dsn, setup, query, params, statement=None):
    import asyncpg
    import afp.asyncpg

    async def go():
        c = await asyncpg.connect(database=dsn.split("=", 1)[1])
        try:
            await afp.asyncpg.register_afp(c)
            for s in setup:
                await c.execute(s)
            try:
                if query == "binary":
                    await c.fetch("SELECT $1::afp::text", *params)
                else:
                    await c.fetch(_numbered(query), *params)
            except asyncpg.PostgresError as e:
                return e, afp.asyncpg.translate(e, statement, _audio(params))
        finally:
            await c.close()

    return asyncio.run(go())


def _numbered(query):
    """%s placeholders as asyncpg's $1, $2, ..."""
    parts = query.split("%s")
    return "".join(p + ("$%d" % (i + 1) if i < len(parts) - 1 else "") for i, p in enumerate(parts))


DRIVERS = {"psycopg": run_psycopg, "psycopg2": run_psycopg2, "asyncpg": run_asyncpg}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("driver", list(DRIVERS))
def test_sqlstate_maps_to_class(dsn, catalog, driver, case):
    setup, query, params, cls, sqlstate, statement = CASES[case]
    got = DRIVERS[driver](dsn, setup, query, _params(params), statement)
    assert got is not None, "no error was raised"
    raw, err = got
    assert isinstance(err, cls), (raw, err)
    assert type(err) is cls
    assert err.sqlstate == sqlstate and err.__cause__ is raw and err.message


def documented_sqlstates():
    """The SQLSTATEs of docs/sql-reference.md's error table (warnings, class 01, are not errors)."""
    import pathlib
    import re
    ref = pathlib.Path(__file__).resolve().parents[2] / "docs" / "sql-reference.md"
    text = ref.read_text()
    table = text[text.index("## Errors"):]
    table = table[:table.index("\n#", 1)]
    states = set()
    for line in table.splitlines():
        cells = line.split("|")
        if len(cells) > 2:
            states.update(s for s in re.findall(r"\b[0-9A-Z]{5}\b", cells[1]) if not s.startswith("01"))
    return states


def test_every_documented_sqlstate_has_a_class():
    # docs/sql-reference.md, "Errors", plus out of memory from src/pg/errors.c
    # (2BP01 is PostgreSQL's refusal of a plain DROP EXTENSION afp, not an error of afp's statements.)
    documented = (documented_sqlstates() - {"2BP01"}) | {"53200"}
    assert "22000" in documented and "08006" in documented
    assert documented == set(errors.SQLSTATES)
    for s in documented:
        assert issubclass(errors.class_for(s), afp.AfpError)


@pytest.mark.parametrize("sqlstate, cls", [("XX001", afp.CorruptedData), ("XX002", afp.CorruptedData),
                                            ("53200", afp.ResourceExhausted), ("08006", afp.ShardUnavailable),
                                            ("42704", afp.ShardError), ("55000", afp.ShardError),
                                            ("08P01", afp.ShardError)])
def test_states_not_provoked_map_too(sqlstate, cls):
    # (The sharded catalogue's errors are provoked by test/t/006_shards.pl; here only their mapping.)
    # A corrupted value or index and an allocation failure cannot be made to happen on demand.
    err = errors.from_fields(sqlstate, "message", "detail", "hint")
    assert type(err) is cls and err.sqlstate == sqlstate and str(err) == "message\nDETAIL: detail\nHINT: hint"


@pytest.mark.parametrize("driver", list(DRIVERS))
def test_other_errors_are_not_translated(dsn, driver):
    raw, err = DRIVERS[driver](dsn, [], "SELEC 1", [])
    assert err is None and raw is not None


# -- by the statement that raised it, not by the SQLSTATE alone -------------------------------------

# Errors of statements that are not afp's, with SQLSTATEs afp uses too: not afp's errors.
NOT_AFP = {
    "a missing table": ([], "SELECT * FROM no_such_table_here", [], "42P01"),
    "a table the role cannot read": (["SET ROLE afp_py_nobody"], "SELECT * FROM afp_py_private", [], "42501"),
    "a timeout in pg_sleep": (["SET statement_timeout = '50ms'"], "SELECT pg_sleep(5)", [], "57014"),
    "a malformed integer": ([], "SELECT 'x'::integer", [], "22P02"),
}
# An afp statement that reports each of them.
AFP_STATEMENT_FOR = {"42P01": "match_clip", "42501": "match_clip", "57014": "fingerprint", "22P02": "match_afp"}


@pytest.mark.parametrize("case", list(NOT_AFP))
@pytest.mark.parametrize("driver", list(DRIVERS))
def test_generic_sqlstates_of_other_statements_are_not_afp_errors(dsn, driver, case):
    setup, query, params, sqlstate = NOT_AFP[case]
    raw, err = DRIVERS[driver](dsn, setup, query, params)
    assert errors.translate(raw) is None and err is None, (raw, err)
    assert (getattr(raw, "sqlstate", None) or raw.pgcode) == sqlstate
    # ... and the same SQLSTATE from an afp statement is afp's
    assert errors.translate(raw, AFP_STATEMENT_FOR[sqlstate]) is not None


@pytest.mark.parametrize("case", ["undecodable audio", "silent audio", "malformed text afp", "no such catalogue",
                                  "clip longer than afp.max_clip_seconds"])
def test_without_a_statement_errors_raised_by_afp_are_translated(dsn, catalog, case):
    setup, query, params, cls, sqlstate, _ = CASES[case]
    raw, err = run_psycopg(dsn, setup, query, _params(params))
    assert type(err) is cls and err.sqlstate == sqlstate


def test_a_statement_maps_only_what_it_reports():
    assert errors.class_for("42P01", "match_clip") is afp.InvalidCatalog
    assert errors.class_for("22P02", "match_clip") is None and errors.class_for("22P02", "match_afp") is afp.MalformedFingerprint
    assert errors.class_for("42883", "fingerprint") is afp.AfpNotInstalled
    assert errors.class_for("22023", "fingerprint", audio=b"") is afp.EmptyAudio
    assert errors.class_for("22023", "match_clip", audio=b"RIFF") is afp.InvalidParameter
    with pytest.raises(ValueError):
        errors.class_for("22000", "no_such_statement")


def test_afp_source_files_are_known():
    # Without a statement, translate() trusts the source file the server names: every C file of the
    # extension must be one it recognises.
    import pathlib
    src = pathlib.Path(__file__).resolve().parents[2] / "src" / "pg"
    names = [p.name for p in src.glob("*.c")]
    assert names and all(errors._is_afp_source(n) for n in names)
    assert not errors._is_afp_source("parse_relation.c") and not errors._is_afp_source(None)


def test_errors_carry_detail_and_hint(dsn):
    # The server's advice reaches the user: a clip over afp.max_clip_seconds says to use match_segments().
    with afp.Client.connect(dsn, options="-c afp.max_clip_seconds=1") as client:
        with pytest.raises(afp.LimitExceeded) as e:
            client.recognize(fixture_bytes(CLIP))
    assert e.value.sqlstate == "54000" and "match_segments()" in e.value.hint
    assert str(e.value).startswith(e.value.message) and str(e.value).endswith("\nHINT: " + e.value.hint)
    if e.value.detail:
        assert "\nDETAIL: %s\n" % e.value.detail in str(e.value)


def test_errors_translate_exists():
    # python/README.md names afp.errors.translate: it exists and is what the drivers' translate use.
    import afp.psycopg
    assert callable(errors.translate) and errors.translate is errors.from_exception
    assert afp.psycopg.translate.__doc__ and "afp.errors.translate" in afp.psycopg.translate.__doc__
