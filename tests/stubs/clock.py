"""A fake monotonic clock for code that takes ``clock`` and ``sleep``: time moves only when
something sleeps on it, so rate limits and backoffs are tested exactly and nothing really waits."""

from __future__ import annotations

import asyncio


class FakeClock:
    """``clock()`` reads it, ``await clock.sleep(s)`` advances it by ``s`` (and lets other tasks run,
    as a real sleep would); ``slept`` lists every sleep in order."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


def within_rate(times: list[float], rate: float, burst: float) -> bool:
    """Every run of consecutive events fits a token bucket: n events within T seconds ≤ burst + rate·T."""
    times = sorted(times)
    return all(j - i + 1 <= burst + rate * (times[j] - times[i]) + 1e-9
               for i in range(len(times)) for j in range(i, len(times)))
