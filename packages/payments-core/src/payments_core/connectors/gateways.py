"""Which gateway carries a payment: the platform's sandbox, or one of the merchant's connectors
opened from its sealed credentials.

A payment keeps the connector it was routed to (`payments.connector_id`) for everything after
the authorization (capture, void, refund, lookups), also when the merchant has since disabled or
deleted that connector: the money is held there. Each connector's client is opened once and
reused; new credentials open a new one.
"""

import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.connectors import service
from payments_core.connectors.models import Connector
from payments_core.gateway.connector import GatewayConnector
from payments_core.gateway.metered import MeteredConnector
from payments_core.gateway.stripe import StripeClient, StripeConnector
from payments_core.secret import Secret
from payments_core.settings import DEFAULT_STRIPE_API_BASE
from payments_core.webhooks.secret_box import SecretBox


@dataclass
class _Opened:
    sealed: str
    client: StripeClient
    gateway: GatewayConnector


class Gateways:
    def __init__(
        self,
        sandbox: GatewayConnector,
        box: SecretBox | None,
        *,
        stripe_api_base: str = DEFAULT_STRIPE_API_BASE,
        stripe_timeout_seconds: float = 10.0,
        stripe_redirect_authentication: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.sandbox = sandbox
        self._box = box
        self._stripe_api_base = stripe_api_base
        self._stripe_timeout = stripe_timeout_seconds
        self._stripe_redirects = stripe_redirect_authentication
        self._transport = transport
        self._opened: dict[uuid.UUID, _Opened] = {}

    @classmethod
    def sandbox_only(cls, sandbox: GatewayConnector) -> "Gateways":
        """For callers that never open a merchant's connector (tools, tests of the sandbox)."""
        return cls(sandbox, None)

    @classmethod
    def of_any(cls, given: "Gateways | GatewayConnector") -> "Gateways":
        """`given`, or a bare connector (tests, tools) as the only gateway, the sandbox's."""
        return given if isinstance(given, Gateways) else cls.sandbox_only(given)

    async def of(self, connector: Connector | None) -> GatewayConnector:
        if connector is None:
            return self.sandbox
        opened = self._opened.get(connector.id)
        if opened is not None and opened.sealed == connector.credentials_sealed:
            return opened.gateway
        if opened is not None:
            await opened.client.aclose()
        if self._box is None:
            raise LookupError("this process opens no merchant connectors (no connector key)")
        credentials = service.credentials(connector, self._box)
        client = StripeClient(
            Secret(credentials.secret_key),
            api_base=self._stripe_api_base,
            timeout_seconds=self._stripe_timeout,
            transport=self._transport,
        )
        gateway = MeteredConnector(
            StripeConnector(client, redirect_authentication=self._stripe_redirects)
        )
        self._opened[connector.id] = _Opened(connector.credentials_sealed, client, gateway)
        return gateway

    async def by_id(
        self, session: AsyncSession, connector_id: uuid.UUID | None
    ) -> GatewayConnector:
        """The gateway of a payment's connector (None: the sandbox)."""
        if connector_id is None:
            return self.sandbox
        connector = await session.get(Connector, connector_id)
        if connector is None:
            raise LookupError(f"connector {connector_id} does not exist")
        return await self.of(connector)

    async def aclose(self) -> None:
        for opened in self._opened.values():
            await opened.client.aclose()
        self._opened.clear()
