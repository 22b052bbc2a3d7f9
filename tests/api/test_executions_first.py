"""`ExecutionsFirst`: a cached answer waits while queries execute, never longer than its bound."""

from __future__ import annotations

import asyncio
import contextlib

from api.executions_first import ExecutionsFirst


def test_nothing_executing_means_no_wait() -> None:
    async def scenario() -> bool:
        return await ExecutionsFirst().wait()

    assert asyncio.run(scenario()) is False


def test_a_cached_answer_goes_after_the_executions_in_flight() -> None:
    async def scenario() -> list[str]:
        order: list[str] = []
        first = ExecutionsFirst(max_wait_s=5.0)
        release_a, release_b = asyncio.Event(), asyncio.Event()

        async def execute(name: str, release: asyncio.Event) -> None:
            async with first.executing():
                await release.wait()
                order.append(f"{name} done")

        async def cached() -> None:
            assert await first.wait()
            order.append("cached answer")

        a = asyncio.create_task(execute("a", release_a))
        b = asyncio.create_task(execute("b", release_b))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(cached())
        await asyncio.sleep(0.01)
        release_a.set()
        await a
        await asyncio.sleep(0.01)
        assert not waiting.done()  # b still executes
        release_b.set()
        await asyncio.gather(b, waiting)
        assert not first.busy
        return order

    assert asyncio.run(scenario()) == ["a done", "b done", "cached answer"]


def test_a_long_execution_holds_cached_answers_only_up_to_the_bound() -> None:
    async def scenario() -> None:
        first = ExecutionsFirst(max_wait_s=0.02)
        release = asyncio.Event()

        async def execute() -> None:
            async with first.executing():
                await release.wait()

        running = asyncio.create_task(execute())
        await asyncio.sleep(0)
        assert await asyncio.wait_for(first.wait(), timeout=2.0)  # returns after ~0.02 s, not when released
        assert first.busy
        # The waiter that gave up must not have cancelled what later waiters wait on.
        later = asyncio.create_task(first.wait())
        await asyncio.sleep(0)
        release.set()
        await running
        assert await later
        assert not first.busy

    asyncio.run(scenario())


def test_an_execution_that_fails_still_lets_cached_answers_go() -> None:
    async def scenario() -> None:
        first = ExecutionsFirst(max_wait_s=5.0)

        async def execute() -> None:
            async with first.executing():
                await asyncio.sleep(0.01)
                raise RuntimeError("store went away")

        failing = asyncio.create_task(execute())
        await asyncio.sleep(0)
        waiter = asyncio.create_task(first.wait())
        with contextlib.suppress(RuntimeError):
            await failing
        assert await asyncio.wait_for(waiter, timeout=1.0)
        assert not first.busy

    asyncio.run(scenario())
