"""Names shared by every part of the client: tenants, domains, pairs, errors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Iterable, List, Optional, Union

ALL_TENANTS = "00000000-0000-0000-0000-000000000000"
MAX_DOMAIN_BYTES = 63

TenantLike = Union[str, uuid.UUID, None]


class FraiseqlCacheError(Exception):
    """Base class of the errors this package raises."""


class VersionReadError(FraiseqlCacheError):
    """Versions could not be read (server unreachable, extension missing...)."""


def normalize_tenant(tenant: TenantLike) -> str:
    """The canonical text of a tenant id; None means the all-tenants id."""
    if tenant is None:
        return ALL_TENANTS
    if isinstance(tenant, uuid.UUID):
        return str(tenant)
    if isinstance(tenant, str):
        try:
            return str(uuid.UUID(tenant))
        except ValueError:
            raise ValueError(
                f"tenant id {tenant!r} is not a uuid (use None or {ALL_TENANTS} "
                "for global data)"
            ) from None
    raise TypeError(f"tenant id must be a uuid, a str or None, not {type(tenant).__name__}")


def check_domain(domain: str) -> str:
    if not isinstance(domain, str):
        raise TypeError(f"domain must be a str, not {type(domain).__name__}")
    n = len(domain.encode("utf-8"))
    if n == 0 or n > MAX_DOMAIN_BYTES:
        raise ValueError(f"cache domain {domain!r} must be 1 to {MAX_DOMAIN_BYTES} bytes long")
    return domain


def normalize_domains(domains: Iterable[str]) -> List[str]:
    if isinstance(domains, (str, bytes)):
        raise TypeError("domains must be a list of names, not a single string")
    return [check_domain(d) for d in domains]


@dataclass(frozen=True)
class PairKey:
    tenant: str
    domain: str


@dataclass(frozen=True)
class VersionUpdate:
    """One announced version; `domain_floor` and `lsn` are optional payload keys."""

    pair: PairKey
    version: int
    domain_floor: Optional[int] = None
    lsn: Optional[str] = None
