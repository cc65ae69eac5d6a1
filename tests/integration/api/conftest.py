"""Fixtures shared by the area API tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.api._logged_in import SignedIn


@pytest.fixture(scope="module")
def sign_in(app: Any) -> Iterator[SignedIn]:
    """``sign_in(member)``: a TestClient signed in as ``member``, one per member per module."""
    signed = SignedIn(app)
    yield signed
    signed.close()
