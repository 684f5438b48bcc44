"""A request is counted by the vendor throttle as it leaves, not before its connection opens.

The send log (``executor.throttle``) is the hard guarantee against a vendor's
window, and the vendor counts arrivals: whatever happens between the count
and the first byte on the wire (a connect, a TLS handshake, a busy
interpreter) is time the vendor does not see. So the gate's ``leaving`` hook
runs inside the transport, right before the request's first write.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpcore
import httpx
import pytest

from actionkit.errors import TransientFailure
from actionkit.http import VendorClient
from actionkit.outbound import ANY_PUBLIC_HOST, GuardedTransport, OutboundPolicy
from sandbox.core import FakeVendor
from tests.capture import CaptureServer

SANDBOX = OutboundPolicy(ANY_PUBLIC_HOST, sandbox=True)


class RecordingGate:
    """A request gate that notes when it is asked and when the request leaves."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def before_request(
        self, method: str, url: str, *, mutating: bool, vendor: str | None = None
    ) -> Callable[[], None]:
        self.events.append(f"gate {method}")
        return lambda: self.events.append(f"leaving {method}")


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every TCP connect httpcore's own network backend makes, in order with the gate's events."""
    events: list[str] = []
    real = httpcore.SyncBackend.connect_tcp

    def connect_tcp(self: httpcore.SyncBackend, *args: Any, **kwargs: Any) -> Any:
        stream = real(self, *args, **kwargs)
        events.append("connected")
        return stream

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
    return events


def test_a_request_is_counted_after_its_connection_opens_right_before_it_is_written(
    capture: CaptureServer, connects: list[str]
) -> None:
    gate = RecordingGate(connects)
    with VendorClient(f"http://127.0.0.1:{capture.port}", policy=SANDBOX, gate=gate) as client:
        response = client.send("POST", "/v1/things", json={"a": 1})
    assert response.status_code == 200
    assert connects == ["gate POST", "connected", "leaving POST"]
    assert capture.received and capture.received[0].startswith(b"POST /v1/things")


def test_a_request_that_never_connects_is_never_counted() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    events: list[str] = []
    transport = SANDBOX.guarded_transport()
    client = VendorClient(
        f"http://127.0.0.1:{port}", policy=SANDBOX, gate=RecordingGate(events), transport=transport
    )
    with client, pytest.raises(TransientFailure, match="unreachable"):
        client.send("GET", "/v1/things")
    assert events == ["gate GET"]
    assert isinstance(transport, GuardedTransport)
    assert transport.before_write is None  # not left armed for the client's next request


def test_each_request_on_a_kept_alive_connection_is_counted_once(
    connects: list[str],
) -> None:
    """Two requests, one connection: two counts, each before its own request's bytes."""
    fake = FakeVendor()  # a real HTTP/1.1 server that keeps connections open
    server = fake.serve()
    try:
        gate = RecordingGate(connects)
        with VendorClient(server.base_url, policy=SANDBOX, gate=gate) as client:
            client.send("GET", "/first")
            client.send("GET", "/second")
    finally:
        server.stop()
    assert connects == ["gate GET", "connected", "leaving GET", "gate GET", "leaving GET"]


def test_a_client_on_another_transport_counts_the_request_just_before_sending() -> None:
    events: list[str] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        events.append("sent")
        return httpx.Response(204)

    with VendorClient(
        "https://api.example.com",
        policy=OutboundPolicy(ANY_PUBLIC_HOST),
        gate=RecordingGate(events),
        transport=httpx.MockTransport(vendor),
    ) as client:
        client.send("DELETE", "/v1/things/1")
    assert events == ["gate DELETE", "leaving DELETE", "sent"]
