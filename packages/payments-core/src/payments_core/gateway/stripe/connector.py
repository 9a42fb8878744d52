"""The Stripe connector: our gateway protocol on Stripe's PaymentIntents (a "transformer", after
Hyperswitch): our requests become Stripe's, Stripe's answers and errors become ours, and nothing
Stripe-specific leaves this package. Stripe's ids (`pm_…`, `pi_…`, `re_…`) are our references.

Every authorization is a PaymentIntent with `capture_method=manual`, confirmed at once, so the
hold and the capture stay two steps as with the sandbox; the PaymentIntent carries our payment
id and the authorization's idempotency key in its metadata, which is how a void or a lookup
finds it when the authorization's answer was lost (Stripe's search API).

A merchant's connector (payments_core/connectors) opens one per set of credentials.
"""

import uuid
from typing import Any

from payments_core.errors import InvalidRequest
from payments_core.gateway.connector import (
    AuthorizeRequest,
    CaptureRequest,
    CardDetails,
    GatewayRecord,
    GatewayResult,
    RefundRequest,
    TokenizedCard,
    VoidRequest,
    VoidResult,
)
from payments_core.gateway.errors import (
    AuthenticationRequired,
    CaptureFailed,
    GatewayDeclined,
    GatewayRefused,
    GatewayUnavailable,
    RefundFailed,
    VoidRefused,
)
from payments_core.gateway.stripe.client import StripeClient, StripeError

# Stripe's decline codes the contract names as they are; every other decline is card_declined.
CONTRACT_DECLINE_CODES = frozenset({"insufficient_funds"})
# PaymentIntent statuses in which nothing was captured and a cancel releases the hold.
CANCELLABLE = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"}
)


def decline_code(stripe_code: str | None, stripe_decline_code: str | None) -> str:
    for code in (stripe_decline_code, stripe_code):
        if code in CONTRACT_DECLINE_CODES:
            return code
    return "card_declined"


