"""Starts the example service with uvicorn against a fresh database and drives it over real HTTP."""
import os
import socket
import subprocess
import sys
import time

import httpx
import psycopg2

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


admin = psycopg2.connect(dbname="postgres")
admin.autocommit = True
admin.cursor().execute("DROP DATABASE IF EXISTS %s" % DB)
admin.cursor().execute("CREATE DATABASE %s" % DB)
c = psycopg2.connect(dbname=DB)
c.autocommit = True
c.cursor().execute("CREATE EXTENSION afp")
c.close()

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
        r = client.delete("/tracks/%d" % song2)
        ok("DELETE /tracks/{id}: 204", r.status_code == 204)
        r = client.delete("/tracks/%d" % song2)
        ok("DELETE of a missing track: 404", r.status_code == 404)
        r = upload(client, os.path.join(FIXTURES, "clip_song2_at_11.25s_snr5.mp3"), "/recognize")
        ok("a deleted track is no longer recognised", r.status_code == 200 and r.json()["matches"] == [])
finally:
    server.terminate()
    server.wait(10)
    admin.cursor().execute("DROP DATABASE IF EXISTS %s" % DB)
print("1..%d" % n)
