"""A platform of its own for the fuzzer, on its own broker and database server: it creates, changes and retires
whatever the documents allow, so it must share no topic, consumer group or database with the other tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mpp_devstack.platform import Platform
from mpp_devstack.stack import own_stack


@pytest.fixture(scope="module")
def fuzz_platform(platform_secrets: dict[str, str]) -> Iterator[Platform]:
    # One intake is enough: every site runs the same code.
    with own_stack(platform_secrets, sites=("loa-kulu",), prefix="fuzz") as stack:
        yield stack.platform