class StripeConnector:
    name = "stripe"

    def __init__(self, client: StripeClient, *, redirect_authentication: bool = True) -> None:
        self._stripe = client
        self._redirect_authentication = redirect_authentication

    async def tokenize(self, card: CardDetails) -> TokenizedCard:
        try:
            method = await self._stripe.post(
                "/v1/payment_methods",
                {
                    "type": "card",
                    "card": {
                        "number": card.number.reveal(),
                        "exp_month": card.exp_month,
                        "exp_year": card.exp_year,
                        "cvc": card.cvc.reveal(),
                    },
                },
                idempotency_key=f"tokenize-{uuid.uuid4()}",  # moves no money
            )
        except StripeError as error:
            raise InvalidRequest(f"the card was refused: {error.message}", param="card") from None
        details = method.get("card") or {}
        return TokenizedCard(
            token=method["id"],
            brand=str(details.get("brand") or "unknown"),
            last_four=str(details.get("last4") or ""),
            exp_month=int(details.get("exp_month") or card.exp_month),
            exp_year=int(details.get("exp_year") or card.exp_year),
        )

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        if request.authenticated and request.reference is not None:
            # After the customer's challenge: the PaymentIntent it was for, as it is now.
            return _authorization(
                await self._stripe.get(f"/v1/payment_intents/{request.reference}")
            )
        form: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "payment_method": request.token,
            "confirm": True,
            "capture_method": "manual",
            "metadata": {
                "payment_id": request.payment_id,
                "idempotency_key": request.idempotency_key,
            },
            # With it, a 3-D Secure challenge comes as next_action redirect_to_url (a page of
            # the issuer's, through Stripe), not as use_stripe_sdk (Stripe.js in the merchant's
            # checkout, which a server-side platform cannot drive).
            "return_url": request.return_url if self._redirect_authentication else None,
        }
        try:
            intent = await self._stripe.post(
                "/v1/payment_intents", form, idempotency_key=request.idempotency_key
            )
        except StripeError as error:
            if error.kind != "card_error":
                # Stripe refused the request itself (a parameter, the account's settings): no
                # issuer was asked, so it is not a decline; final all the same.
                raise GatewayRefused(f"Stripe refused the payment: {error.message}") from None
            raise GatewayDeclined(
                f"Stripe declined: {error.message}",
                code=decline_code(error.stripe_code, error.decline_code),
            ) from None
        if intent.get("status") == "requires_action" and request.authenticated:
            # The same key replays the first answer: ask for the PaymentIntent as it is now.
            intent = await self._stripe.get(f"/v1/payment_intents/{intent['id']}")
        return _authorization(intent)

    async def capture(self, request: CaptureRequest) -> GatewayResult:
        try:
            intent = await self._stripe.post(
                f"/v1/payment_intents/{request.authorization_reference}/capture",
                {"amount_to_capture": request.amount},
                idempotency_key=request.idempotency_key,
            )
        except StripeError as error:
            raise CaptureFailed(f"Stripe refused the capture: {error.message}") from None
        if intent.get("status") != "succeeded":
            raise CaptureFailed(f"the PaymentIntent is {intent.get('status')} after its capture")
        return GatewayResult(str(intent["id"]))

    async def void(self, request: VoidRequest) -> VoidResult:
        if request.authorization_reference is not None:
            intent: dict[str, Any] | None = await self._stripe.get(
                f"/v1/payment_intents/{request.authorization_reference}"
            )
        else:
            intent = await self._intent_by_key(request.authorization_idempotency_key)
        if intent is None:
            return VoidResult(None)  # nothing was created under the key: nothing is held
        status = intent.get("status")
        if status == "succeeded":
            raise VoidRefused(f"PaymentIntent {intent['id']} was captured")
        if status in CANCELLABLE:
            intent = await self._stripe.post(
                f"/v1/payment_intents/{intent['id']}/cancel",
                {},
                idempotency_key=request.idempotency_key,
            )
        return VoidResult(str(intent["id"]))

    async def refund(self, request: RefundRequest) -> GatewayResult:
        try:
            refund = await self._stripe.post(
                "/v1/refunds",
                {
                    "payment_intent": request.capture_reference,
                    "amount": request.amount,
                    "metadata": {"idempotency_key": request.idempotency_key},
                },
                idempotency_key=request.idempotency_key,
            )
        except StripeError as error:
            raise RefundFailed(f"Stripe refused the refund: {error.message}") from None
        if refund.get("status") in ("failed", "canceled"):
            raise RefundFailed(f"Stripe's refund {refund.get('id')} is {refund.get('status')}")
        return GatewayResult(str(refund["id"]))

    async def lookup(self, idempotency_key: str) -> GatewayRecord | None:
        """What Stripe did under one of our payment keys, from the PaymentIntent's state. A
        refund's key cannot be looked up this way (refunds are not searchable): unknown."""
        payment_key, _, operation = idempotency_key.rpartition("-")
        if operation == "refund":
            raise GatewayUnavailable("a refund's outcome cannot be looked up by key at Stripe")
        intent = await self._intent_by_key(f"{payment_key}-authorize")
        if intent is None:
            return None
        status = intent.get("status")
        approved = {
            "authorize": status in ("requires_capture", "succeeded"),
            "capture": status == "succeeded",
            "void": status == "canceled",
        }.get(operation, False)
        if operation in ("capture", "void") and not approved:
            return None  # the PaymentIntent shows no such operation
        error = intent.get("last_payment_error") or {}
        return GatewayRecord(
            operation=operation,
            outcome="approved" if approved else "declined",
            reference=str(intent["id"]) if approved else None,
            amount=intent.get("amount_received") or intent.get("amount"),
            decline_code=None
            if approved
            else decline_code(error.get("code"), error.get("decline_code")),
        )

    async def _intent_by_key(self, authorization_key: str) -> dict[str, Any] | None:
        query = f"metadata['idempotency_key']:'{authorization_key}'"
        found = await self._stripe.get("/v1/payment_intents/search", {"query": query})
        intents = found.get("data") or []
        return intents[0] if intents else None


def _authorization(intent: dict[str, Any]) -> GatewayResult:
    status = intent.get("status")
    if status in ("requires_capture", "succeeded"):
        return GatewayResult(str(intent["id"]))
    if status == "requires_action":
        action = intent.get("next_action") or {}
        redirect = action.get("redirect_to_url") or {}
        raise AuthenticationRequired(
            f"PaymentIntent {intent['id']} requires authentication",
            reference=str(intent["id"]),
            redirect_url=redirect.get("url") if action.get("type") == "redirect_to_url" else None,
        )
    error = intent.get("last_payment_error") or {}
    raise GatewayDeclined(
        f"PaymentIntent {intent.get('id')} is {status}",
        code=decline_code(error.get("code"), error.get("decline_code")),
    )
