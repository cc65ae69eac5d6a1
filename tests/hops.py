"""Where a request's sync work runs: hops to a worker thread (anyio's ``run_sync``, which
Starlette's ``run_in_threadpool`` uses) and calls onto the event loop
(``tenantry.db.loop.run_on_loop``, which every ``RequestUnit.call`` goes through)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from tenantry.db import loop


@dataclass
class Hops:
    threads: list[str] = field(default_factory=list)
    loop: list[str] = field(default_factory=list)
    # Both, in the order they happened: each is one hand-over of sync work.
    calls: list[str] = field(default_factory=list)


def _name(func: Any) -> str:
    return str(getattr(func, "__qualname__", repr(func)))


@contextmanager
def counting() -> Iterator[Hops]:
    seen = Hops()
    real_thread, real_spawn = anyio.to_thread.run_sync, loop.greenlet_spawn

    async def to_thread(func: Any, *args: Any, **kwargs: Any) -> Any:
        seen.threads.append(_name(func))
        seen.calls.append(_name(func))
        return await real_thread(func, *args, **kwargs)

    async def spawn(run: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        # run_on_loop spawns ``context.run(fn, *args)``: name ``fn``
        seen.loop.append(_name(fn))
        seen.calls.append(_name(fn))
        return await real_spawn(run, fn, *args, **kwargs)

    anyio.to_thread.run_sync = to_thread  # type: ignore[assignment]
    loop.greenlet_spawn = spawn  # type: ignore[assignment]
    try:
        yield seen
    finally:
        anyio.to_thread.run_sync = real_thread  # type: ignore[assignment]
        loop.greenlet_spawn = real_spawn  # type: ignore[assignment]
