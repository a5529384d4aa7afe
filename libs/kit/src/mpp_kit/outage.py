"""Telling an outage of the parts a service stands on from a failure of the work itself.

One classification for every caller: a consumer pauses and retries without spending a message's attempts, the
HTTP app answers 503 with Retry-After instead of 500. An outage is PostgreSQL or Kafka not answering (refused,
reset, terminated, starting up, out of connection slots, timed out); anything else is the work's own failure.
"""

from __future__ import annotations

import asyncpg
from aiokafka import errors as kafka_errors

# Unambiguous: the server or the network said "not now", whatever was asked.
_DATABASE_DOWN: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, and a connection closed mid-operation
    asyncpg.CannotConnectNowError,  # 57P03: starting up, shutting down, in recovery
    asyncpg.AdminShutdownError,  # 57P01: server stopping, or pg_terminate_backend
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.TooManyConnectionsError,  # 53300: no connection slot left
)
_BROKER_DOWN: tuple[type[Exception], ...] = (
    kafka_errors.KafkaConnectionError,
    kafka_errors.NodeNotReadyError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.RequestTimedOutError,
    kafka_errors.BrokerNotAvailableError,
    kafka_errors.LeaderNotAvailableError,
    kafka_errors.NotLeaderForPartitionError,
    kafka_errors.KafkaUnavailableError,
)
# OSError covers refused and reset connections, DNS failures and (3.11) TimeoutError: connect and pool acquire
# timeouts. Its file-system members are a handler's own business, never an outage.
_LOCAL_FILE_ERRORS: tuple[type[OSError], ...] = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)

# The exception classes an HTTP app registers a handler for; `is_outage` then decides on the instance.
OUTAGE_TYPES: tuple[type[Exception], ...] = (
    *_DATABASE_DOWN,
    *_BROKER_DOWN,
    asyncpg.InterfaceError,
    OSError,
)


def _is_outage_itself(exc: BaseException) -> bool:
    if isinstance(exc, _DATABASE_DOWN + _BROKER_DOWN):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        # Also raised for programming errors (a released connection, concurrent operations): only a closed
        # connection is the database's absence.
        return "connection is closed" in str(exc)
    return isinstance(exc, OSError) and not isinstance(exc, _LOCAL_FILE_ERRORS)


def is_outage(exc: BaseException) -> bool:
    """True when `exc`, or what caused it, says PostgreSQL or Kafka cannot be reached right now."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_outage_itself(current):
            return True
        if isinstance(current, BaseExceptionGroup):
            return any(is_outage(inner) for inner in current.exceptions)
        # Only an explicit `raise ... from`: an error raised while handling an outage is not one by itself.
        current = current.__cause__
    return False


def is_timeout(exc: BaseException) -> bool:
    """A timeout is ambiguous: the server may be away, or the statement may be too slow on its own."""
    return isinstance(exc, TimeoutError)
