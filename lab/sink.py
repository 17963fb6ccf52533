"""A webhook sink for the lab: appends each JSON body it receives to a file, one per line.

Run it inside a lab namespace (usually the gateway)::

    python -m lab.sink ADDRESS PORT OUTFILE

``POST`` (or ``PUT``) with a JSON body: the body is appended to ``OUTFILE`` as one compact
JSON line, answered with 200. A body that is not JSON is answered with 400 and not recorded.
``GET`` answers 200 with the number of bodies recorded so far (a readiness probe). The sink
serves until it is killed; it logs nothing.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

USAGE = "usage: python -m lab.sink ADDRESS PORT OUTFILE"


def make_server(address: str, port: int, outfile: Path) -> ThreadingHTTPServer:
    """Bind the sink's HTTP server (not yet serving).

    Args:
        address: Address to listen on.
        port: TCP port.
        outfile: File the JSON bodies are appended to (created on the first one).

    Returns:
        The bound server; call ``serve_forever`` on it.
    """
    lock = threading.Lock()
    received = [0]

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, text: str = "") -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                line = json.dumps(json.loads(body), ensure_ascii=False)
            except ValueError:
                self._answer(400, "not JSON\n")
                return
            # One write per body under a lock: concurrent requests never interleave lines.
            with lock, outfile.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                received[0] += 1
            self._answer(200)

        do_PUT = do_POST

        def do_GET(self) -> None:  # http.server's naming
            with lock:
                count = received[0]
            self._answer(200, f"{count}\n")

        def log_message(self, *args: object) -> None:
            pass  # quiet: the recorded bodies are the sink's output

    return ThreadingHTTPServer((address, port), Handler)


def main(argv: list[str] | None = None) -> int:
    """``python -m lab.sink ADDRESS PORT OUTFILE``: serve until killed.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        2 on a usage error; otherwise it does not return.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or not args[1].isdigit():
        print(USAGE, file=sys.stderr)
        return 2
    address, port, outfile = args[0], int(args[1]), Path(args[2])
    server = make_server(address, port, outfile)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
