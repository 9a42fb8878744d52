"""Money is an integer in minor units plus an ISO 4217 currency."""

# ISO 4217 minor-unit exponents for the currencies we are likely to be configured for.
CURRENCY_EXPONENTS: dict[str, int] = {
    "NGN": 2, "USD": 2, "EUR": 2, "GBP": 2, "KES": 2, "GHS": 2, "ZAR": 2,
    "JPY": 0, "KRW": 0, "UGX": 0, "XOF": 0, "XAF": 0, "RWF": 0,
    "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3,
    "CAD": 2, "AUD": 2, "CHF": 2, "CNY": 2, "INR": 2, "EGP": 2, "MAD": 2, "TZS": 2,
}  # fmt: skip

DEFAULT_CURRENCY = "NGN"
# Far above any real charge, far below BIGINT overflow: a typo guard, not a business limit.
MAX_AMOUNT_MINOR_UNITS = 10**12


def minor_unit_exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency.upper(), 2)
