"""The sandbox gateway: a simulated acquirer with its vault and ledger in PostgreSQL.

`SandboxConnector` implements `GatewayConnector`; `ledger` is the read side for tests and tools.
"""

from payments_core.gateway.sandbox.connector import SandboxConnector

__all__ = ["SandboxConnector"]
