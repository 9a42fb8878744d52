"""`make up` generates its secrets once and keeps them; what the user exported wins."""

import stat
from pathlib import Path

import pytest

from payments_core.webhooks.secret_box import SecretBox, decode_key, new_key
from payments_devstack.environment import (
    Ports,
    admin_token,
    service_environment,
    webhook_encryption_key,
)
from payments_devstack.errors import DevstackError


def services_env(env: dict[str, str], key: str) -> dict[str, str]:
    return service_environment(
        env,
        database_url="postgresql://postgres@127.0.0.1:5432/payments",
        aws_endpoint_url="http://127.0.0.1:4566",
        temporal_address="127.0.0.1:7233",
        api_port=3001,
        admin_api_token="dev_admin_" + "x" * 20,
        webhook_encryption_key=key,
    )


def test_the_encryption_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    key_file = tmp_path / ".data" / "webhook-encryption-key"

    first = webhook_encryption_key({}, key_file)
    second = webhook_encryption_key({}, key_file)

    assert second == first
    assert len(decode_key(first)) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # The services accept it as it is handed to them.
    SecretBox(services_env({}, first)["WEBHOOK_ENCRYPTION_KEY"])


def test_an_exported_encryption_key_wins_and_nothing_is_written(tmp_path: Path) -> None:
    key_file = tmp_path / "webhook-encryption-key"
    kept = webhook_encryption_key({}, key_file)
    exported = new_key()

    assert webhook_encryption_key({"WEBHOOK_ENCRYPTION_KEY": exported}, key_file) == exported
    assert key_file.read_text().strip() == kept
    fresh_dir = tmp_path / "fresh"
    webhook_encryption_key({"WEBHOOK_ENCRYPTION_KEY": exported}, fresh_dir / "key")
    assert not fresh_dir.exists()


def test_an_exported_but_empty_encryption_key_counts_as_unset(tmp_path: Path) -> None:
    key_file = tmp_path / "webhook-encryption-key"
    key = webhook_encryption_key({"WEBHOOK_ENCRYPTION_KEY": ""}, key_file)
    assert key_file.read_text().strip() == key


def test_a_malformed_exported_key_is_named_without_its_value(tmp_path: Path) -> None:
    with pytest.raises(DevstackError) as raised:
        webhook_encryption_key({"WEBHOOK_ENCRYPTION_KEY": "not-a-key"}, tmp_path / "key")
    assert str(raised.value).startswith("WEBHOOK_ENCRYPTION_KEY must be base64 of 32")
    assert "not-a-key" not in str(raised.value)


def test_every_service_gets_the_key(tmp_path: Path) -> None:
    key = webhook_encryption_key({}, tmp_path / "key")
    env = services_env({"PATH": "/usr/bin"}, key)
    assert env["WEBHOOK_ENCRYPTION_KEY"] == key
    assert env["WEBHOOK_ALLOW_PRIVATE_URLS"] == "true"


def test_the_admin_token_is_still_generated_once(tmp_path: Path) -> None:
    token_file = tmp_path / "admin-token"
    token = admin_token({}, token_file)
    assert token.startswith("dev_admin_")
    assert admin_token({}, token_file) == token
    assert admin_token({"ADMIN_API_TOKEN": "mine-0123456789abcdef"}, token_file) == (
        "mine-0123456789abcdef"
    )


def test_the_receiver_port_defaults_to_4000_and_can_move() -> None:
    assert Ports.from_env({}).webhook_receiver.number == 4000
    moved = Ports.from_env({"WEBHOOK_RECEIVER_PORT": "4100"}).webhook_receiver
    assert (moved.number, moved.env_var) == (4100, "WEBHOOK_RECEIVER_PORT")


def test_the_authentication_links_follow_the_api_port_unless_exported() -> None:
    moved = service_environment(
        {},
        database_url="postgresql://postgres@127.0.0.1:5432/payments",
        aws_endpoint_url="http://127.0.0.1:4566",
        temporal_address="127.0.0.1:7233",
        api_port=3101,
        admin_api_token="dev_admin_" + "x" * 20,
        webhook_encryption_key=new_key(),
    )
    assert moved["PUBLIC_BASE_URL"] == "http://127.0.0.1:3101"
    exported = services_env({"PUBLIC_BASE_URL": "https://pay.example.test"}, new_key())
    assert exported["PUBLIC_BASE_URL"] == "https://pay.example.test"


def test_stripe_fake_points_every_service_at_localstripe_over_an_exported_base() -> None:
    exported = {"STRIPE_API_BASE": "https://api.stripe.com"}
    faked = service_environment(
        exported,
        database_url="postgresql://postgres@127.0.0.1:5432/payments",
        aws_endpoint_url="http://127.0.0.1:4566",
        temporal_address="127.0.0.1:7233",
        api_port=3001,
        admin_api_token="dev_admin_" + "x" * 20,
        webhook_encryption_key=new_key(),
        stripe_api_base="http://127.0.0.1:41234",
    )
    assert faked["STRIPE_API_BASE"] == "http://127.0.0.1:41234"
    # localstripe refuses return_url: 3-D Secure cannot come as a page there.
    assert faked["STRIPE_REDIRECT_AUTHENTICATION"] == "false"


def test_without_stripe_fake_stripe_api_base_is_the_users_or_unset() -> None:
    assert "STRIPE_API_BASE" not in services_env({}, new_key())
    assert "STRIPE_REDIRECT_AUTHENTICATION" not in services_env({}, new_key())
    exported = services_env({"STRIPE_API_BASE": "http://127.0.0.1:9999"}, new_key())
    assert exported["STRIPE_API_BASE"] == "http://127.0.0.1:9999"
