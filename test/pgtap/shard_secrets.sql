-- The coordinator shows a shard's connection string in its errors without the password, in the
-- URI form too, whatever characters the password holds: libpq ends a URI's user:password part
-- only at '@' (or at a '/' before any '@'), so '?', '#', spaces and quotes are part of it, and a
-- query parameter's value ends only at '&' (quotes are part of it). Skipped where PL/Proxy is not installed.
BEGIN;
SELECT plan(10);

CREATE FUNCTION pg_temp.shard_error(connstr text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    msg text;
    detail text;
BEGIN
    EXECUTE format('ALTER SERVER afp_shards OPTIONS (SET p0 %L)', connstr);
    -- Any fingerprint: port 1 refuses the connection before it is sent.
    PERFORM * FROM afp_shards.match_afp(afp_slice(fingerprint(pg_temp.tone()), 0, 3));
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RETURN msg || ' / ' || detail;
END $f$;

\i test/pgtap/include/wav.psql
-- Three seconds of a 440 Hz tone at 8 kHz, 16-bit mono.
CREATE FUNCTION pg_temp.tone() RETURNS bytea LANGUAGE sql AS $$
    SELECT pg_temp.wav_header(1, 1, 8000, 16, 48000) ||
           (SELECT string_agg(int2send((8000 * sin(2 * pi() * 440 * g / 8000))::int2), ''::bytea ORDER BY g)
            FROM generate_series(0, 23999) g)
$$;

SELECT (SELECT count(*) = 0 FROM pg_available_extensions WHERE name = 'plproxy') AS no_plproxy \gset
\if :no_plproxy
SELECT skip('PL/Proxy is not installed', 10);
\else
CREATE EXTENSION plproxy;
CREATE EXTENSION afp_shards;
CREATE SERVER afp_shards FOREIGN DATA WRAPPER plproxy OPTIONS (modular_mapping '1', p0 'dbname=x');
CREATE USER MAPPING FOR PUBLIC SERVER afp_shards;

SELECT matches(pg_temp.shard_error('postgresql://app:Secret1@127.0.0.1:1/db'),
               'shard p0 of cluster "afp_shards" failed / p0 is "postgresql://app@127\.0\.0\.1:1/db"',
               'a URI''s password is left out of the error');
SELECT unalike(pg_temp.shard_error('postgresql://app:Sec?ret2@127.0.0.1:1/db'), '%ret2%',
              'a password with ''?'' is left out whole');
SELECT unalike(pg_temp.shard_error('postgresql://app:Sec ret3@127.0.0.1:1/db'), '%ret3%',
              'a password with a space is left out whole');
SELECT unalike(pg_temp.shard_error('postgresql://app:Sec"ret4@127.0.0.1:1/db'), '%ret4%',
              'a password with a double quote is left out whole');
SELECT unalike(pg_temp.shard_error('postgresql://app:Sec#ret5@127.0.0.1:1/db'), '%ret5%',
              'a password with ''#'' is left out whole');
SELECT unalike(pg_temp.shard_error('postgresql://127.0.0.1:1/db?user=app&password=Sec ret6&sslmode=disable'), '%ret6%',
              'a password query parameter with a space is left out whole');
SELECT unalike(pg_temp.shard_error('postgresql://127.0.0.1:1/db?password=''Sec''ret8'), '%ret8%',
              'a password query parameter starting with a quote is left out whole');
-- libpq's own message quotes a token it cannot percent-decode: the password itself.
SELECT unalike(pg_temp.shard_error('postgresql://app:Se%zzcret9@127.0.0.1:1/db'), '%cret9%',
               'a password libpq cannot percent-decode is left out of what the shard said');
SELECT unalike(pg_temp.shard_error('postgresql://127.0.0.1:1/db?user=app&password=Se%zzcret10'), '%cret10%',
               '... in a query parameter too');
SELECT matches(pg_temp.shard_error('host=127.0.0.1 port=1 password=''Sec ret7'' dbname=db'),
               'p0 is "host=127\.0\.0\.1 port=1 dbname=db"',
               'a keyword/value password, quoted, is left out and the rest kept');
\endif

SELECT * FROM finish();
ROLLBACK;
