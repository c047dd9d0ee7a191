"""The procrastinate app: our tasks on a connector to the platform's database."""

from __future__ import annotations

import procrastinate

from workers.tasks import blueprint

QUEUES = ("default", "maintenance", "metrics")


def make_app(conninfo: str) -> procrastinate.App:
    """A procrastinate App bound to this database (opened by the caller)."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    app.add_tasks_from(blueprint, namespace="qdx")
    return app


async def run_worker(conninfo: str, *, concurrency: int, name: str = "qdx-worker") -> None:
    """Run the worker until cancelled; cancellation stops it after its current jobs."""
    app = make_app(conninfo)
    async with app.open_async():
        await app.run_worker_async(
            queues=list(QUEUES),
            concurrency=concurrency,
            name=name,
            install_signal_handlers=False,
        )
