"""Werkzeug peer for benches/run.sh: the same routes as the Rust peers.

    GET  /                   200 text/plain "Hello, World!" (Content-Length)
    POST /upload             reads the body, discards it, answers the byte count
    GET  /download?bytes=N&piece=K
                             N bytes of the pattern (byte i is 'a' + i % 26, as
                             werk's /bytes/N), default 100 MiB, Content-Length,
                             in pieces of K bytes (64 KiB, at most 1 MiB)
    GET  /files/NAME         the file NAME in the directory $FILES_DIR, through
                             werkzeug.wsgi.wrap_file (reads of 256 KiB), 404
                             if there is none

Usage: python peer_werkzeug.py PORT
Served by werkzeug.serving.run_simple(..., threaded=True), with its default
request log on stderr (as a Werkzeug user would see it). With
SSL_CONTEXT=adhoc in the environment, over HTTPS with Werkzeug's adhoc
certificate (ssl_context="adhoc", which needs the cryptography package).
"""
import os
import sys

HELLO = b"Hello, World!"
PIECE = 64 * 1024
MAX_PIECE = 1024 * 1024
DEFAULT_DOWNLOAD = 100 * 1024 * 1024
# The alphabet over the largest piece and 26 bytes: any piece is a slice.
PATTERN = bytes(97 + i % 26 for i in range(MAX_PIECE + 26))
# WSGI wants bytes, not memoryview slices: a whole piece starts at one of
# 26 offsets, each sliced once per piece size and kept.
_pieces = {}


def pattern(n, size):
    start = 0
    while start < n:
        offset = start % 26
        piece = _pieces.get((offset, size))
        if piece is None:
            piece = _pieces[(offset, size)] = PATTERN[offset:offset + size]
        if n - start < size:
            piece = piece[: n - start]
        start += len(piece)
        yield piece


def query_number(query, name, default):
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == name and value.isdigit():
            return int(value)
    return default


def file_path(name):
    directory = os.environ.get("FILES_DIR")
    if not directory or not name or name.startswith(".") or "/" in name or "\\" in name:
        return None
    path = os.path.join(directory, name)
    return path if os.path.isfile(path) else None


def app(environ, start_response):
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "/")
    if method in ("GET", "HEAD") and path.startswith("/files/"):
        found = file_path(path[len("/files/"):])
        if found is None:
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
            return [b"not found"]
        f = open(found, "rb")
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(os.fstat(f.fileno()).st_size))])
        from werkzeug.wsgi import wrap_file

        return wrap_file(environ, f, 256 * 1024)
    if method == "POST" and path == "/upload":
        left = int(environ.get("CONTENT_LENGTH") or 0)
        stream = environ["wsgi.input"]
        total = 0
        while left > 0:
            data = stream.read(min(left, 256 * 1024))
            if not data:
                break
            total += len(data)
            left -= len(data)
        body = str(total).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if method in ("GET", "HEAD") and path == "/download":
        query = environ.get("QUERY_STRING", "")
        n = query_number(query, "bytes", DEFAULT_DOWNLOAD)
        size = min(max(query_number(query, "piece", PIECE), 1), MAX_PIECE)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))])
        return pattern(n, size)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))])
    return [HELLO]


if __name__ == "__main__":
    from werkzeug.serving import run_simple

    ssl_context = os.environ.get("SSL_CONTEXT") or None
    run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True, ssl_context=ssl_context)
