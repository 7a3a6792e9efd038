"""Token buckets for requests/min and tokens/min limits (async, one per endpoint)."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """Refills ``per_minute / 60`` units a second up to ``capacity`` (default one second's
    worth, at least 1). ``acquire(n)`` waits until ``n`` units are available; a request larger
    than the capacity is let through once the bucket is full (and drives it negative)."""

    def __init__(self, per_minute: float, capacity: float | None = None):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, capacity if capacity is not None else self.rate)
        self.level = self.capacity
        self.stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def acquire(self, amount: float = 1.0) -> None:
        async with self._lock:  # first come, first served
            while True:
                self._refill()
                need = min(amount, self.capacity)
                if self.level >= need:
                    self.level -= amount
                    return
                await asyncio.sleep((need - self.level) / self.rate)

    def adjust(self, delta: float) -> None:
        """Give back (delta > 0) or take (delta < 0) units after the real usage is known."""
        self._refill()
        self.level = min(self.capacity, self.level + delta)
