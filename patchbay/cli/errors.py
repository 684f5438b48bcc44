"""Configuration and connection problems, each as one line that says what to do.

``describe(exc)`` is the single mapping (``patchbay.cli.common.config_errors``
runs every command inside it): a database that does not exist, refuses the
connection or the user; a database URL patchbay cannot use; a data directory
it cannot write; a broker or Redis that does not answer. Anything else gives
None and propagates as it is.

Exception classes are looked up in ``sys.modules`` rather than imported: an
exception of a library that was never imported cannot have been raised, and
``patchbay --help`` must not pay for importing SQLAlchemy or kombu.
Messages never quote a URL's userinfo or a password.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# What to do, per problem (``{where}``: host:port of the server, ``{db}``: the database).
CREATE_DATABASE = (
    'the database "{db}" does not exist on {where}: create it (e.g. `createdb -h {host} -p {port} '
    "{db}`), then run `patchbay db upgrade`"
)
DATABASE_REFUSED = (
    "the database server at {where} refused the connection: is PostgreSQL running there? "
    "(PATCHBAY_DATABASE_URL)"
)
DATABASE_LOGIN = (
    "the database server at {where} refused the login: {reason}; check the user and password in "
    "PATCHBAY_DATABASE_URL"
)
DATABASE_UNREACHABLE = (
    "cannot reach the database server at {where} ({reason}): check the host in "
    "PATCHBAY_DATABASE_URL"
)
DATA_DIR = (
    "cannot write to {path} ({reason}): make the data directory writable, or set "
    "PATCHBAY_DATA_DIR to one that is"
)
BROKER_DOWN = (
    "the broker at {where} does not answer ({reason}): start it, or point PATCHBAY_BROKER_URL "
    "at one that runs; nothing was sent"
)
REDIS_DOWN = (
    "Redis at {where} does not answer ({reason}): start it, or fix PATCHBAY_REDIS_URL / "
    "PATCHBAY_RESULT_BACKEND"
)


def where(url: str) -> str:
    """``host:port`` of a URL, without userinfo (never a password)."""
    try:
        parts = urlsplit(url.split(";", 1)[0].strip())
        host = parts.hostname or "localhost"
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "the configured host"


def _class(module: str, name: str) -> type[BaseException] | None:
    cls = getattr(sys.modules.get(module), name, None)
    return cls if isinstance(cls, type) and issubclass(cls, BaseException) else None


def _is(exc: BaseException, module: str, name: str) -> bool:
    cls = _class(module, name)
    return cls is not None and isinstance(exc, cls)


def _settings() -> Any:
    """The environment's settings, or None if they cannot be read (that is reported elsewhere)."""
    try:
        from executor.settings import Settings

        return Settings()
    except Exception:
        return None


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def describe(exc: BaseException) -> str | None:
    """One line for a configuration or connection problem, or None for anything else."""
    for cause in _causes(exc):
        for check in (_database_url, _database, _data_dir, _broker, _redis):
            message = check(cause)
            if message is not None:
                return message
    return None


def _database_url(exc: BaseException) -> str | None:
    if _is(exc, "store.db", "DatabaseUrlError"):
        return str(exc)
    return None


def _database(exc: BaseException) -> str | None:
    if not _is(exc, "sqlalchemy.exc", "OperationalError"):
        return None
    reason = " ".join(str(getattr(exc, "orig", exc)).split())
    settings = _settings()
    if settings is None:
        return None
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        if "unable to open database file" in reason or "readonly database" in reason:
            return DATA_DIR.format(path=settings.data_dir, reason=reason)
        return None
    from store.db import parse_database_url

    parsed = parse_database_url(url)
    host, port, db = parsed.host or "localhost", parsed.port or 5432, parsed.database or ""
    fields = {"where": f"{host}:{port}", "host": host, "port": port, "db": db}
    if f'database "{db}" does not exist' in reason:
        return CREATE_DATABASE.format(**fields)
    if "Connection refused" in reason:
        return DATABASE_REFUSED.format(**fields)
    if "authentication failed" in reason or ("role" in reason and "does not exist" in reason):
        login = reason.split("FATAL:", 1)[-1].strip()
        return DATABASE_LOGIN.format(reason=login, **fields)
    if "resolve host" in reason or "timeout" in reason.lower():
        return DATABASE_UNREACHABLE.format(reason=reason.split(": ", 1)[-1], **fields)
    return None


def _data_dir(exc: BaseException) -> str | None:
    if not isinstance(exc, OSError) or exc.errno not in (
        errno.EACCES,
        errno.EROFS,
        errno.EPERM,
        errno.ENOTDIR,
        errno.ENOENT,
    ):
        return None
    settings = _settings()
    if settings is None or exc.filename is None:
        return None
    path = Path(str(exc.filename))
    data_dir = Path(settings.data_dir)
    if path != data_dir and data_dir not in path.parents:
        return None
    return DATA_DIR.format(path=path, reason=exc.strerror or type(exc).__name__)


def _broker(exc: BaseException) -> str | None:
    if not _is(exc, "kombu.exceptions", "OperationalError"):
        return None
    settings = _settings()
    if settings is None:
        return None
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return BROKER_DOWN.format(where=where(settings.broker_url), reason=reason)


def _redis(exc: BaseException) -> str | None:
    if not (
        _is(exc, "redis.exceptions", "ConnectionError")
        or _is(exc, "redis.exceptions", "TimeoutError")
    ):
        return None
    settings = _settings()
    url = settings and (settings.redis_url or settings.result_backend)
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return REDIS_DOWN.format(where=where(url) if url else "the configured host", reason=reason)
