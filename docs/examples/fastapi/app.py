"""A music recognition service on afp: FastAPI in front, PostgreSQL doing all the audio work.

    AFP_DSN="dbname=music" uvicorn app:app          # PG* environment variables work too

POST /tracks (upload) learns a track, POST /recognize (upload) names a clip, GET /tracks lists,
DELETE /tracks/{id} forgets, GET /stats sizes the catalogue. Fully async: a psycopg 3
AsyncConnectionPool and the afp package's AsyncClient; afp's exceptions become HTTP errors.
Request bodies are limited while they arrive (LimitBody), parameters are checked before any SQL
runs (422 for what they cannot be).
"""
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, File, HTTPException, Path, Query, UploadFile
from fastapi.responses import JSONResponse
from psycopg_pool import AsyncConnectionPool

import afp

MAX_UPLOAD_BYTES = int(os.environ.get("AFP_MAX_UPLOAD_BYTES", 50 * 1024 * 1024))
# Room for the multipart framing around the file (boundaries, part headers, the title field).
FORM_OVERHEAD_BYTES = 64 * 1024
MAX_BIGINT = 2 ** 63 - 1
AUDIO_TYPES = ("audio/", "application/octet-stream", "application/ogg", "video/ogg")

# afp's errors, by kind (the package maps SQLSTATEs to these classes): how to say each over HTTP.
HTTP_FOR_ERROR = (
    (afp.InvalidParameter, 400),  # empty audio, bad arguments (22023)
    (afp.UnreadableAudio, 422),   # undecodable, truncated, silent, NaN samples (22000)
    (afp.LimitExceeded, 413),     # longer than afp.max_audio_seconds, larger than afp.max_audio_bytes (54000)
    (afp.QueryCanceled, 503),     # statement_timeout: the server is too busy for this clip now (57014)
    (afp.AfpNotInstalled, 503),   # the database has no afp: CREATE EXTENSION afp
)


class LimitBody:
    """ASGI middleware: a request body may be at most max_bytes. A declared Content-Length over it is
    refused before any of the body is read; a body that grows past it while arriving (chunked, or
    longer than declared) stops being read there. Either way 413, and nothing past the limit is ever
    buffered or written to a temporary file: the multipart parser would otherwise spool all of it
    before the endpoint could look at its size."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            response = JSONResponse({"detail": self.refusal()}, status_code=413, headers={"Connection": "close"})
            return await response(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the form parser; FastAPI passes HTTPException on as it is.
                    raise HTTPException(status_code=413, detail=self.refusal(), headers={"Connection": "close"})
            return message

        await self.app(scope, limited_receive, send)

    def refusal(self):
        return "uploads are limited to %d bytes" % MAX_UPLOAD_BYTES


app = FastAPI(title="afp recognition service")
app.add_middleware(LimitBody, max_bytes=MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES)
pool = AsyncConnectionPool(os.environ.get("AFP_DSN", ""), min_size=1, max_size=int(os.environ.get("AFP_POOL_SIZE", 4)),
                           kwargs={"autocommit": True}, open=False)


@app.on_event("startup")
async def open_pool():
    await pool.open()


@app.on_event("shutdown")
async def close_pool():
    await pool.close()


@asynccontextmanager
async def catalogue():
    """An afp.AsyncClient on a pooled connection; afp's errors as HTTP errors."""
    async with pool.connection() as conn:
        try:
            yield afp.AsyncClient(conn)
        except afp.AfpError as e:
            status = next((code for cls, code in HTTP_FOR_ERROR if isinstance(e, cls)), None)
            if status is None:
                raise
            raise HTTPException(status_code=status, detail={"sqlstate": e.sqlstate, "message": e.message,
                                                            "detail": e.detail, "hint": e.hint})


async def read_upload(upload: UploadFile) -> bytes:
    if upload.content_type and not upload.content_type.startswith(AUDIO_TYPES):
        raise HTTPException(status_code=415, detail="expected an audio upload, got %s" % upload.content_type)
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(status_code=413, detail="uploads are limited to %d bytes" % MAX_UPLOAD_BYTES)
    if not data:
        raise HTTPException(status_code=400, detail="the upload is empty")
    return data


# Text PostgreSQL can store: no NUL characters.
NO_NUL = r"^[^\x00]*$"


@app.post("/tracks", status_code=201)
async def add_track(file: UploadFile = File(...), title: str = Query(None, max_length=1000, regex=NO_NUL)):
    data = await read_upload(file)
    filename = (file.filename or "").replace("\0", "")
    name = title or os.path.splitext(filename)[0] or "untitled"
    async with catalogue() as client:
        track_id = await client.learn(name, data, meta={"filename": filename})
        cur = await client.conn.execute("SELECT afp_duration(fp) FROM afp_tracks WHERE id = %s", [track_id])
        seconds = (await cur.fetchone())[0]
    return {"id": track_id, "title": name, "seconds": round(seconds, 3)}


@app.post("/recognize")
async def recognize(file: UploadFile = File(...), max_results: int = Query(1, ge=1, le=100)):
    data = await read_upload(file)
    async with catalogue() as client:
        matches = await client.recognize(data, max_results=max_results)
    return {"matches": [{"track_id": m.track_id, "title": m.title, "offset_s": round(m.offset_s, 3),
                         "confidence": round(m.confidence, 4), "speed": m.speed, "tempo": m.tempo,
                         "pitch": m.pitch} for m in matches]}


@app.get("/tracks")
async def list_tracks(limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=MAX_BIGINT)):
    async with catalogue() as client:
        cur = await client.conn.execute(
            "SELECT id, title, afp_duration(fp), added_at FROM afp_tracks ORDER BY id LIMIT %s OFFSET %s",
            [limit, offset])
        rows = await cur.fetchall()
    return [{"id": r[0], "title": r[1], "seconds": round(r[2], 3), "added_at": r[3].isoformat()} for r in rows]


@app.delete("/tracks/{track_id}", status_code=204)
async def delete_track(track_id: int = Path(..., ge=-MAX_BIGINT - 1, le=MAX_BIGINT)):
    async with catalogue() as client:
        if not await client.forget(track_id):
            raise HTTPException(status_code=404, detail="no track %d" % track_id)


@app.get("/stats")
async def stats():
    async with catalogue() as client:
        s = await client.stats()
    return {"tracks": s.tracks, "hours": s.hours, "landmarks": s.landmarks, "table_bytes": s.table_bytes,
            "index_bytes": s.index_bytes}
