"""The Celery settings the executor relies on."""

from __future__ import annotations

import celeryconfig
from catalog.registration import Catalog
from store.settings import Settings
from tests.catalog.testmodules import register_test_integration
from tests.executor.widgets_integration import widgets_catalog


def test_reliability_settings_and_routes() -> None:
    conf = celeryconfig.config(
        Settings(broker_url="redis://x", visibility_timeout=600), widgets_catalog()
    )
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_deduplicate_successful_tasks"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["worker_send_task_events"] is True
    assert conf["task_send_sent_event"] is True
    assert conf["broker_transport_options"]["visibility_timeout"] == 600
    assert conf["result_backend_transport_options"]["visibility_timeout"] == 600
    assert conf["task_routes"] == {
        "patchbay.run.widgets": {"queue": "patchbay.widgets"},
        "patchbay.run.core": {"queue": "patchbay.core"},
    }
    assert conf["task_serializer"] == "json"


def test_huntress_gets_its_documented_limit_as_a_per_worker_ceiling() -> None:
    catalog = Catalog()
    register_test_integration(catalog, "huntress")
    conf = celeryconfig.config(Settings(), catalog)
    assert conf["task_annotations"] == {"patchbay.run.huntress": {"rate_limit": "1/s"}}
    assert celeryconfig.rate_limits(Settings(), catalog) == {"huntress": "60/m"}
    overridden = Settings(rate_limits={"huntress": "30/m"})
    assert celeryconfig.rate_limits(overridden, catalog) == {"huntress": "30/m"}


def test_embedded_memory_broker_polls_fast() -> None:
    conf = celeryconfig.config(Settings(), Catalog())
    assert conf["broker_url"] == "memory://"
    assert conf["broker_transport_options"]["polling_interval"] == 0.005
