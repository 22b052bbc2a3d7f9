"""`BookCache`: a rep's book is reused, refreshed in the background at half its TTL, and never used past it."""

from __future__ import annotations

import asyncio

import pytest

from api.auth import Principal, Role
from api.graphql import visibility
from api.graphql.visibility import Book, BookCache

RITA = Principal(Role.REP, "k", "api-key", rep_id="005-rita")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(coro)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(visibility, "_clock", c)
    return c


def builder() -> tuple[list[int], object]:
    built: list[int] = []

    async def build() -> Book:
        built.append(len(built) + 1)
        await asyncio.sleep(0)
        return Book(frozenset({"005-rita"}), frozenset({f"deal-{len(built)}"}), frozenset(), frozenset())

    return built, build


def test_reuse_refresh_ahead_and_expiry(clock: Clock) -> None:
    async def scenario() -> list[str]:
        cache, (built, build) = BookCache(ttl_s=10), builder()
        seen = [next(iter((await cache.get(RITA, build)).deals))]      # t=0: first read
        clock.now += 4
        seen.append(next(iter((await cache.get(RITA, build)).deals)))  # t=4: reused, nothing read
        clock.now += 2
        seen.append(next(iter((await cache.get(RITA, build)).deals)))  # t=6: old one; fresh one being read
        await asyncio.sleep(0.01)
        clock.now += 1
        seen.append(next(iter((await cache.get(RITA, build)).deals)))  # t=7: the fresh one (read at t=6)
        clock.now += 20
        seen.append(next(iter((await cache.get(RITA, build)).deals)))  # t=27: too old: waits for a new read
        assert built == [1, 2, 3]
        return seen

    assert run(scenario()) == ["deal-1", "deal-1", "deal-1", "deal-2", "deal-3"]


def test_ttl_zero_reads_every_time_and_a_failed_read_is_not_kept(clock: Clock) -> None:
    async def scenario() -> None:
        cache, (built, build) = BookCache(ttl_s=0), builder()
        await cache.get(RITA, build)
        await cache.get(RITA, build)
        assert built == [1, 2]

        calls = []

        async def broken() -> Book:
            calls.append(1)
            raise RuntimeError("store down")

        cache = BookCache(ttl_s=60)
        for _ in range(2):
            with pytest.raises(RuntimeError):
                await cache.get(RITA, broken)
        assert len(calls) == 2  # the failure was not cached
        assert next(iter((await cache.get(RITA, build)).deals)).startswith("deal-")

    run(scenario())


def test_books_are_per_rep_and_scope(clock: Clock) -> None:
    async def scenario() -> None:
        cache, (built, build) = BookCache(ttl_s=60), builder()
        await cache.get(RITA, build)
        await cache.get(Principal(Role.REP, "k", "api-key", rep_id="005-rita", team_scope=True), build)
        await cache.get(Principal(Role.REP, "k", "api-key", rep_id="005-bob"), build)
        await cache.get(RITA, build)
        assert built == [1, 2, 3]

    run(scenario())
