"""Fixtures the acceptance modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from acceptance.kdc import SERVICE, Realm


@pytest.fixture(scope="module")
def realm() -> Iterator[Realm]:
    """A KDC of its own per module (each module's principals are its own), with the service
    principal a task's Kerberos hook asks a ticket for."""
    with Realm() as started:
        started.service(SERVICE)
        yield started
