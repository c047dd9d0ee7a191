"""The sources the receivers know: every name in sources.SOURCES, loaded from its folder."""

from __future__ import annotations

import importlib
import importlib.util
from functools import cache

from sources import SOURCES
from web.webhooks.source import BatchSource, Source


@cache
def _declarations() -> dict[str, Source | BatchSource]:
    found: dict[str, Source | BatchSource] = {}
    for name in SOURCES:
        if importlib.util.find_spec(f"sources.{name}") is None:
            continue
        source = importlib.import_module(f"sources.{name}").SOURCE
        if not isinstance(source, Source | BatchSource) or source.name != name:
            raise RuntimeError(f"sources/{name}/ must declare SOURCE = Source(name={name!r}, ...)")
        found[name] = source
    return found


def all_sources() -> dict[str, Source]:
    """name -> declaration of every webhook source in the catalog."""
    return {n: s for n, s in _declarations().items() if isinstance(s, Source)}


def batch_sources() -> dict[str, BatchSource]:
    """name -> declaration of every batch-upload source in the catalog."""
    return {n: s for n, s in _declarations().items() if isinstance(s, BatchSource)}
