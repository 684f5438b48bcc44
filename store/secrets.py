"""Tenant secrets: get / set / delete per (tenant, name).

Backends behind one interface:

- ``DatabaseSecretStore`` keeps values in ``tenant_secrets``, encrypted with
  AES-256-GCM; the (tenant, name) pair is the associated data, so a ciphertext
  copied onto another row does not decrypt.
- ``EnvSecretStore`` reads ``TENANT_<tenant>_<name>`` (read-only), for
  deployments that inject secrets from their orchestrator.
- ``ChainedSecretStore`` reads the environment first, then the database, and
  writes to the database.

Values travel as ``pydantic.SecretStr`` so a value printed, logged or put in a
repr by accident shows as ``**********``; ``.get_secret_value()`` is the one
deliberate way out.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from store.models import TenantSecret
from store.types import utcnow

SECRET_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,127}$")
_CIPHER_VERSION = b"v1:"
_NONCE_BYTES = 12


_LOCKS_GUARD = threading.Lock()
_LOCKS: dict[tuple[str, str], threading.Lock] = {}


def _process_lock(tenant: str, name: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((tenant, name), threading.Lock())


class SecretStoreError(Exception):
    """A secret could not be read or written. Never carries a secret value."""


class SecretStore(Protocol):
    """Per-tenant secrets by name."""

    def get(self, tenant: str, name: str) -> SecretStr | None:
        """The secret, or None when it is not set."""
        ...

    def set(self, tenant: str, name: str, value: str | SecretStr) -> None:
        """Create or replace the secret."""
        ...

    def delete(self, tenant: str, name: str) -> bool:
        """Remove the secret; True when something was removed."""
        ...

    def names(self, tenant: str) -> list[str]:
        """The names of the tenant's secrets (never their values)."""
        ...


def check_secret_name(name: str) -> str:
    """Return ``name`` if it is a valid secret name, else raise ValueError."""
    if not SECRET_NAME_PATTERN.match(name):
        raise ValueError(
            f"invalid secret name {name!r}: use lowercase letters, digits and '_', "
            "starting with a letter"
        )
    return name


