"""Fake vendor servers: stateful apps that behave like the vendors' documented APIs.

Used in-process (``httpx.MockTransport``) by unit tests and benchmarks, and
over real HTTP on loopback by integration tests, the demo and people building
workflows offline. Shares no code with the clients in ``integrations/``.

- :mod:`sandbox.core`: the framework (routing, request log, faults, clock, serving);
- :mod:`sandbox.widgets`: ``FakeWidgets``, a small generic SaaS API;
- :mod:`sandbox.ninjaone`: ``FakeNinjaOne``, OAuth + public API v2 (a package:
  one module per part of the API);
- :mod:`sandbox.microsoft`: ``FakeMicrosoft``, identity platform tokens, Graph
  calendars and Teams activity notifications, and the Bot Connector (a package:
  each part in a module of its own);
- :mod:`sandbox.tacticalrmm`: ``FakeTacticalRmm``, API-key and Knox auth, agents,
  scripts and runs (a package);
- :mod:`sandbox.levelio`: ``FakeLevel``, raw-key auth, cursor paging, devices,
  alerts, updates, automations, triggered runs and signed outbound webhooks;
- :mod:`sandbox.huntress`: ``FakeHuntress``, Basic auth, token paging, incident
  reports with remediations, and Huntress's 60-a-minute sliding window per account;
- :mod:`sandbox.registry`: ``FAKES``, the vendors' fakes the sandbox serves, in order.
"""

from sandbox.core import (
    FakeVendor,
    Fault,
    ManualClock,
    RecordedRequest,
    RunningServer,
    SandboxRequest,
    route,
)
from sandbox.microsoft import FakeMicrosoft
from sandbox.ninjaone import FakeNinjaOne
from sandbox.widgets import FakeWidgets

__all__ = [
    "FakeMicrosoft",
    "FakeNinjaOne",
    "FakeVendor",
    "FakeWidgets",
    "Fault",
    "ManualClock",
    "RecordedRequest",
    "RunningServer",
    "SandboxRequest",
    "route",
]
