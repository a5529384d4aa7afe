"""What counts as an outage (wait it out, answer 503) and what is the work's own failure (attempts, DLQ, 500)."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, UnknownTopicOrPartitionError

from mpp_kit.consumer import PermanentError
from mpp_kit.outage import is_outage


def wrapped(inner: BaseException) -> Exception:
    try:
        raise RuntimeError("while saving the decision") from inner
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(),
        OSError("Multiple exceptions: [Errno 111] Connect call failed"),
        TimeoutError(),  # connect and pool acquire timeouts
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.InterfaceError("connection is closed"),
        KafkaConnectionError("Unable to bootstrap"),
        KafkaTimeoutError(),
        wrapped(ConnectionRefusedError()),
        ExceptionGroup("tasks", [ValueError("x"), ConnectionResetError()]),
    ],
    ids=repr,
)
def test_outages(exc: BaseException) -> None:
    assert is_outage(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("negative weight"),
        PermanentError("unknown template"),
        KeyError("site"),
        FileNotFoundError("template.txt"),
        PermissionError(),
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        UnknownTopicOrPartitionError(),
        wrapped(ValueError("bad")),
    ],
    ids=repr,
)
def test_failures_of_the_work_itself(exc: BaseException) -> None:
    assert not is_outage(exc)


def test_an_error_raised_while_handling_an_outage_is_not_one_by_itself() -> None:
    try:
        try:
            raise ConnectionResetError()
        except ConnectionResetError:
            raise ValueError("bad input noticed in the fallback")  # noqa: B904 - the point of the test
    except ValueError as exc:
        assert not is_outage(exc)
