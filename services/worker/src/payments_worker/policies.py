"""Timeouts and retry policies of every activity call, in one place.

Short start_to_close timeouts for short work, so an activity whose worker was killed is retried
within seconds. Gateway calls get `gateway_call_timeout` (reported by the worker running them:
its latency + the connector's own answer timeout + a margin).

Budget (CONTRACT.md: every test card final within 60 s with default settings): the 0341 card
times out on every authorization attempt, so it costs AUTHORIZE_RETRY.maximum_attempts answer
timeouts plus the backoff between them, then one void and one status write. See
`authorize_worst_case`; a test keeps it under the contract's limit.
"""

from datetime import timedelta

from temporalio.common import RetryPolicy

# For steps that must happen, whatever it takes: no attempt limit, backing off to 10 s. Business
# refusals are non-retryable ApplicationErrors and end the retries at once.
UNTIL_IT_HAPPENS = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=0,
)

# Database-only steps: they fail only while PostgreSQL is away, and must happen eventually
# (a payment must not stay `processing` because the database blinked).
BOOKKEEPING_TIMEOUT = timedelta(seconds=10)
BOOKKEEPING_RETRY = UNTIL_IT_HAPPENS

# 0119 fails twice, then succeeds on the third attempt: four attempts leave one to spare.
AUTHORIZE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=4,
)

# A capture keyed by idempotency key is safe to repeat; a transient error is retried a little
# longer than an authorization, since giving up means voiding a hold we already have.
CAPTURE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=5,
)

# After the gateway refused a void because the capture had gone through (its answer was lost):
# the money moved, so the capture (the same idempotent call, answered from the gateway's record)
# is repeated until it is recorded; the payment can only end completed.
RECORD_CAPTURE_RETRY = UNTIL_IT_HAPPENS

# The undo of a hold: idempotent, and it must happen, so retried until it does.
VOID_RETRY = UNTIL_IT_HAPPENS

# Before a fallback: the void at the connector that failed, tried a few times only; if it cannot
# be done, the payment takes the usual way (VOID_RETRY, then failed) instead of moving on.
FALLBACK_VOID_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=3,
)

# A refund is not time-critical; its gateway call is bounded by the connector's own timeout.
REFUND_CALL_TIMEOUT = timedelta(seconds=30)
REFUND_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=8,
)


def gateway_call_timeout(latency: timedelta, answer_timeout: timedelta) -> timedelta:
    """start_to_close of one gateway activity: the sandbox may spend its latency on each side
    of the call and the answer timeout in between; the margin covers the database writes."""
    return latency * 2 + answer_timeout + timedelta(seconds=3)


def backoff_total(policy: RetryPolicy) -> timedelta:
    """Time spent waiting between all attempts of a policy with an attempt limit."""
    assert policy.maximum_attempts > 0
    total = timedelta()
    interval = policy.initial_interval
    for _ in range(policy.maximum_attempts - 1):
        capped = min(interval, policy.maximum_interval or interval)
        total += capped
        interval = interval * policy.backoff_coefficient
    return total


def authorize_worst_case(answer_timeout: timedelta, latency: timedelta) -> timedelta:
    """How long authorizations that never answer take before the workflow gives up."""
    per_attempt = answer_timeout + latency * 2
    return per_attempt * AUTHORIZE_RETRY.maximum_attempts + backoff_total(AUTHORIZE_RETRY)
