"""Money is an integer in minor units plus an ISO 4217 currency."""

DEFAULT_CURRENCY = "NGN"
# Far above any real charge, far below BIGINT overflow: a typo guard, not a business limit.
MAX_AMOUNT_MINOR_UNITS = 10**12
