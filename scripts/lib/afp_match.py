#!/usr/bin/python3
"""afp-match: the best catalogue match of each audio file, one line per file.

Prints "FILE<TAB>TITLE<TAB>offset_s<TAB>confidence<TAB>track_id", or "FILE<TAB>-" when nothing in
the catalogue matches. Exit status 1 if a file could not be read or decoded.
"""
import argparse
import os
import sys

import psycopg2
from psycopg2 import sql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import afp_client  # noqa: E402


def main():
    ap = argparse.ArgumentParser(prog="afp-match", description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", help="audio files and directories (searched recursively)")
    ap.add_argument("-d", "--dbname", help="connection string or URI (default: the PG* environment)")
    ap.add_argument("-t", "--table", default="afp_tracks", help="catalogue (default afp_tracks)")
    args = ap.parse_args()
    try:
        conn = afp_client.connect(args.dbname)
    except psycopg2.Error as e:
        afp_client.die("afp-match: %s" % afp_client.describe(e))
    query = sql.SQL("SELECT title, offset_s, confidence, track_id FROM match_clip(%s, {}::regclass, 1)").format(
        sql.Literal(args.table))
    failed = False
    for path in afp_client.audio_files(args.paths):
        try:
            with open(path, "rb") as f:
                data = f.read()
            with conn.cursor() as cur:
                cur.execute(query, (psycopg2.Binary(data),))
                row = cur.fetchone()
        except (OSError, psycopg2.Error) as e:
            print("%s\terror: %s" % (path, afp_client.describe(e)), file=sys.stderr)
            failed = True
            continue
        if row is None:
            print("%s\t-" % path)
        else:
            print("%s\t%s\t%.3f\t%.3f\t%d" % (path, row[0], row[1], row[2], row[3]))
        sys.stdout.flush()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
