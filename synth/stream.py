"""Posting deliveries to a running server over HTTP, each signed as its vendor signs it.

A bounded number of requests are in flight at once; a 503 or 429 is retried after its
Retry-After, a connection error after a short backoff. The history is generated in a
worker thread, a chunk at a time, so a server sharing the event loop keeps answering.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import httpx

from synth.emit import Delivery
from web.webhooks.schemes import Scheme

log = logging.getLogger(__name__)

CHUNK = 256  # deliveries generated per trip to the worker thread
MAX_ATTEMPTS = 8
MAX_WAIT = 30.0  # longest Retry-After honoured, seconds


@dataclass(frozen=True)
class Target:
    """Where a source's deliveries go and how they are signed."""

    source: str
    url: str  # the endpoint URL
    secret: str  # what the vendor signs with
    scheme: Scheme


@dataclass
class Summary:
    """What a stream did."""

    sent: int = 0  # deliveries answered or given up on
    accepted: int = 0  # 202
    duplicates: int = 0  # 200
    errors: int = 0  # any other answer, or no answer after every attempt
    retries: int = 0
    planned_duplicates: int = 0
    elapsed: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.sent} deliveries in {self.elapsed:.1f}s ({self.rate:.0f}/s): "
            f"{self.accepted} accepted, {self.duplicates} duplicates "
            f"({self.planned_duplicates} planned), {self.errors} errors, {self.retries} retries"
        )


class ServerUnavailable(Exception):
    """Nothing ready answers at the server's URL."""


def _quiet_httpx() -> None:
    # httpx logs every request at INFO: thousands of lines a second here. Progress is ours.
    logging.getLogger("httpx").setLevel(logging.WARNING)


async def wait_ready(client: httpx.AsyncClient, base_url: str, within: float = 30.0) -> None:
    """Return once GET /readyz answers 200; raise ServerUnavailable after `within` seconds."""
    _quiet_httpx()
    deadline = time.monotonic() + within
    reason = "no answer"
    while True:
        try:
            reply = await client.get(f"{base_url}/readyz")
            if reply.status_code == 200:
                return
            reason = f"/readyz answered {reply.status_code}: {reply.text[:200]}"
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if time.monotonic() > deadline:
            raise ServerUnavailable(f"{base_url} is not ready ({reason})")
        await asyncio.sleep(0.25)


def _retry_after(reply: httpx.Response) -> float:
    try:
        return min(MAX_WAIT, max(0.0, float(reply.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0


class _Stream:
    def __init__(
        self,
        targets: Mapping[str, Target],
        progress_every: float,
    ) -> None:
        self.targets = targets
        self.progress_every = progress_every
        self.summary = Summary()
        self.started = time.monotonic()
        self.reported_errors = 0

    async def post(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        target = self.targets[delivery.source]
        summary = self.summary
        for attempt in range(MAX_ATTEMPTS):
            # Signed at each attempt: timestamped schemes refuse an old signature.
            signed = target.scheme.sign(delivery.body, target.secret, time.time())
            headers = {"Content-Type": delivery.content_type, **delivery.headers, **signed.headers}
            try:
                reply = await client.post(
                    target.url, content=signed.body, headers=headers, params=signed.query
                )
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                wait = min(MAX_WAIT, 0.25 * 2**attempt)
            else:
                if reply.status_code not in (429, 503):
                    self._record(delivery, reply)
                    return
                problem = f"HTTP {reply.status_code}"
                wait = _retry_after(reply)
            summary.retries += 1
            await asyncio.sleep(wait)
        summary.sent += 1
        summary.errors += 1
        self._report_error(delivery, f"gave up after {MAX_ATTEMPTS} attempts ({problem})")

    def _record(self, delivery: Delivery, reply: httpx.Response) -> None:
        summary = self.summary
        summary.sent += 1
        summary.statuses[reply.status_code] += 1
        if reply.status_code == 202:
            summary.accepted += 1
        elif reply.status_code == 200:
            summary.duplicates += 1
        else:
            summary.errors += 1
            self._report_error(delivery, f"HTTP {reply.status_code}: {reply.text[:300]}")

    def _report_error(self, delivery: Delivery, problem: str) -> None:
        self.reported_errors += 1
        if self.reported_errors <= 5:
            log.warning(
                "synthetic delivery refused",
                extra={
                    "source": delivery.source,
                    "event_type": delivery.event_type,
                    "delivery_id": delivery.delivery_id,
                    "problem": problem,
                },
            )

    def progress(self) -> None:
        summary = self.summary
        summary.elapsed = time.monotonic() - self.started
        log.info(
            "demo stream: %d sent, %d accepted, %d duplicates, %d errors, %.0f/s",
            summary.sent,
            summary.accepted,
            summary.duplicates,
            summary.errors,
            summary.rate,
        )

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(self.progress_every)
            self.progress()


async def stream(
    deliveries: Iterable[Delivery],
    targets: Mapping[str, Target],
    *,
    concurrency: int = 16,
    progress_every: float = 5.0,
) -> Summary:
    """Post every delivery to its source's target; return what happened."""
    _quiet_httpx()
    state = _Stream(targets, progress_every)
    queue: asyncio.Queue[Delivery | None] = asyncio.Queue(maxsize=concurrency * 4)
    source: Iterator[Delivery] = iter(deliveries)

    async def produce() -> None:
        while chunk := await asyncio.to_thread(list, itertools.islice(source, CHUNK)):
            for delivery in chunk:
                state.summary.planned_duplicates += delivery.duplicate
                await queue.put(delivery)
        for _ in range(concurrency):
            await queue.put(None)

    async def work() -> None:
        # One client, one connection per worker: httpx's pool does work per request for
        # every connection it holds, so one shared pool of many costs more than the
        # requests themselves.
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
            while (delivery := await queue.get()) is not None:
                await state.post(client, delivery)

    ticker = asyncio.create_task(state.tick())
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(produce())
            for _ in range(concurrency):
                group.create_task(work())
    finally:
        ticker.cancel()
    state.summary.elapsed = time.monotonic() - state.started
    return state.summary
