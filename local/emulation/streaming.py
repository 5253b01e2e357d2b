"""Response bodies that fail on purpose: a connection dropped mid-body (an injected fault), or when the server stops."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


class DroppedConnection(ConnectionAbortedError):
    """Raised to make werkzeug abandon a connection quietly (an injected fault)."""


def drop_connection(environ: WSGIEnvironment) -> None:
    """Cut the client's connection without finishing the response (werkzeug then drops it quietly)."""
    sock: socket.socket | None = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            # Linger 0 makes the final close send a TCP reset instead of a graceful FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise DroppedConnection("emulator fault: connection dropped")


def cut_after(chunks: Iterator[bytes], limit: int, environ: WSGIEnvironment) -> Iterator[bytes]:
    sent = 0
    for chunk in chunks:
        if sent + len(chunk) >= limit:
            if limit > sent:
                yield chunk[: limit - sent]
            break
        yield chunk
        sent += len(chunk)
    drop_connection(environ)


def stop_aware(chunks: Iterator[bytes], stopping: Callable[[], bool], environ: WSGIEnvironment) -> Iterator[bytes]:
    for chunk in chunks:
        if stopping():
            drop_connection(environ)
        yield chunk
