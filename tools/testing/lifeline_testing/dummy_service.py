"""A stand-in service for testing the launcher before real services exist.

`python -m lifeline_testing.dummy_service` listens on LIFELINE_PORT and answers
`/health`, `/ready` and `/env` (the LIFELINE_* variables it was started with, so a
test can check what the launcher passed). It exits cleanly on SIGTERM. If
LIFELINE_DUMMY_CRASH_ONCE names a file that does not exist yet, it creates it and
dies after a second with code 3: one crash, to exercise the restart path.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path in ("/health", "/ready"):
            body = {"status": "ok"}
        elif self.path == "/env":
            body = {k: v for k, v in os.environ.items() if k.startswith("LIFELINE_")}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        sys.stdout.write(f"dummy: {format % args}\n")


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["LIFELINE_PORT"])), _Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    marker = os.environ.get("LIFELINE_DUMMY_CRASH_ONCE")
    if marker and not Path(marker).exists():
        Path(marker).touch()
        threading.Timer(1.0, lambda: os._exit(3)).start()
    print(f"dummy listening on {server.server_address}", flush=True)
    server.serve_forever()
    print("dummy stopped on SIGTERM", flush=True)


if __name__ == "__main__":
    main()
