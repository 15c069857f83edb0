"""Starts the example service with uvicorn against a fresh database and drives it over real HTTP."""
import os
import select
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
LIMIT = 8 * 1024 * 1024  # the service's AFP_MAX_UPLOAD_BYTES here
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


def endless_upload(port, declared=None, give_up_bytes=16 * LIMIT, give_up_s=60):
    """POSTs to /recognize a multipart body that never ends: chunked, or (declared) with a Content-Length
    of that many bytes and then nothing sent at all. Returns (HTTP status or None, bytes of body sent
    before the answer came)."""
    s = socket.create_connection(("127.0.0.1", port))
    head = "POST /recognize HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=b0undary\r\n"
    head += ("Content-Length: %d\r\n" % declared) if declared else "Transfer-Encoding: chunked\r\n"
    s.sendall((head + "\r\n").encode())
    s.setblocking(False)
    out = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wav\"\r\n" \
          b"Content-Type: audio/x-wav\r\n\r\n"
    out = b"%x\r\n%s\r\n" % (len(out), out)
    frame = b"%x\r\n%s\r\n" % (65536, b"\x01" * 65536)
    sent, answer, t0 = 0, b"", time.time()
    try:
        while time.time() - t0 < give_up_s and sent < give_up_bytes and b"\r\n" not in answer:
            readable, writable, _ = select.select([s], [] if declared else [s], [], 1)
            if readable:
                data = s.recv(65536)
                if not data:
                    break
                answer += data
            if writable:
                n = s.send(out)
                sent += n
                out = out[n:] or frame
    except ConnectionError:
        pass
    finally:
        s.close()
    status = int(answer.split(b" ")[1]) if answer.startswith(b"HTTP/1.1 ") else None
    return status, sent


admin = psycopg.connect(dbname="postgres", autocommit=True)
admin.execute("DROP DATABASE IF EXISTS %s" % DB)
admin.execute("CREATE DATABASE %s" % DB)
with psycopg.connect(dbname=DB, autocommit=True) as c:
    c.execute("CREATE EXTENSION afp")
    c.execute("SELECT afp_create_catalog()")

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
env = dict(os.environ, AFP_DSN="dbname=%s" % DB, AFP_MAX_UPLOAD_BYTES=str(LIMIT))
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
        status, sent = endless_upload(port, declared=800 * 1024 * 1024)
        ok("an upload declaring 800 MB: 413 before any of it is sent", status == 413 and sent == 0)
        status, sent = endless_upload(port)
        ok("a chunked upload that never ends: 413 once the limit is passed, reading stops (%d MB sent)"
           % (sent >> 20), status == 413 and sent < 4 * LIMIT)
        r = client.get("/stats")
        ok("... and the service goes on answering", r.status_code == 200)

        for params, what in (({"limit": -1}, "limit=-1"), ({"offset": -1}, "offset=-1"),
                             ({"limit": "1" * 20}, "a 20-digit limit"), ({"offset": "9" * 20}, "a 20-digit offset")):
            r = client.get("/tracks", params=params)
            ok("GET /tracks with %s: 422" % what, r.status_code == 422)
        r = upload(client, os.path.join(FIXTURES, "clip_unknown.wav"), "/recognize", max_results=2147483648)
        ok("POST /recognize with max_results=2147483648: 422", r.status_code == 422)
        r = upload(client, os.path.join(FIXTURES, "clip_unknown.wav"), "/recognize", max_results=0)
        ok("POST /recognize with max_results=0: 422", r.status_code == 422)
        r = upload(client, os.path.join(FIXTURES, "song3.ogg"), "/tracks", title="nul\0title")
        ok("POST /tracks with a title containing NUL: 422", r.status_code == 422)
        r = client.delete("/tracks/" + "9" * 20)
        ok("DELETE /tracks/{20 digits}: 422", r.status_code == 422)

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
