"""A music recognition service on afp: FastAPI in front, PostgreSQL doing all the audio work.

    AFP_DSN="dbname=music" uvicorn app:app          # PG* environment variables work too

POST /tracks (upload) learns a track, POST /recognize (upload) names a clip, GET /tracks lists,
DELETE /tracks/{id} forgets, GET /stats sizes the catalogue. afp's SQLSTATEs become HTTP errors.
"""
import os
from contextlib import contextmanager

import psycopg2
import psycopg2.extras
import psycopg2.pool
from fastapi import FastAPI, File, HTTPException, UploadFile

MAX_UPLOAD_BYTES = int(os.environ.get("AFP_MAX_UPLOAD_BYTES", 50 * 1024 * 1024))
AUDIO_TYPES = ("audio/", "application/octet-stream", "application/ogg", "video/ogg")

# afp's errors, by SQLSTATE: what the client did wrong, and how to say it over HTTP.
HTTP_FOR_SQLSTATE = {
    "22023": 400,  # empty audio, bad arguments
    "22000": 422,  # undecodable, truncated, silent, NaN samples
    "54000": 413,  # longer than afp.max_audio_seconds or larger than afp.max_audio_bytes
    "57014": 503,  # statement_timeout: the server is too busy for this clip now
}

app = FastAPI(title="afp recognition service")
pool = psycopg2.pool.ThreadedConnectionPool(1, int(os.environ.get("AFP_POOL_SIZE", 4)), os.environ.get("AFP_DSN", ""))


@contextmanager
def cursor():
    conn = pool.getconn()
    try:
        with conn, conn.cursor() as cur:  # one transaction per request
            yield cur
    except psycopg2.Error as e:
        status = HTTP_FOR_SQLSTATE.get(e.pgcode)
        if status is None:
            raise
        detail = e.diag.message_primary + (": " + e.diag.message_detail if e.diag.message_detail else "")
        raise HTTPException(status_code=status, detail={"sqlstate": e.pgcode, "message": detail})
    finally:
        pool.putconn(conn)


async def read_upload(upload: UploadFile) -> bytes:
    if upload.content_type and not upload.content_type.startswith(AUDIO_TYPES):
        raise HTTPException(status_code=415, detail="expected an audio upload, got %s" % upload.content_type)
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(status_code=413, detail="uploads are limited to %d bytes" % MAX_UPLOAD_BYTES)
    if not data:
        raise HTTPException(status_code=400, detail="the upload is empty")
    return data


@app.post("/tracks", status_code=201)
async def add_track(file: UploadFile = File(...), title: str = None):
    data = await read_upload(file)
    with cursor() as cur:
        cur.execute("INSERT INTO afp_tracks (title, fp, meta) VALUES (%s, fingerprint(%s), %s) "
                    "RETURNING id, title, afp_duration(fp)",
                    (title or os.path.splitext(file.filename or "untitled")[0], psycopg2.Binary(data),
                     psycopg2.extras.Json({"filename": file.filename})))
        track_id, name, seconds = cur.fetchone()
    return {"id": track_id, "title": name, "seconds": round(seconds, 3)}


@app.post("/recognize")
async def recognize(file: UploadFile = File(...), max_results: int = 1):
    data = await read_upload(file)
    with cursor() as cur:
        cur.execute("SELECT track_id, title, offset_s, confidence, speed FROM match_clip(%s, max_results => %s)",
                    (psycopg2.Binary(data), max_results))
        rows = cur.fetchall()
    return {"matches": [{"track_id": r[0], "title": r[1], "offset_s": round(r[2], 3),
                         "confidence": round(r[3], 4), "speed": r[4]} for r in rows]}


@app.get("/tracks")
def list_tracks(limit: int = 100, offset: int = 0):
    with cursor() as cur:
        cur.execute("SELECT id, title, afp_duration(fp), added_at FROM afp_tracks ORDER BY id LIMIT %s OFFSET %s",
                    (limit, offset))
        return [{"id": r[0], "title": r[1], "seconds": round(r[2], 3), "added_at": r[3].isoformat()}
                for r in cur.fetchall()]


@app.delete("/tracks/{track_id}", status_code=204)
def delete_track(track_id: int):
    with cursor() as cur:
        cur.execute("DELETE FROM afp_tracks WHERE id = %s", (track_id,))
        if cur.rowcount == 0:
            raise HTTPException(status_code=404, detail="no track %d" % track_id)


@app.get("/stats")
def stats():
    with cursor() as cur:
        cur.execute("SELECT tracks, hours, landmarks, table_bytes, index_bytes FROM afp_catalog_stats()")
        tracks, hours, landmarks, table_bytes, index_bytes = cur.fetchone()
    return {"tracks": tracks, "hours": hours, "landmarks": landmarks, "table_bytes": table_bytes,
            "index_bytes": index_bytes}
