-- afp 0.6.0 -> 0.7.0: hardening (hostile-testing fixes), the catalogue outside the extension,
-- and PostgreSQL 16-19.
\echo Use "ALTER EXTENSION afp UPDATE TO '0.7.0'" to load this file. \quit
