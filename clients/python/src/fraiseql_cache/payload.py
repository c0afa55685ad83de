"""Parsing of the server's NOTIFY payloads (no I/O)."""

from __future__ import annotations

import json
import re
from typing import List, Optional

from .model import PairKey, VersionUpdate, check_domain, normalize_tenant

_LSN = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")


def _int(value) -> Optional[int]:
    # bool is an int in Python: refuse it explicitly.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _update(obj) -> Optional[VersionUpdate]:
    if not isinstance(obj, dict):
        return None
    try:
        tenant = normalize_tenant(obj.get("tenant_id"))
        if obj.get("tenant_id") is None:
            return None
        domain = check_domain(obj.get("domain"))
    except (TypeError, ValueError):
        return None
    version = _int(obj.get("version"))
    if version is None:
        return None
    floor = None
    if "domain_floor" in obj:
        floor = _int(obj["domain_floor"])
        if floor is None:
            return None
    lsn = obj.get("lsn")
    if lsn is not None and (not isinstance(lsn, str) or not _LSN.match(lsn)):
        return None
    return VersionUpdate(PairKey(tenant, domain), version, floor, lsn)


def parse_notification(payload: str) -> Optional[List[VersionUpdate]]:
    """The updates in one payload (an object or an array of objects).

    Unknown keys are ignored. Returns None when the payload cannot be read:
    the caller must then reload everything it holds.
    """
    try:
        doc = json.loads(payload)
    except (TypeError, ValueError):
        return None
    items = doc if isinstance(doc, list) else [doc]
    out: List[VersionUpdate] = []
    for item in items:
        u = _update(item)
        if u is None:
            return None
        out.append(u)
    return out


def heartbeat_floor(payload: str) -> Optional[int]:
    """The "floor" of a heartbeat payload, None when absent or unreadable."""
    try:
        doc = json.loads(payload)
    except (TypeError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    return _int(doc.get("floor"))


def parse_lsn(lsn: str) -> int:
    """'X/Y' as an integer, for comparisons."""
    hi, lo = lsn.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)
