-- match_* read the title and fingerprint of the rows the index ranked from copies kept for the whole
-- search: a row written before ALTER TABLE ... ADD COLUMN ... DEFAULT (which stores the default
-- once, not in the row) reads the default, as a query of the table would.
BEGIN;
SELECT plan(2);

\set wav3 `base64 -w0 "$AFP_FIXTURES/song3.ogg"`
\set clip `base64 -w0 "$AFP_FIXTURES/clip_song3_at_7.5s.wav"`
CREATE TABLE kept_cat (id bigint PRIMARY KEY, fp afp NOT NULL);
INSERT INTO kept_cat VALUES (3, fingerprint(decode(:'wav3', 'base64')));
CREATE INDEX ON kept_cat USING afp_landmark (fp);
ALTER TABLE kept_cat ADD COLUMN title text DEFAULT 'added later';

SELECT is((SELECT title FROM kept_cat WHERE id = 3), 'added later', 'the table reads the default for the old row');
SELECT is((SELECT m.title FROM match_clip(decode(:'clip', 'base64'), 'kept_cat') m LIMIT 1), 'added later',
          'match_clip returns it too');

SELECT * FROM finish();
ROLLBACK;
