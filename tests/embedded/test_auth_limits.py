"""Failed-login limits (part 7): 429 with Retry-After, growing lockouts, expiry, shared by replicas."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Embedded
from tests.embedded.test_auth_api import PASSWORD, assert_401, assert_error, new_email, register, replica  # noqa: F401


@pytest.fixture
def strict(embedded: Embedded, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Short limits for the test (3 failures per account, ``address_max`` per address, 1 s lockout)."""
    address_max = getattr(request, "param", 5)
    core = embedded.platform.services["auth"].core
    before = core.config
    core.reconfigure(
        before.model_copy(
            update={"account_max_failures": 3, "address_max_failures": address_max, "lockout_base_s": 1.0}
        )
    )
    try:
        yield core
    finally:
        core.reconfigure(before)


@pytest.fixture
async def clean_address(embedded: Embedded) -> Any:
    yield
    core = embedded.platform.services["auth"].core
    await core.limiter.reset("address:127.0.0.1")


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


@pytest.mark.parametrize("strict", [100], indirect=True)
async def test_account_lockout_across_replicas_and_its_expiry(
    client: httpx.AsyncClient,
    replica: httpx.AsyncClient,  # noqa: F811 (the fixture imported above)
    strict: Any,
    clean_address: Any,
) -> None:
    account = await register(client)
    email = account["user"]["email"]
    assert_401(await _login(client, email, "Wrong-password-1"), invalid_token=False)
    assert_401(await _login(replica, email, "Wrong-password-2"), invalid_token=False)
    assert_401(await _login(client, email, "Wrong-password-3"), invalid_token=False)  # third: locked for 1 s
    for gateway in (client, replica):  # the lock holds on every replica, even for the right password
        locked = await _login(gateway, email, PASSWORD)
        body = assert_error(locked, 429)
        assert locked.headers["retry-after"] == "1" and "try again" in body["details"]
    await asyncio.sleep(1.05)
    # expired; the attacker goes on, and the next lockout is twice as long (growing lockout)
    for n in range(3):
        assert_401(await _login(client, email, f"Wrong-password-{n}"), invalid_token=False)
    locked = await _login(replica, email, PASSWORD)
    assert locked.status_code == 429 and locked.headers["retry-after"] == "2"
    await asyncio.sleep(2.05)
    assert (await _login(client, email, PASSWORD)).status_code == 200  # success clears the account's count
    assert_401(await _login(client, email, "Wrong-password-9"), invalid_token=False)
    assert (await _login(client, email, PASSWORD)).status_code == 200


async def test_address_lockout(client: httpx.AsyncClient, strict: Any, clean_address: Any) -> None:
    account = await register(client)
    for _ in range(5):  # five different (unknown) accounts from one address
        assert_401(await _login(client, new_email("spray"), "Wrong-password-1"), invalid_token=False)
    locked = await _login(client, account["user"]["email"], PASSWORD)
    assert_error(locked, 429)
    assert int(locked.headers["retry-after"]) >= 1
    await asyncio.sleep(float(locked.headers["retry-after"]) + 0.05)
    assert (await _login(client, account["user"]["email"], PASSWORD)).status_code == 200


async def test_unknown_account_is_limited_like_a_real_one(
    client: httpx.AsyncClient, strict: Any, clean_address: Any
) -> None:
    ghost = new_email("ghost")
    for _ in range(3):
        assert_401(await _login(client, ghost, "Wrong-password-1"), invalid_token=False)
    assert_error(await _login(client, ghost, "Wrong-password-1"), 429)  # no enumeration through the limiter
    await asyncio.sleep(1.05)
