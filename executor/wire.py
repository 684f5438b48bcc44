"""The wire: task and queue names, task ids, the task request as it arrives.

What a workflow engine in any language sends (README, "Wire contract"): task
``patchbay.run.<provider>`` on queue ``patchbay.<provider>`` (``core`` for core
actions), kwargs ``{action_id, version, tenant_id, input, run_id, step_path}``,
task id ``<tenant_id>/<idempotency key>``. Everything that publishes or
consumes those messages takes the names from here.

Task ids: ``<tenant_id>/<idempotency key>``.

Celery keys its result backend by task id alone, and a worker skips a
redelivered task whose id already has a SUCCESS result. With the bare key as
the task id, two tenants using the same key shared one result entry: one
tenant's ``AsyncResult.get()`` could answer with the other's outcome. So the
task id carries the tenant; the ledger keeps the bare key (the tenant is a
column of its own), and so do outcomes and error payloads.

A tenant id never contains ``/`` (``store.tenants.TENANT_ID_PATTERN``), so the
id splits at its first ``/``; the key may contain more. A task whose id does
not parse, or names another tenant than its ``tenant_id`` kwarg, is refused
(``executor.app``): it is not run and gets no result.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from store.tenants import TENANT_ID_PATTERN

# The provider of actions that belong to no integration module (``scheduling.*``).
CORE_PROVIDER = "core"
SEPARATOR = "/"


def task_name(provider: str) -> str:
    """``patchbay.run.<provider>``."""
    return f"patchbay.run.{provider}"


def queue_name(provider: str) -> str:
    """``patchbay.<provider>``."""
    return f"patchbay.{provider}"


DEFERRED_SUFFIX = ".deferred"


def deferred_queue_name(provider: str) -> str:
    """``patchbay.<provider>.deferred``: where a step coming back at a time is re-sent.

    Internal (engines never publish to it). A re-scheduled step (a throttle
    slot, a retry, a check of the vendor's job) must not come back behind a
    backlog of first deliveries in its provider's queue: a worker consumes
    both, alternately, so it is taken when due.
    """
    return queue_name(provider) + DEFERRED_SUFFIX


def with_deferred(queues: list[str]) -> list[str]:
    """``queues`` and, after each provider queue, its deferred companion."""
    out: list[str] = []
    for name in queues:
        out.append(name)
        if name.startswith("patchbay.") and not name.endswith(DEFERRED_SUFFIX):
            companion = name + DEFERRED_SUFFIX
            if companion not in queues:
                out.append(companion)
    return out


def kwargs_repr(action_id: str, version: int, tenant_id: str, key: str) -> str:
    """What Flower shows for a task's kwargs: never the raw input."""
    return f"{{action: {action_id}@{version}, tenant: {tenant_id}, key: {key}}}"


@dataclass(frozen=True)
class TaskRequest:
    """A task as it arrives: the wire kwargs plus the idempotency key from its task id."""

    key: str
    action_id: str
    version: int
    tenant_id: str
    input: Any
    run_id: str | None = None
    step_path: str | None = None
    provider: str | None = None
    # How many times this message was re-scheduled already (Celery's ``retries``).
    redeliveries: int = 0


# 1-512 characters without control characters (the ledger column holds 512).
KEY_PATTERN = re.compile(r"[^\x00-\x1f\x7f]{1,512}")


class MalformedTaskId(ValueError):
    """A task id that is not ``<tenant_id>/<key>`` with a well-formed tenant and key."""


def valid_key(key: str) -> bool:
    """Whether ``key`` is a well-formed idempotency key."""
    return KEY_PATTERN.fullmatch(key) is not None


def task_id_for(tenant_id: str, key: str) -> str:
    """The Celery task id of ``tenant_id``'s step with idempotency key ``key``."""
    if TENANT_ID_PATTERN.fullmatch(tenant_id) is None:
        raise MalformedTaskId(f"invalid tenant id {tenant_id!r}")
    if not valid_key(key):
        raise MalformedTaskId("the key must be 1-512 characters without control characters")
    return f"{tenant_id}{SEPARATOR}{key}"


def parse_task_id(task_id: str) -> tuple[str, str]:
    """``(tenant_id, key)`` of a task id; ``MalformedTaskId`` if it is not one of ours."""
    tenant_id, separator, key = task_id.partition(SEPARATOR)
    if not separator or TENANT_ID_PATTERN.fullmatch(tenant_id) is None:
        raise MalformedTaskId("the task id has no tenant prefix (<tenant_id>/<key>)")
    if not valid_key(key):
        raise MalformedTaskId(
            "the key in the task id must be 1-512 characters without control characters"
        )
    return tenant_id, key


def refusal(task_id: object, kwargs: object) -> str | None:
    """Why a task with this id and these kwargs must not run, or None if it may.

    It may when its id is ``<tenant_id>/<key>`` for the ``tenant_id`` in its kwargs.
    """
    if not isinstance(task_id, str):
        return "the task id is not a string"
    try:
        tenant_id, _key = parse_task_id(task_id)
    except MalformedTaskId as exc:
        return str(exc)
    claimed = kwargs.get("tenant_id") if isinstance(kwargs, Mapping) else None
    if claimed != tenant_id:
        return f"the task id names tenant {tenant_id!r} but tenant_id is {reprlib.repr(claimed)}"
    return None
