"""The procrastinate app: our tasks on a connector to the platform's database."""

from __future__ import annotations

import procrastinate

from workers.tasks import blueprint

QUEUES = ("default", "maintenance", "metrics")


_app: procrastinate.App | None = None


def make_app(conninfo: str) -> procrastinate.App:
    """The process's procrastinate App, bound to this database (opened by the caller).

    There is one per process: registering the blueprint renames its tasks in place
    (`qdx:` prefixed), so a second registration would name them `qdx:qdx:...`. A later
    call re-binds the same App to another database, as App.replace_connector does."""
    global _app
    connector = procrastinate.PsycopgConnector(conninfo=conninfo)
    if _app is None:
        _app = procrastinate.App(connector=connector)
        _app.add_tasks_from(blueprint, namespace="qdx")
    else:
        _app.connector = connector
        _app.job_manager.connector = connector
    return _app


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
