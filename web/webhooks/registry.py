"""The sources the receiver knows: every name in sources.SOURCES, loaded from its folder."""

from __future__ import annotations

import importlib
import importlib.util
from functools import cache

from sources import SOURCES
from web.webhooks.source import Source


@cache
def all_sources() -> dict[str, Source]:
    """name -> declaration, for every source in the catalog."""
    found: dict[str, Source] = {}
    for name in SOURCES:
        if importlib.util.find_spec(f"sources.{name}") is None:
            continue
        module = importlib.import_module(f"sources.{name}")
        source = module.SOURCE
        if not isinstance(source, Source) or source.name != name:
            raise RuntimeError(f"sources/{name}/ must declare SOURCE = Source(name={name!r}, ...)")
        found[name] = source
    return found
