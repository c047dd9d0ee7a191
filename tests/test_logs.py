"""Logs are JSON lines off a terminal and never carry secrets."""

from __future__ import annotations

import json
import logging

import pytest

from qdx import logs

SECRET_TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLWJ5dGVz"


def test_json_lines_with_secrets_masked(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO", "json")
    log = logging.getLogger("qdx.test")
    log.info(
        "connecting to postgresql://app:hunter2@db:5432/qdx with Bearer %s", SECRET_TOKEN,
        extra={"secret": "whsec_abc", "client_secret": "x", "org": "acme",
               "dsn": "host=db password=hunter2 dbname=qdx"},
    )  # fmt: skip
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["level"] == "info"
    assert entry["logger"] == "qdx.test"
    assert entry["org"] == "acme"
    assert entry["secret"] == "[redacted]"
    assert entry["client_secret"] == "[redacted]"
    for leaked in ("hunter2", SECRET_TOKEN, "whsec_abc"):
        assert leaked not in line
    assert "postgresql://app:[redacted]@db:5432/qdx" in entry["msg"]
    assert entry["dsn"] == "host=db password=[redacted] dbname=qdx"


def test_text_format_masks_too(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO", "text")
    logging.getLogger("qdx.test").warning("token %s", SECRET_TOKEN, extra={"password": "pw"})
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert SECRET_TOKEN not in line
    assert "pw" not in line.split("password=")[1]
    assert "[jwt]" in line
