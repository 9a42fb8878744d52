"""Retry delays for rows and loops that failed: exponential, capped, jittered."""

import random

BASE_SECONDS = 0.5
CAP_SECONDS = 60.0
# 2**16 * 0.5 s is far past the cap; bounding the exponent keeps huge counts from overflowing.
MAX_EXPONENT = 16


def retry_delay(attempts: int, *, base: float = BASE_SECONDS, cap: float = CAP_SECONDS) -> float:
    """Seconds to wait after the `attempts`-th failure (1 → ~0.5 s, 2 → ~1 s, … up to `cap`).

    Jitter spreads retries of many rows (and several relays) that failed together, so they do
    not return to a recovering endpoint in one burst; the lower half is kept so the delay still
    grows with every attempt.
    """
    exponent = min(max(attempts - 1, 0), MAX_EXPONENT)
    ceiling = min(cap, base * 2**exponent)
    return random.uniform(ceiling / 2, ceiling)
