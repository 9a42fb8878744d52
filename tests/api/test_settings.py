"""A missing or malformed setting stops the process at start with one line naming it."""

import os
import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from payments_core.settings import ApiSettings, describe_settings_error


def run_api(
    env_overrides: dict[str, str], drop: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-m", "payments_api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("overrides", "drop", "variable"),
    [
        ({"ADMIN_API_TOKEN": "x" * 20}, ("DATABASE_URL",), "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://nope"}, (), "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://u@h/db"}, ("ADMIN_API_TOKEN",), "ADMIN_API_TOKEN"),
        (
            {"DATABASE_URL": "postgresql://u@h/db", "ADMIN_API_TOKEN": "short"},
            (),
            "ADMIN_API_TOKEN",
        ),
        (
            {"DATABASE_URL": "postgresql://u@h/db", "ADMIN_API_TOKEN": "x" * 20,
             "RATE_LIMIT_PER_MINUTE": "lots"},
            (),
            "RATE_LIMIT_PER_MINUTE",
        ),
    ],
)  # fmt: skip
def test_bad_configuration_stops_the_api_naming_the_variable(
    overrides: dict[str, str], drop: tuple[str, ...], variable: str
) -> None:
    result = run_api(overrides, drop)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error:") and variable in lines[0]


def test_describe_settings_error_names_every_problem() -> None:
    with pytest.raises(ValidationError) as caught:
        ApiSettings(
            _env_file=None,
            database_url="postgresql://u@h/db",
            admin_api_token="short",
            rate_limit_per_minute=0,
        )  # type: ignore[call-arg]
    line = describe_settings_error(caught.value)
    assert "ADMIN_API_TOKEN" in line and "RATE_LIMIT_PER_MINUTE" in line


def _api_settings(**values: Any) -> ApiSettings:
    return ApiSettings(
        _env_file=None,
        database_url="postgresql://u@h/db",
        admin_api_token="x" * 20,
        webhook_encryption_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        **values,
    )


def test_forwarded_allow_ips_trusts_nobody_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _api_settings().forwarded_allow_ips == ()
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", " 10.0.0.2, 10.1.2.3/16,2001:db8::/32 ")
    assert _api_settings().forwarded_allow_ips == ("10.0.0.2/32", "10.1.0.0/16", "2001:db8::/32")


@pytest.mark.parametrize("value", ["*", "10.0.0.2,*", "ingress-nginx", "10.0.0.300"])
def test_forwarded_allow_ips_refuses_anything_but_addresses_and_networks(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _api_settings(forwarded_allow_ips=value)
    assert "FORWARDED_ALLOW_IPS" in describe_settings_error(caught.value)


def test_the_rate_limiter_fails_open_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _api_settings().rate_limit_fail_open is True
    monkeypatch.setenv("RATE_LIMIT_FAIL_OPEN", "false")
    assert _api_settings().rate_limit_fail_open is False
