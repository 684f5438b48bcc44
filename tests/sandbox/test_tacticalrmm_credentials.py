"""FakeTacticalRmm's ``POST /__sandbox/credentials``: a fresh API key each time, for the demo user.

What ``patchbay sandbox connect`` asks for, so that no two tenants share a key.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.tacticalrmm import FakeTacticalRmm


def client(fake: FakeTacticalRmm) -> httpx.Client:
    return httpx.Client(transport=fake.transport(), base_url="https://api.tactical.test")


@pytest.fixture
def seeded() -> Iterator[tuple[FakeTacticalRmm, httpx.Client]]:
    fake = FakeTacticalRmm()
    fake.seed_demo()
    with client(fake) as http:
        yield fake, http


def test_each_mint_is_a_new_api_key_that_reads_the_demo_instance(
    seeded: tuple[FakeTacticalRmm, httpx.Client],
) -> None:
    _, http = seeded
    first = http.post("/__sandbox/credentials")
    second = http.post("/__sandbox/credentials")
    assert first.status_code == second.status_code == 201
    keys = [first.json()["api_key"], second.json()["api_key"]]
    assert list(first.json()) == ["api_key"]
    assert len(set(keys)) == 2
    for key in keys:
        clients = http.get("/clients/", headers={"X-API-KEY": key})
        assert clients.status_code == 200
        assert [c["name"] for c in clients.json()] == ["Contoso Dental", "Fabrikam Legal"]
    # Control calls stay out of the request log, so the keys never show up in it.
    logged = http.get("/__sandbox/requests").text
    assert all(key not in logged for key in keys)


def test_an_unseeded_fake_mints_a_key_for_a_demo_user_it_creates() -> None:
    fake = FakeTacticalRmm()
    with client(fake) as http:
        minted = http.post("/__sandbox/credentials")
        assert minted.status_code == 201
        key = minted.json()["api_key"]
        answer = http.get("/clients/", headers={"X-API-KEY": key})
    assert (answer.status_code, answer.json()) == (200, [])


def test_minting_keeps_the_demo_user_as_it_is(
    seeded: tuple[FakeTacticalRmm, httpx.Client],
) -> None:
    fake, http = seeded
    fake.deactivate_user("patchbay-demo")
    key = http.post("/__sandbox/credentials").json()["api_key"]
    refused = http.get("/clients/", headers={"X-API-KEY": key})
    assert (refused.status_code, refused.json()) == (401, {"detail": "User inactive or deleted."})
