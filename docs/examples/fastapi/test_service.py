"""Starts the example service with uvicorn against a fresh database and drives it over real HTTP."""
import os
import socket
import subprocess
import sys
import time

from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.environ["AFP_FIXTURES"]
DB = "afp_fastapi_test"
n = 0


def ok(name, cond):
    global n
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, name), flush=True)


def upload(client, path, url, **params):
    with open(path, "rb") as f:
        return client.post(url, params=params, files={"file": (os.path.basename(path), f, "audio/x-wav")})


def concurrently(calls):
    """Runs the calls at the same time, each on its own HTTP connection; their results in order."""
    def run(call):
        with httpx.Client(base_url=base, timeout=120) as own:
            return call(own)
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


admin = psycopg.connect(dbname="postgres", autocommit=True)
admin.execute("DROP DATABASE IF EXISTS %s" % DB)
admin.execute("CREATE DATABASE %s" % DB)
with psycopg.connect(dbname=DB, autocommit=True) as c:
    c.execute("CREATE EXTENSION afp")
    c.execute("SELECT afp_create_catalog()")

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
env = dict(os.environ, AFP_DSN="dbname=%s" % DB, AFP_MAX_UPLOAD_BYTES=str(8 * 1024 * 1024))
server = subprocess.Popen([sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)],
                          cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
try:
    base = "http://127.0.0.1:%d" % port
    for _ in range(100):
        try:
            httpx.get(base + "/stats", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    with httpx.Client(base_url=base, timeout=60) as client:
        r = upload(client, os.path.join(FIXTURES, "song2.flac"), "/tracks", title="Song Two")
        ok("POST /tracks learns a track (201, id, title, seconds)",
           r.status_code == 201 and r.json()["title"] == "Song Two" and abs(r.json()["seconds"] - 20) < 0.1)
        song2 = r.json()["id"]
        r = upload(client, os.path.join(FIXTURES, "song3.ogg"), "/tracks")
        ok("POST /tracks titles a track after its file name", r.status_code == 201 and r.json()["title"] == "song3")

        r = upload(client, os.path.join(FIXTURES, "clip_song2_at_11.25s_snr5.mp3"), "/recognize")
        m = r.json()["matches"]
        ok("POST /recognize names the track of a noisy MP3 clip and where it starts",
           r.status_code == 200 and m and m[0]["track_id"] == song2 and abs(m[0]["offset_s"] - 11.25) < 0.1)
        r = upload(client, os.path.join(FIXTURES, "clip_unknown.wav"), "/recognize")
        ok("POST /recognize returns no match for music not in the catalogue", r.status_code == 200 and r.json()["matches"] == [])

        r = upload(client, os.path.join(FIXTURES, "not_audio.txt"), "/recognize")
        ok("undecodable bytes: 422 with the SQLSTATE", r.status_code == 422 and r.json()["detail"]["sqlstate"] == "22000")
        r = upload(client, os.path.join(FIXTURES, "silence.wav"), "/tracks")
        ok("a silent track: 422 'audio is silent'", r.status_code == 422 and "silent" in r.json()["detail"]["message"])
        r = client.post("/recognize", files={"file": ("empty.wav", b"", "audio/x-wav")})
        ok("an empty upload: 400", r.status_code == 400)
        r = client.post("/recognize", files={"file": ("notes.txt", b"hello", "text/plain")})
        ok("a non-audio content type: 415", r.status_code == 415)
        r = client.post("/recognize", files={"file": ("big.wav", b"\0" * (8 * 1024 * 1024 + 1), "audio/x-wav")})
        ok("an upload over the size limit: 413", r.status_code == 413)

        r = client.get("/tracks")
        ok("GET /tracks lists both tracks", r.status_code == 200 and [t["title"] for t in r.json()] == ["Song Two", "song3"])
        r = client.get("/stats")
        ok("GET /stats counts tracks and hours", r.status_code == 200 and r.json()["tracks"] == 2
           and abs(r.json()["hours"] - 40 / 3600) < 1e-3)
        # Concurrent requests: more than the pool's 4 connections at once, errors mixed in.
        noisy, unknown, bad = (os.path.join(FIXTURES, n) for n in
                               ("clip_song2_at_11.25s_snr5.mp3", "clip_unknown.wav", "not_audio.txt"))
        calls = [lambda cl: upload(cl, noisy, "/recognize")] * 4 + [lambda cl: upload(cl, unknown, "/recognize")] * 3 \
            + [lambda cl: upload(cl, bad, "/recognize")] * 3
        rs = concurrently(calls)
        ok("10 concurrent /recognize: each noisy clip named (4), each unknown clip unmatched (3)",
           all(r.status_code == 200 and r.json()["matches"] and r.json()["matches"][0]["track_id"] == song2
               and abs(r.json()["matches"][0]["offset_s"] - 11.25) < 0.1 for r in rs[:4])
           and all(r.status_code == 200 and r.json()["matches"] == [] for r in rs[4:7]))
        ok("... and the 3 undecodable uploads among them get 422 without disturbing the others",
           all(r.status_code == 422 and r.json()["detail"]["sqlstate"] == "22000" for r in rs[7:]))
        files = ["song1.wav", "song4.mp3", "song5.opus", "song6.wav"]
        rs = concurrently([lambda cl, f=f: upload(cl, os.path.join(FIXTURES, f), "/tracks") for f in files])
        ok("4 concurrent POST /tracks: 201 each, distinct ids",
           all(r.status_code == 201 for r in rs) and len({r.json()["id"] for r in rs}) == 4
           and sorted(r.json()["title"] for r in rs) == ["song1", "song4", "song5", "song6"])
        rs = concurrently([lambda cl: cl.get("/stats")] * 5 + [lambda cl: cl.get("/tracks")] * 5)
        ok("concurrent GET /stats and /tracks agree: 6 tracks",
           all(r.status_code == 200 for r in rs) and all(r.json()["tracks"] == 6 for r in rs[:5])
           and all(len(r.json()) == 6 for r in rs[5:]))

        r = client.delete("/tracks/%d" % song2)
        ok("DELETE /tracks/{id}: 204", r.status_code == 204)
        r = client.delete("/tracks/%d" % song2)
        ok("DELETE of a missing track: 404", r.status_code == 404)
        r = upload(client, os.path.join(FIXTURES, "clip_song2_at_11.25s_snr5.mp3"), "/recognize")
        ok("a deleted track is no longer recognised", r.status_code == 200 and r.json()["matches"] == [])
finally:
    server.terminate()
    server.wait(10)
    admin.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)
print("1..%d" % n)
