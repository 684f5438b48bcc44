"""A capture server: a loopback TCP listener that records every connection it gets."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class CaptureServer:
    """Accepts connections on loopback and keeps whatever bytes arrive."""

    port: int
    received: list[bytes] = field(default_factory=list)
    connections: int = 0

    @property
    def saw_nothing(self) -> bool:
        return self.connections == 0 and not self.received


@contextmanager
def serve_capture() -> Iterator[CaptureServer]:
    """Listen on a free loopback port until the block exits."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    server = CaptureServer(port=listener.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server.connections += 1
            conn.settimeout(1.0)
            try:
                data = conn.recv(65536)
                if data:
                    server.received.append(data)
                    # Answer like an HTTP server so a client that got through finishes.
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            except OSError:
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, name="capture-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)
