#!/usr/bin/env python3
"""Serve answer files over HTTP on loopback and record installer call-backs (SOP 23).

GET  /<path>       a file under --root (the answer file, at the path a real installer uses)
POST /callback     the installer's "done": the form body is appended to --callback-file
The chosen port is written to --port-file (bind 0 = any free port).
"""

import argparse
import http.server
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--callback-file", required=True)
    args = ap.parse_args()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=args.root, **k)

        def do_POST(self):  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode(errors="replace")
            with open(args.callback_file, "a", encoding="utf-8") as fh:
                fh.write(f"{time.time():.1f} {self.path} {body}\n")
            self.send_response(204)
            self.end_headers()

    server = http.server.ThreadingHTTPServer((args.bind, args.port), Handler)
    with open(args.port_file, "w", encoding="utf-8") as fh:
        fh.write(str(server.server_address[1]))
    sys.stdout.write(f"serving {args.root} on {args.bind}:{server.server_address[1]} pid {os.getpid()}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
