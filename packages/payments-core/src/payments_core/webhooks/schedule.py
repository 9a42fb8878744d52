"""When a failed delivery is tried again (CONTRACT §3, WEBHOOK_RETRY_SCHEDULE)."""

import random
from collections.abc import Sequence

# Up to 10% later than scheduled, so the retries of one outage's many deliveries do not all land
# on the recovering endpoint in the same second.
JITTER = 0.1


def retry_delay(
    schedule: Sequence[int], retries_used: int, rng: random.Random | None = None
) -> float | None:
    """Seconds to the next attempt after `retries_used` retries; None once all are used."""
    if retries_used >= len(schedule):
        return None
    base = float(schedule[retries_used])
    return base + base * (rng or random).uniform(0, JITTER)
