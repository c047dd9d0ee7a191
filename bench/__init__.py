"""Benchmarks. Results are ratios against the bare database in the same run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request


def start_serve(conninfo: str, port: int, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """`qdx serve` on a database, as `make run` serves (logging at WARNING); returns the
    process and its URL once /readyz answers (or after 30 s)."""
    env = {**os.environ, "DATABASE_URL": conninfo, "QDX_LOG_LEVEL": "WARNING",
           "QDX_PORT": str(port)}  # fmt: skip
    cmd = [sys.executable, "-m", "qdx", "serve", "--port", str(port), *extra]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1):  # noqa: S310
                break
        except OSError:
            time.sleep(0.1)
    return proc, url
