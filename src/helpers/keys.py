"""What made an artefact: the settings each stored result depends on, and their digest.

Every artefact of a run (twin world, datacube, sample store, product, matched store) stores
the settings that made it (a JSON-ready mapping) and their digest. On the next run the wanted
settings are compared with the stored ones: equal, the artefact is reused; different, it is
rebuilt with a warning that names what differs. Each key includes the key of the artefact it
was made from (the cube's includes the world's, the samples' and the product's include the
cube's), so a change anywhere upstream reaches everything downstream.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical(settings: Mapping[str, Any]) -> str:
    """The settings as canonical JSON (sorted keys, no spaces)."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)


def digest(settings: Mapping[str, Any]) -> str:
    """First 16 hex digits of the SHA-256 of :func:`canonical` settings."""
    return hashlib.sha256(canonical(settings).encode()).hexdigest()[:16]


def differences(stored: Mapping[str, Any] | None, wanted: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``key: stored -> wanted`` for every key whose values differ (empty: equal).

    Nested mappings are compared key by key (``production.tile_cells: 45 -> 30``); values are
    compared as canonical JSON, so a tuple equals a list and a date its ISO text.
    """
    if stored is None:
        return ["no record of the settings that made it"]
    out = []
    for key in sorted(set(stored) | set(wanted)):
        old, new = stored.get(key), wanted.get(key)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            out.extend(differences(old, new, f"{prefix}{key}."))
        elif _json(old) != _json(new):
            out.append(f"{prefix}{key}: {_short(old)} -> {_short(new)}")
    return out


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _short(value: Any, limit: int = 80) -> str:
    text = _json(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
