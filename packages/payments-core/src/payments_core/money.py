"""Money is an integer in minor units plus an ISO 4217 currency."""

from typing import Annotated

from pydantic import Field, StrictInt

DEFAULT_CURRENCY = "NGN"
# Far above any real charge, far below BIGINT overflow: a typo guard, not a business limit.
MAX_AMOUNT_MINOR_UNITS = 10**12

# An amount a request may carry: a positive integer of minor units (a float or "100" is 400).
Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_MINOR_UNITS)]
