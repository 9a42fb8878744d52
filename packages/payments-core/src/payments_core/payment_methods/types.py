"""Payment method types of the contract."""

from enum import StrEnum


class PaymentMethodType(StrEnum):
    CARD = "card"
    BANK_ACCOUNT = "bank_account"
    BANK_TRANSFER = "bank_transfer"
    WALLET = "wallet"
    USSD = "ussd"
