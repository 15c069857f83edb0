-- A search passes each stage's limits to the index without leaving a trace in the settings: a
-- direct index scan gets them with the scan, a search through SQL (a table with row-level
-- security, a view, the % operator) at a nested GUC level that ends with it, also when the search
-- fails half-way. Before 0.7.0 the glue wrote the settings' variables and put them back after.
BEGIN;
SELECT plan(10);

\set wav1 `base64 -w0 "$AFP_FIXTURES/song1.wav"`
\set wav2 `base64 -w0 "$AFP_FIXTURES/song2.flac"`
\set clip `base64 -w0 "$AFP_FIXTURES/clip_song3_at_7.5s.wav"`
\set wav3 `base64 -w0 "$AFP_FIXTURES/song3.ogg"`
CREATE TABLE settings_cat (id bigint PRIMARY KEY, title text, fp afp NOT NULL);
INSERT INTO settings_cat VALUES (1, 'song1', fingerprint(decode(:'wav1', 'base64'))),
                                (2, 'song2', fingerprint(decode(:'wav2', 'base64'))),
                                (3, 'song3', fingerprint(decode(:'wav3', 'base64')));
CREATE INDEX ON settings_cat USING afp_landmark (fp);
CREATE INDEX ON settings_cat USING gin (fp);
CREATE VIEW settings_view AS SELECT id, title, fp FROM settings_cat;
-- Row-level security makes match_* search through SQL (the executor applies the policy).
CREATE TABLE settings_rls (id bigint PRIMARY KEY, title text, fp afp NOT NULL);
INSERT INTO settings_rls SELECT * FROM settings_cat;
CREATE INDEX ON settings_rls USING afp_landmark (fp);
ALTER TABLE settings_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY every_row ON settings_rls FOR SELECT USING (true);
-- A policy that fails on a row: the search stops half-way, inside its nested level.
CREATE TABLE settings_failing (id bigint PRIMARY KEY, title text, fp afp NOT NULL);
INSERT INTO settings_failing SELECT * FROM settings_cat;
CREATE INDEX ON settings_failing USING afp_landmark (fp);
ALTER TABLE settings_failing ENABLE ROW LEVEL SECURITY;
CREATE POLICY failing ON settings_failing FOR SELECT USING (1 / (id - 3) IS NOT NULL);
CREATE ROLE afp_settings_reader;
GRANT SELECT ON settings_cat, settings_view, settings_rls, settings_failing TO afp_settings_reader;
CREATE TEMP TABLE settings_clip AS SELECT decode(:'clip', 'base64') AS audio;
GRANT SELECT ON settings_clip TO afp_settings_reader;
SET LOCAL ROLE afp_settings_reader;

SET LOCAL afp.index_max_postings = 2000;
SET LOCAL afp.index_min_votes = 4;
SET LOCAL afp.min_shared_hashes = 7;

CREATE FUNCTION pg_temp.settings() RETURNS text LANGUAGE sql AS $$
    SELECT current_setting('afp.index_max_postings') || ' ' || current_setting('afp.index_min_votes') || ' '
           || current_setting('afp.min_shared_hashes') $$;

SELECT is((SELECT m.track_id FROM settings_clip c, match_clip(c.audio, 'settings_cat') m LIMIT 1), 3::bigint,
          'a direct index scan finds the clip''s track');
SELECT is(pg_temp.settings(), '2000 4 7', '... and the settings are the session''s');
SELECT is((SELECT m.track_id FROM settings_clip c, match_clip(c.audio, 'settings_rls') m LIMIT 1), 3::bigint,
          'a search through SQL (row-level security) finds it');
SELECT is(pg_temp.settings(), '2000 4 7', '... and the settings are the session''s');
SELECT is((SELECT m.track_id FROM settings_clip c, match_clip(c.audio, 'settings_view') m LIMIT 1), 3::bigint,
          'a search of a view (the % operator) finds it');
SELECT is(pg_temp.settings(), '2000 4 7', '... and the settings are the session''s');

SELECT throws_ok($$SELECT * FROM settings_clip c, match_clip(c.audio, 'settings_failing')$$, '22012', NULL,
                 'a search through SQL that fails half-way raises its error');
SELECT is(pg_temp.settings(), '2000 4 7', '... and the settings are the session''s');

-- A shard's rank passes its limits with the scan: even below a setting's minimum, nothing is set.
RESET ROLE;
INSERT INTO afp_tracks (title, fp) SELECT title, fp FROM settings_cat ORDER BY id;
SELECT ok((SELECT count(*) FROM afp_shard_rank(ARRAY[(SELECT fp FROM settings_cat WHERE id = 3)], ARRAY[1::bigint],
                                                ARRAY[1], ARRAY[3])) >= 0,
          'afp_shard_rank with a budget of 1 posting answers');
SELECT is(pg_temp.settings(), '2000 4 7', '... and leaves the settings as they were');

SELECT * FROM finish();
ROLLBACK;
