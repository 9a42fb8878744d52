"""Settings kept in AWS Secrets Manager: `<NAME>_SECRET_ARN` in the environment names the secret
whose string is `<NAME>`'s value (deploy/aws/template.yaml gives the Lambda functions
DATABASE_URL_SECRET_ARN and WEBHOOK_ENCRYPTION_KEY_SECRET_ARN).

The function's configuration then holds only where the secret is: its value is read once per
container, at start, and lives in the process's environment only, where the settings read it.
"""

import os
import sys
from collections.abc import MutableMapping
from typing import NoReturn

import boto3
import botocore.exceptions

SUFFIX = "_SECRET_ARN"


def resolve_secret_settings(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Set each `<NAME>` from the secret its `<NAME>_SECRET_ARN` names; the names it set.

    Exits(2) with one line naming the variable when a secret cannot be read, as a missing
    setting does (settings.load_settings), and when both `<NAME>` and its ARN are set.
    """
    env = os.environ if environ is None else environ
    references = {
        name.removesuffix(SUFFIX): arn
        for name, arn in env.items()
        if name.endswith(SUFFIX) and name != SUFFIX and arn
    }
    if not references:
        return []
    both = sorted(name for name in references if env.get(name))
    if both:
        _stop(f"{', '.join(both)}: set the value or its {SUFFIX}, not both")
    # The synchronous client: one read per secret, once, before any event loop runs.
    client = boto3.client(
        "secretsmanager",
        endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
        region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
    )
    for name, arn in sorted(references.items()):
        try:
            value = client.get_secret_value(SecretId=arn).get("SecretString")
        except botocore.exceptions.BotoCoreError as error:
            _stop(f"{name}{SUFFIX}: secret {arn} could not be read: {error}")
        except botocore.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "error")
            _stop(f"{name}{SUFFIX}: secret {arn} could not be read: {code}")
        if not value:
            _stop(f"{name}{SUFFIX}: secret {arn} has no string value")
        env[name] = value
    return sorted(references)


def _stop(message: str) -> NoReturn:
    print(f"configuration error: {message}", file=sys.stderr)  # noqa: T201
    raise SystemExit(2)
