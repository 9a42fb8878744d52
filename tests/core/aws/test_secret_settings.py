"""Settings read from Secrets Manager (`<NAME>_SECRET_ARN`), against the emulator."""

import uuid

import boto3
import pytest
from mypy_boto3_secretsmanager import SecretsManagerClient

from payments_core.aws.secret_settings import resolve_secret_settings


@pytest.fixture
def secrets(moto_endpoint: str) -> SecretsManagerClient:
    return boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name="us-east-1")


def environment(moto_endpoint: str, **variables: str) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_REGION": "us-east-1", **variables}


def create(secrets: SecretsManagerClient, value: str) -> str:
    arn: str = secrets.create_secret(Name=f"test/{uuid.uuid4()}", SecretString=value)["ARN"]
    return arn


def test_each_reference_becomes_its_setting(
    moto_endpoint: str, secrets: SecretsManagerClient
) -> None:
    url = "postgresql://payments:s3cret@db:5432/payments"
    env = environment(
        moto_endpoint,
        DATABASE_URL_SECRET_ARN=create(secrets, url),
        WEBHOOK_ENCRYPTION_KEY_SECRET_ARN=create(secrets, "a-key"),
        LOG_LEVEL="INFO",
    )

    resolved = resolve_secret_settings(env)

    assert resolved == ["DATABASE_URL", "WEBHOOK_ENCRYPTION_KEY"]
    assert env["DATABASE_URL"] == url
    assert env["WEBHOOK_ENCRYPTION_KEY"] == "a-key"


def test_without_references_nothing_is_read(moto_endpoint: str) -> None:
    # No endpoint either: a client would fail to resolve one, so none was made.
    env = {"DATABASE_URL": "postgresql://x@y/z"}
    assert resolve_secret_settings(env) == []
    assert env == {"DATABASE_URL": "postgresql://x@y/z"}


def test_a_missing_secret_stops_the_start_naming_the_variable(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nowhere-AbCdEf"
    env = environment(moto_endpoint, DATABASE_URL_SECRET_ARN=arn)

    with pytest.raises(SystemExit) as stopped:
        resolve_secret_settings(env)

    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("configuration error: DATABASE_URL_SECRET_ARN: secret ")
    assert "ResourceNotFoundException" in error
    assert "DATABASE_URL" not in env


def test_a_value_and_its_reference_together_are_refused(
    moto_endpoint: str, secrets: SecretsManagerClient, capsys: pytest.CaptureFixture[str]
) -> None:
    env = environment(
        moto_endpoint,
        DATABASE_URL="postgresql://plain@db/payments",
        DATABASE_URL_SECRET_ARN=create(secrets, "postgresql://secret@db/payments"),
    )

    with pytest.raises(SystemExit):
        resolve_secret_settings(env)

    assert "DATABASE_URL: set the value or its _SECRET_ARN, not both" in capsys.readouterr().err
    assert env["DATABASE_URL"] == "postgresql://plain@db/payments"


def test_the_secret_never_reaches_the_output(
    moto_endpoint: str, secrets: SecretsManagerClient, capsys: pytest.CaptureFixture[str]
) -> None:
    env = environment(moto_endpoint, WEBHOOK_ENCRYPTION_KEY_SECRET_ARN=create(secrets, "hush"))
    resolve_secret_settings(env)
    captured = capsys.readouterr()
    assert "hush" not in captured.out + captured.err
