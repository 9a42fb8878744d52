"""localstripe, a stateful fake of Stripe's API (PyPI; GPL-3.0), as a separate process on a
free port: run through `uv tool run` in an environment of its own, never imported or vendored.
"""

from collections.abc import AsyncIterator

import pytest

from payments_core.gateway.stripe import StripeConnector
from payments_core.gateway.stripe.client import StripeClient
from tests.localstripe import TEST_KEY, localstripe_url

__all__ = ["localstripe_url"]


@pytest.fixture
async def stripe(localstripe_url: str) -> AsyncIterator[StripeConnector]:
    client = StripeClient(TEST_KEY, api_base=localstripe_url)
    yield StripeConnector(client)
    await client.aclose()
