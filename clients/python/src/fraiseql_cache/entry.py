"""The stored form of a cache entry: the value tagged with the tenant, the
domains and the versions read before the value was computed (JSON)."""

from __future__ import annotations

import json
from typing import Any, Callable, List, Optional, Sequence, Tuple

Encode = Callable[[Any], Any]
Decode = Callable[[Any], Any]


def encode_entry(tenant: str, domains: Sequence[str], versions: Sequence[int], value: Any,
                 encode: Encode = lambda v: v) -> bytes:
    return json.dumps({"t": tenant, "d": list(domains), "v": list(versions),
                       "x": encode(value)}, separators=(",", ":")).encode()


def decode_entry(raw: Optional[bytes]) -> Optional[Tuple[str, List[str], List[int], Any]]:
    """(tenant, domains, versions, encoded value), or None if unreadable."""
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
        t, d, v = doc["t"], doc["d"], doc["v"]
        if not (isinstance(t, str) and isinstance(d, list) and isinstance(v, list)):
            return None
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            return None
        return t, d, v, doc["x"]
    except (ValueError, KeyError, TypeError):
        return None
