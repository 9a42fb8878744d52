"""Stripe as a gateway connector, through its PaymentIntents API (issue 15, first slice)."""

from payments_core.gateway.stripe.connector import StripeConnector

__all__ = ["StripeConnector"]
