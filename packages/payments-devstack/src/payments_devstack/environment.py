"""Ports, secrets and the environment the dev stack hands to its services (CONTRACT.md §4).

What the user exported wins, except the addresses of what the stack itself starts (database,
emulator, Temporal and, with STRIPE_FAKE=1, Stripe), which must point at the processes we just
launched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from payments_core.webhooks.secret_box import decode_key, new_key
from payments_devstack.errors import DevstackError


@dataclass(frozen=True)
class Port:
    name: str
    env_var: str
    number: int


@dataclass(frozen=True)
class Ports:
    api: Port
    moto: Port
    temporal: Port
    temporal_ui: Port
    postgres: Port
    webhook_receiver: Port

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Ports:
        def port(name: str, env_var: str, default: int) -> Port:
            raw = env.get(env_var) or str(default)
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise DevstackError(f"{env_var} must be a TCP port number, got {raw!r}")
            return Port(name, env_var, int(raw))

        return cls(
            api=port("API", "API_PORT", 3001),
            moto=port("AWS emulator", "MOTO_PORT", 4566),
            temporal=port("Temporal gRPC", "TEMPORAL_PORT", 7233),
            temporal_ui=port("Temporal UI", "TEMPORAL_UI_PORT", 8088),
            postgres=port("PostgreSQL", "POSTGRES_PORT", 5432),
            webhook_receiver=port("webhook receiver", "WEBHOOK_RECEIVER_PORT", 4000),
        )


def admin_token(env: Mapping[str, str], token_file: Path) -> str:
    """The user's ADMIN_API_TOKEN, else a dev token generated once and kept across runs."""
    return env.get("ADMIN_API_TOKEN") or _kept_secret(
        token_file, lambda: "dev_admin_" + secrets.token_urlsafe(32)
    )


def webhook_encryption_key(env: Mapping[str, str], key_file: Path) -> str:
    """The user's WEBHOOK_ENCRYPTION_KEY, else a key generated once and kept across runs.

    Kept because it seals every webhook endpoint secret in the database: a new key each run
    would leave the sender unable to sign for the endpoints of the previous one.
    """
    exported = env.get("WEBHOOK_ENCRYPTION_KEY")
    key = exported or _kept_secret(key_file, new_key)
    try:
        decode_key(key)
    except ValueError as error:
        where = "WEBHOOK_ENCRYPTION_KEY" if exported else str(key_file)
        raise DevstackError(f"{where} {error}") from None
    return key


def _kept_secret(secret_file: Path, generate: Callable[[], str]) -> str:
    """The secret in `secret_file`, written there by `generate()` on the first run."""
    if secret_file.exists():
        return secret_file.read_text(encoding="utf-8").strip()
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    secret = generate()
    write_private(secret_file, secret + "\n")
    return secret


def write_private(path: Path, text: str) -> None:
    """A file of secrets: created 0600 before anything is written, so others never read it."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def service_environment(
    env: Mapping[str, str],
    *,
    database_url: str,
    aws_endpoint_url: str,
    temporal_address: str,
    api_port: int,
    admin_api_token: str,
    webhook_encryption_key: str,
    stripe_api_base: str | None = None,
) -> dict[str, str]:
    result = dict(env)
    # Owned by the stack: these must name the processes this run started.
    result.update(
        DATABASE_URL=database_url,
        AWS_ENDPOINT_URL=aws_endpoint_url,
        TEMPORAL_ADDRESS=temporal_address,
        API_PORT=str(api_port),
    )
    if stripe_api_base is not None:
        # STRIPE_FAKE=1: the connectors of the API and the worker talk to this run's localstripe.
        result["STRIPE_API_BASE"] = stripe_api_base
        # localstripe refuses return_url (it only asks for 3-D Secure through Stripe.js).
        result["STRIPE_REDIRECT_AUTHENTICATION"] = "false"
    defaults = {
        "ADMIN_API_TOKEN": admin_api_token,
        "WEBHOOK_ENCRYPTION_KEY": webhook_encryption_key,
        "AWS_REGION": "us-east-1",
        "PAYMENT_EVENTS_TOPIC": "payment-events",
        "LOG_FORMAT": "console",
        # A laptop's API answers this machine only, unless the user exports API_HOST.
        "API_HOST": "127.0.0.1",
        # The authentication pages' links, on this run's API port.
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
        # The emulator accepts any credentials; real ones must not be needed to develop.
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        # The local webhook receiver listens on loopback, which production forbids.
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        # Children write through pipes; unbuffered output keeps log lines live and in order.
        "PYTHONUNBUFFERED": "1",
        # A stopping consumer lets its open long poll end: short polls keep Ctrl-C quick.
        "SQS_WAIT_SECONDS": "5",
    }
    defaults["AWS_DEFAULT_REGION"] = result.get("AWS_REGION") or defaults["AWS_REGION"]
    for name, value in defaults.items():
        # An exported but empty variable counts as unset, as it does for the services.
        if not result.get(name):
            result[name] = value
    return result
