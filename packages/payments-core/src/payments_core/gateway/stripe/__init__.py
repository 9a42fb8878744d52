"""Stripe as a gateway connector, through its PaymentIntents API."""

from payments_core.gateway.stripe.client import StripeClient
from payments_core.gateway.stripe.connector import StripeConnector

__all__ = ["StripeClient", "StripeConnector"]