def _plain(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class SecretCipher:
    """AES-256-GCM with the (tenant, name) pair bound as associated data."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("secret cipher key must be 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretCipher(key=**********)"

    @classmethod
    def from_passphrase(cls, passphrase: str) -> SecretCipher:
        """Derive the key from ``PATCHBAY_SECRET_KEY``.

        A value that is 32 bytes of urlsafe base64 is used as the key itself;
        anything else is stretched with SHA-256 (operators are expected to set a
        random value, so a slow KDF would buy nothing).
        """
        try:
            raw = base64.urlsafe_b64decode(passphrase.encode())
        except (ValueError, TypeError):
            raw = b""
        if len(raw) == 32:
            return cls(raw)
        return cls(hashlib.sha256(b"patchbay-secret-key:" + passphrase.encode()).digest())

    @staticmethod
    def _aad(tenant: str, name: str) -> bytes:
        return f"{tenant}\x00{name}".encode()

    def encrypt(self, tenant: str, name: str, value: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(), self._aad(tenant, name))
        return _CIPHER_VERSION + nonce + sealed

    def decrypt(self, tenant: str, name: str, blob: bytes) -> str:
        if not blob.startswith(_CIPHER_VERSION):
            raise SecretStoreError(f"secret {name!r} of tenant {tenant!r} has an unknown format")
        body = blob[len(_CIPHER_VERSION) :]
        nonce, sealed = body[:_NONCE_BYTES], body[_NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, sealed, self._aad(tenant, name)).decode()
        except InvalidTag:
            raise SecretStoreError(
                f"secret {name!r} of tenant {tenant!r} cannot be decrypted: "
                "PATCHBAY_SECRET_KEY is not the key it was written with"
            ) from None


def load_or_create_key_file(path: Path) -> str:
    """Read the embedded secret key, creating it (mode 0600) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


class DatabaseSecretStore:
    """Secrets encrypted at rest in ``tenant_secrets``."""

    def __init__(self, sessions: sessionmaker[Session], cipher: SecretCipher) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._reader = sessions.kw["bind"].execution_options(isolation_level="AUTOCOMMIT")

    def __repr__(self) -> str:
        return "DatabaseSecretStore()"

    def get(self, tenant: str, name: str) -> SecretStr | None:
        blob = self.ciphertext(tenant, name)
        return None if blob is None else self.decrypt(tenant, name, blob)

    def ciphertext(self, tenant: str, name: str) -> bytes | None:
        """The secret as stored (encrypted), or None: what a worker may keep in memory."""
        query = select(TenantSecret.ciphertext).where(
            TenantSecret.tenant == tenant, TenantSecret.name == name
        )
        # A plain autocommit connection: reads happen on every action, and neither
        # the ORM nor a BEGIN/COMMIT pair around one SELECT adds anything here.
        with self._reader.connect() as conn:
            blob: bytes | None = conn.scalar(query)
        return blob

    def decrypt(self, tenant: str, name: str, blob: bytes) -> SecretStr:
        """The value of ``tenant``'s secret ``name`` stored as ``blob``."""
        return SecretStr(self._cipher.decrypt(tenant, name, blob))

    def set(self, tenant: str, name: str, value: str | SecretStr) -> None:
        with self._sessions.begin() as session:
            self.set_in(session, tenant, name, value)

    def set_in(self, session: Session, tenant: str, name: str, value: str | SecretStr) -> None:
        """Write the secret inside the caller's transaction (so it commits with it)."""
        check_secret_name(name)
        blob = self._cipher.encrypt(tenant, name, _plain(value))
        row = session.get(TenantSecret, (tenant, name))
        if row is None:
            session.add(TenantSecret(tenant=tenant, name=name, ciphertext=blob))
        else:
            row.ciphertext = blob
            row.updated_at = utcnow()
        session.flush()

    def delete(self, tenant: str, name: str) -> bool:
        with self._sessions.begin() as session:
            return self.delete_in(session, tenant, name)

    def update_locked(
        self, tenant: str, name: str, update: Callable[[SecretStr | None], str | None]
    ) -> SecretStr | None:
        """Read-modify-write one secret with every other writer of it held off.

        ``update`` gets the current value (re-read under the lock) and returns a
        new value to store, or None to keep the current one; the result is the
        value now stored. Threads of this process queue on a lock; other
        processes on the row lock (``SELECT ... FOR UPDATE`` on PostgreSQL;
        SQLite has a single writer anyway). This is what makes concurrent OAuth
        refreshes coalesce into one instead of invalidating each other's token.
        """
        with _process_lock(tenant, name), self._sessions.begin() as session:
            blob = session.scalar(
                select(TenantSecret.ciphertext)
                .where(TenantSecret.tenant == tenant, TenantSecret.name == name)
                .with_for_update()
            )
            current = None if blob is None else SecretStr(self._cipher.decrypt(tenant, name, blob))
            new = update(current)
            if new is None:
                return current
            self.set_in(session, tenant, name, new)
            return SecretStr(new)

    def delete_in(self, session: Session, tenant: str, name: str) -> bool:
        """Delete the secret inside the caller's transaction."""
        result = session.execute(
            delete(TenantSecret).where(TenantSecret.tenant == tenant, TenantSecret.name == name)
        )
        return bool(getattr(result, "rowcount", 0))

    def names(self, tenant: str) -> list[str]:
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(TenantSecret.name)
                    .where(TenantSecret.tenant == tenant)
                    .order_by(TenantSecret.name)
                )
            )


class EnvSecretStore:
    """Read-only secrets from ``TENANT_<tenant>_<name>`` environment variables."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def __repr__(self) -> str:
        return "EnvSecretStore()"

    @staticmethod
    def variable(tenant: str, name: str) -> str:
        return f"TENANT_{tenant}_{name}"

    def get(self, tenant: str, name: str) -> SecretStr | None:
        value = self._environ.get(self.variable(tenant, name))
        return None if value is None else SecretStr(value)

    def set(self, tenant: str, name: str, value: str | SecretStr) -> None:
        raise SecretStoreError("the environment secret backend is read-only")

    def delete(self, tenant: str, name: str) -> bool:
        raise SecretStoreError("the environment secret backend is read-only")

    def names(self, tenant: str) -> list[str]:
        prefix = f"TENANT_{tenant}_"
        return sorted(k[len(prefix) :] for k in self._environ if k.startswith(prefix))


class ChainedSecretStore:
    """Reads the environment first, then the database; writes go to the database.

    A write does not hide an environment value of the same name: the
    environment is the operator's override and stays authoritative.
    """

    def __init__(self, env: EnvSecretStore, database: DatabaseSecretStore) -> None:
        self.env = env
        self.database = database

    def __repr__(self) -> str:
        return "ChainedSecretStore(env, database)"

    def get(self, tenant: str, name: str) -> SecretStr | None:
        value = self.env.get(tenant, name)
        return value if value is not None else self.database.get(tenant, name)

    def set(self, tenant: str, name: str, value: str | SecretStr) -> None:
        self.database.set(tenant, name, value)

    def delete(self, tenant: str, name: str) -> bool:
        return self.database.delete(tenant, name)

    def names(self, tenant: str) -> list[str]:
        return sorted(set(self.env.names(tenant)) | set(self.database.names(tenant)))
