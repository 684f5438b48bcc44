"""Tenant secrets: encrypted at rest, never in reprs or logs, env before database."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, update

from executor.settings import Settings
from store import Store
from store.models import TenantSecret
from store.secrets import (
    DatabaseSecretStore,
    EnvSecretStore,
    SecretCipher,
    SecretStoreError,
    load_or_create_key_file,
)
from store.tenants import create_tenant

CANARY = "canary-SECRET-7f3a9c1e5b"


@pytest.fixture
def tenant(store: Store) -> str:
    with store.sessions.begin() as session:
        create_tenant(session, "acme")
    return "acme"


def test_set_get_delete_round_trip(store: Store, tenant: str) -> None:
    secrets = store.secrets
    assert secrets.get(tenant, "huntress_api_key") is None
    secrets.set(tenant, "huntress_api_key", CANARY)
    value = secrets.get(tenant, "huntress_api_key")
    assert value is not None and value.get_secret_value() == CANARY
    secrets.set(tenant, "huntress_api_key", CANARY + "-rotated")
    rotated = secrets.get(tenant, "huntress_api_key")
    assert rotated is not None and rotated.get_secret_value() == CANARY + "-rotated"
    assert secrets.names(tenant) == ["huntress_api_key"]
    assert secrets.delete(tenant, "huntress_api_key") is True
    assert secrets.delete(tenant, "huntress_api_key") is False
    assert secrets.get(tenant, "huntress_api_key") is None


def test_the_stored_column_never_contains_the_value(store: Store, tenant: str) -> None:
    store.secrets.set(tenant, "levelio_api_key", CANARY)
    with store.sessions() as session:
        blob = session.scalar(select(TenantSecret.ciphertext))
    assert blob is not None
    assert CANARY.encode() not in blob
    assert CANARY.encode().hex().encode() not in blob.hex().encode()
    # Two writes of the same value give different ciphertexts (fresh nonce).
    store.secrets.set(tenant, "levelio_api_key", CANARY)
    with store.sessions() as session:
        assert session.scalar(select(TenantSecret.ciphertext)) != blob


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(store: Store, tenant: str) -> None:
    store.secrets.set(tenant, "a_secret", CANARY)
    store.secrets.set(tenant, "b_secret", "other")
    with store.sessions.begin() as session:
        blob = session.scalar(
            select(TenantSecret.ciphertext).where(TenantSecret.name == "a_secret")
        )
        session.execute(
            update(TenantSecret).where(TenantSecret.name == "b_secret").values(ciphertext=blob)
        )
    with pytest.raises(SecretStoreError) as err:
        store.secrets.get(tenant, "b_secret")
    assert CANARY not in str(err.value)


def test_a_wrong_key_fails_clearly_without_the_value(store: Store, tenant: str) -> None:
    store.secrets.set(tenant, "a_secret", CANARY)
    other = DatabaseSecretStore(store.sessions, SecretCipher.from_passphrase("another key"))
    with pytest.raises(SecretStoreError, match="PATCHBAY_SECRET_KEY") as err:
        other.get(tenant, "a_secret")
    assert CANARY not in str(err.value)


def test_values_never_appear_in_repr_str_or_logs(
    store: Store, tenant: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # SQLAlchemy's engine log prints bound parameters: the strictest log there is.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    try:
        store.secrets.set(tenant, "tacticalrmm_api_key", CANARY)
        value = store.secrets.get(tenant, "tacticalrmm_api_key")
        logging.getLogger("test").info("loaded %s / %r", value, value)
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert value is not None
    assert caplog.records, "the engine log should have recorded the statements"
    assert CANARY not in caplog.text
    for text in (repr(value), str(value), repr(store.secrets), repr(store), f"{value}"):
        assert CANARY not in text


def test_environment_is_read_before_the_database(store: Store, tenant: str) -> None:
    store.secrets.set(tenant, "huntress_api_key", "from-database")
    env = EnvSecretStore({"TENANT_acme_huntress_api_key": "from-env"})
    chained = type(store.secrets)(env, store.secrets.database)
    value = chained.get(tenant, "huntress_api_key")
    assert value is not None and value.get_secret_value() == "from-env"
    assert chained.names(tenant) == ["huntress_api_key"]
    only_db = chained.get(tenant, "missing")
    assert only_db is None
    with pytest.raises(SecretStoreError):
        env.set(tenant, "x", "y")


def test_invalid_names_are_rejected(store: Store, tenant: str) -> None:
    with pytest.raises(ValueError, match="invalid secret name"):
        store.secrets.set(tenant, "Bad-Name", CANARY)
    assert store.secrets.names(tenant) == []


def test_embedded_key_file_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    first = load_or_create_key_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key_file(path) == first
    assert len(first) >= 43


def test_store_without_a_configured_key_uses_the_key_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
    store = Store.from_settings(settings)
    try:
        store.upgrade()
        with store.sessions.begin() as session:
            create_tenant(session, "t1")
        store.secrets.set("t1", "x_key", CANARY)
    finally:
        store.close()
    assert (tmp_path / "secret.key").exists()
    reopened = Store.from_settings(settings)
    try:
        value = reopened.secrets.get("t1", "x_key")
        assert value is not None and value.get_secret_value() == CANARY
    finally:
        reopened.close()


def test_update_locked_serialises_concurrent_refreshes(store: Store, tenant: str) -> None:
    import threading
    import time

    store.secrets.set(tenant, "vendor_token", "v0")
    refreshes: list[str] = []
    barrier = threading.Barrier(4)

    def refresh(current: object) -> str | None:
        value = getattr(current, "get_secret_value", lambda: None)()
        if value != "v0":
            return None  # someone else refreshed while we waited: use theirs
        time.sleep(0.05)  # the vendor call
        refreshes.append("x")
        return "v1"

    results: list[str] = []

    def worker() -> None:
        barrier.wait()
        value = store.secrets.database.update_locked(tenant, "vendor_token", refresh)
        assert value is not None
        results.append(value.get_secret_value())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert refreshes == ["x"]
    assert results == ["v1"] * 4
    stored = store.secrets.get(tenant, "vendor_token")
    assert stored is not None
    assert stored.get_secret_value() == "v1"
