"""Werkzeug peer for benches/run.sh: the same three routes as the Rust peers.

    GET  /                   200 text/plain "Hello, World!" (Content-Length)
    POST /upload             reads the body, discards it, answers the byte count
    GET  /download?bytes=N   N zero bytes (default 100 MiB), Content-Length

Usage: python peer_werkzeug.py PORT
Served by werkzeug.serving.run_simple(..., threaded=True), with its default
request log on stderr (as a Werkzeug user would see it).
"""
import sys

HELLO = b"Hello, World!"
BLOCK = bytes(64 * 1024)
DEFAULT_DOWNLOAD = 100 * 1024 * 1024


def zeros(n):
    while n > 0:
        piece = BLOCK if n >= len(BLOCK) else BLOCK[:n]
        n -= len(piece)
        yield piece


def query_bytes(query):
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == "bytes" and value.isdigit():
            return int(value)
    return DEFAULT_DOWNLOAD


def app(environ, start_response):
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "/")
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
        n = query_bytes(environ.get("QUERY_STRING", ""))
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))])
        return zeros(n)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))])
    return [HELLO]


if __name__ == "__main__":
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True)
