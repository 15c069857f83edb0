#!/usr/bin/python3
"""afp-match: the best catalogue match of each audio file, one line per file.

Prints "FILE<TAB>TITLE<TAB>offset_s<TAB>confidence<TAB>track_id", or "FILE<TAB>-" when nothing in
the catalogue matches. Exit status 1 if a file could not be read or decoded.
"""
import argparse
import os
import sys

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from afp_tools import afp, audio_files, connect, describe, die  # noqa: E402


def main():
    ap = argparse.ArgumentParser(prog="afp-match", description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", help="audio files and directories (searched recursively)")
    ap.add_argument("-d", "--dbname", help="connection string or URI (default: the PG* environment)")
    ap.add_argument("-t", "--table", default="afp_tracks", help="catalogue (default afp_tracks)")
    args = ap.parse_args()
    try:
        client = afp.Client(connect(args.dbname), catalog=args.table)
    except (psycopg.Error, afp.AfpError) as e:
        die("afp-match: %s" % describe(e))
    failed = False
    for path in audio_files(args.paths):
        try:
            matches = client.recognize(path, max_results=1)
        except (OSError, psycopg.Error, afp.AfpError) as e:
            print("%s\terror: %s" % (path, describe(e)), file=sys.stderr)
            failed = True
            continue
        if not matches:
            print("%s\t-" % path)
        else:
            m = matches[0]
            print("%s\t%s\t%.3f\t%.3f\t%d" % (path, m.title, m.offset_s, m.confidence, m.track_id))
        sys.stdout.flush()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
