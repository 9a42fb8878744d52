"""The in-memory count per client address: fixed windows, IPv6 by /64, bounded memory."""

import pytest

from payments_core.rate_limit.by_address import AddressLimiter, address_bucket
from payments_core.rate_limit.service import WINDOW_SECONDS

START = 1_800_000_000 - 1_800_000_000 % WINDOW_SECONDS


def test_counts_an_address_within_a_window_and_forgets_it_in_the_next() -> None:
    limiter = AddressLimiter(limit_per_minute=2)
    states = [limiter.hit("198.51.100.7", now=START + offset) for offset in (1, 2, 3)]
    assert [state.remaining for state in states] == [1, 0, -1]
    assert states[2].exceeded and states[2].reset_at == START + WINDOW_SECONDS
    assert limiter.hit("203.0.113.20", now=START + 4).remaining == 1  # its own count

    assert limiter.hit("198.51.100.7", now=START + WINDOW_SECONDS).remaining == 1
    assert len(limiter) == 1  # the last window's addresses are gone


def test_holds_at_most_max_addresses_forgetting_the_least_recently_seen() -> None:
    limiter = AddressLimiter(limit_per_minute=5, max_addresses=3)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        limiter.hit(address, now=START)
    limiter.hit("10.0.0.1", now=START)  # seen again: now the most recent
    limiter.hit("10.0.0.4", now=START)  # pushes out 10.0.0.2

    assert len(limiter) == 3
    assert limiter.hit("10.0.0.1", now=START).remaining == 2  # its third hit, still counted
    assert limiter.hit("10.0.0.2", now=START).remaining == 4  # forgotten, counted afresh


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("testclient", "testclient"),
    ],
)
def test_an_address_is_counted_as_itself_or_its_ipv6_slash_64(address: str, bucket: str) -> None:
    assert address_bucket(address) == bucket
