"""EndpointClient pacing: request starts spaced so equal-latency bursts dissolve."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import ValidationError

from thoughtdistill.api import EndpointConfig
from thoughtdistill.api.client import AUTO_PACING_SHARE, EndpointClient

# Nothing listens here: these tests never send a request, they only use the pacer.
UNUSED_URL = "http://127.0.0.1:9/v1"


def endpoint(**kw) -> EndpointConfig:
    return EndpointConfig(name="t", base_url=UNUSED_URL, model="m", **kw)


async def start_times(client: EndpointClient, count: int) -> list[float]:
    times: list[float] = []

    async def one() -> None:
        await client._pace()
        times.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(count)))
    await client.aclose()
    return sorted(times)


def test_fixed_pacing_spaces_every_start():
    times = asyncio.run(start_times(EndpointClient(endpoint(pacing=0.05, concurrency=8)), 5))
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(gap >= 0.045 for gap in gaps), gaps
    assert times[-1] - times[0] >= 0.19


def test_auto_pacing_is_half_the_mean_latency_per_slot():
    client = EndpointClient(endpoint(concurrency=10))
    assert client.pacing_gap() == 0.0  # no latency seen yet: the first burst goes out at once
    client._observe_latency(0.2)
    assert client.pacing_gap() == pytest.approx(AUTO_PACING_SHARE * 0.2 / 10)
    for _ in range(100):
        client._observe_latency(1.0)
    assert client.pacing_gap() == pytest.approx(AUTO_PACING_SHARE * 1.0 / 10, rel=1e-3)
    asyncio.run(client.aclose())


def test_pacing_off_starts_all_at_once():
    client = EndpointClient(endpoint(pacing=0, concurrency=4))
    client._observe_latency(5.0)
    assert client.pacing_gap() == 0.0
    times = asyncio.run(start_times(client, 4))
    assert times[-1] - times[0] < 0.5  # the fixed-pacing test above needs >= 0.15 for 4 starts


@pytest.mark.parametrize("bad", [-0.1, "fast"])
def test_bad_pacing_is_rejected(bad):
    with pytest.raises(ValidationError, match="pacing"):
        endpoint(pacing=bad)
