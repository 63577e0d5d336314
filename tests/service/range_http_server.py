#!/usr/bin/env python3
"""A tiny HTTP file server for `jetserve pull` tests: serves files from a folder with
single-range `Range: bytes=N-[M]` support (206 / 416), ETag = the file's SHA-256 (as the
Hugging Face hub's X-Linked-ETag), and 404 for missing files. Files named lying-* get a
wrong ETag. /resolve/PATH answers 302 to /PATH with X-Linked-ETag = the SHA-256 (wrong
for lying-*) and, like a hub's CDN, the file itself then carries a non-SHA ETag. Each request is appended to LOG as "GET /path range=..." lines.

    range_http_server.py DIR PORT_FILE LOG   # binds 127.0.0.1:0, writes the port to PORT_FILE
"""
import hashlib
import http.server
import os
import re
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        rng = self.headers.get("Range", "")
        with open(self.server.log, "a") as log:
            log.write(f"GET {self.path} range={rng}\n")
        rel = self.path.lstrip("/").split("?")[0]
        redirected = rel.startswith("cdn/")
        if rel.startswith("resolve/") or redirected:
            rel = rel.split("/", 1)[1]
        path = os.path.join(self.server.root, rel)
        if not os.path.isfile(path):
            self.send_error(404, "Not Found")
            return
        with open(path, "rb") as f:
            data = f.read()
        digest = hashlib.sha256(data).hexdigest()
        if os.path.basename(path).startswith("lying-"):
            digest = hashlib.sha256(b"something else").hexdigest()
        if self.path.startswith("/resolve/"):
            self.send_response(302)
            self.send_header("Location", "/cdn/" + rel)
            self.send_header("X-Linked-ETag", f'"{digest}"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if redirected:
            digest = "0123abcd-cdn"
        start, end = 0, len(data) - 1
        status = 200
        if rng:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng)
            if not m or int(m.group(1)) >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = int(m.group(1))
            if m.group(2):
                end = min(end, int(m.group(2)))
            status = 206
        body = data[start:end + 1]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{digest}"')
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        self.wfile.write(body)


def main():
    root, port_file, log = sys.argv[1:4]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.root, server.log = root, log
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
