-- The afp type: text form round trip, binary (COPY BINARY) round trip, accessors, malformed input.
\i sql/include/fresh.psql

-- A hand-written fingerprint: 3 landmarks, 1 s of audio at 8 kHz.
SELECT '1:1:8000:128:8000:23341697@5,23341697@9,23348097@1'::afp;
SELECT afp_duration('1:1:8000:128:8000:23341697@5,23341697@9,23348097@1'),
       afp_landmark_count('1:1:8000:128:8000:23341697@5,23341697@9,23348097@1'),
       afp_param_set('1:1:8000:128:8000:23341697@5,23341697@9,23348097@1'),
       afp_hashes('1:1:8000:128:8000:23341697@5,23341697@9,23348097@1');
SELECT * FROM afp_landmarks('1:1:8000:128:8000:23341697@5,23341697@9,23348097@1');

-- An empty fingerprint is a value like any other.
SELECT '1:1:8000:128:0:'::afp, afp_landmark_count('1:1:8000:128:0:'), afp_hashes('1:1:8000:128:0:');

-- Whitespace around the value is accepted; the output is canonical.
SELECT '  1:1:8000:128:8000:23341697@5 '::afp;

-- Malformed text: each says what is wrong (SQLSTATE 22P02).
\set VERBOSITY default
SELECT ''::afp;
SELECT 'hello'::afp;
SELECT '2:1:8000:128:8000:'::afp;
SELECT '1:7:8000:128:8000:'::afp;
SELECT '1:1:16000:128:8000:'::afp;
SELECT '1:1:8000:128:8000:23348097@1,23341697@5'::afp;
SELECT '1:1:8000:128:8000:23341697@5,23341697@5'::afp;
SELECT '1:1:8000:128:8000:5@5'::afp;
SELECT '1:1:8000:128:8000:23341697@999'::afp;
SELECT '1:1:8000:128:8000:23341697@5,'::afp;

-- A real fingerprint survives text and binary round trips unchanged.
\set song1 `base64 -w0 "$AFP_FIXTURES/song1.wav"`
CREATE TEMP TABLE fps AS SELECT fingerprint(decode(:'song1', 'base64')) AS fp;
SELECT (fp::text)::afp::text = fp::text AS text_round_trip FROM fps;
\copy fps TO 'build/regress/fps.bin' WITH (FORMAT binary)
CREATE TEMP TABLE fps_back (fp afp);
\copy fps_back FROM 'build/regress/fps.bin' WITH (FORMAT binary)
SELECT a.fp::text = b.fp::text AS binary_round_trip, afp_landmark_count(b.fp) > 0 AS has_landmarks
FROM fps a, fps_back b;

-- Hashes come out distinct and ascending; landmarks and count agree.
SELECT afp_hashes(fp) = ARRAY(SELECT DISTINCT h FROM unnest(afp_hashes(fp)) h ORDER BY h) AS hashes_sorted_distinct,
       (SELECT count(*) FROM afp_landmarks(fp)) = afp_landmark_count(fp) AS landmarks_match_count,
       (SELECT count(DISTINCT hash) FROM afp_landmarks(fp)) = cardinality(afp_hashes(fp)) AS distinct_hashes_match
FROM fps;
