"""Fixed-window counts per client address, in this process's memory.

For requests without a valid credential (none, a wrong one, an unknown key): a stranger who
invents a new key per request must not get a new bucket each time, nor cost a database write
each time, so these are counted by where they come from, at no database cost. The count is per
API replica (N replicas let an address through up to N times the limit): a bound on strangers,
not a quota a merchant relies on, which stays the shared per-key count in PostgreSQL.

Memory is bounded: the windows are the PostgreSQL limiter's, so every count is dropped when a
window ends, and within one window at most `max_addresses` are kept, the least recently seen
forgotten first (a flood from many addresses cannot grow the map; an address still sending
stays recent, so it keeps its count).
"""

import ipaddress
import time

from payments_core.rate_limit.service import WINDOW_SECONDS, RateLimitState

# About 100-150 bytes an entry (measured): 10-15 MB at most, of the API container's 512 MiB.
MAX_ADDRESSES = 100_000
# One IPv6 subscriber holds at least a /64, and could rotate through its 2^64 addresses.
IPV6_PREFIX = 64


class AddressLimiter:
    def __init__(self, limit_per_minute: int, max_addresses: int = MAX_ADDRESSES) -> None:
        self._limit = limit_per_minute
        self._max_addresses = max_addresses
        self._window_start = 0
        # Insertion order is recency order: each hit moves its address to the end.
        self._counts: dict[str, int] = {}

    def hit(self, address: str, now: float | None = None) -> RateLimitState:
        moment = now if now is not None else time.time()
        window_start = int(moment) - int(moment) % WINDOW_SECONDS
        if window_start != self._window_start:
            self._counts.clear()
            self._window_start = window_start
        bucket = address_bucket(address)
        count = self._counts.pop(bucket, 0) + 1
        self._counts[bucket] = count
        if len(self._counts) > self._max_addresses:
            del self._counts[next(iter(self._counts))]
        return RateLimitState(self._limit, self._limit - count, window_start + WINDOW_SECONDS)

    def __len__(self) -> int:
        return len(self._counts)


def address_bucket(address: str) -> str:
    """What one client is counted as: its IPv4 address, or its IPv6 /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]  # not an IP (a test client's name, a unix socket): as it is
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)
