"""What each queue and subscription should look like, and whether AWS already has it.

AWS returns attribute values as strings and may reformat JSON, so values are compared by
meaning, not text; otherwise every run would "change" something.
"""

import json
from typing import Any

from payments_core.aws.topology import QueueSpec

# Dead letters should outlive the copy in the source queue (SQS keeps the original enqueue
# time when it moves a message), so DLQs keep the maximum unless told otherwise.
DLQ_DEFAULT_RETENTION_SECONDS = 14 * 24 * 3600
TOPIC_STATEMENT_SID = "AllowPaymentEventsTopic"

JSON_ATTRIBUTES = frozenset({"Policy", "RedrivePolicy", "FilterPolicy"})


def redrive_policy(dlq_arn: str, max_receive_count: int) -> str:
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})


def topic_statement(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    """Lets the topic deliver to the queue; real AWS drops SNS deliveries without it."""
    return {
        "Sid": TOPIC_STATEMENT_SID,
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
    }


def queue_policy(current_policy: str | None, queue_arn: str, topic_arn: str) -> str:
    """The current policy with our statement in place; statements others added are kept."""
    document = json.loads(current_policy) if current_policy else {}
    others = [
        statement
        for statement in document.get("Statement", [])
        if statement.get("Sid") != TOPIC_STATEMENT_SID
    ]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [*others, topic_statement(queue_arn, topic_arn)],
        }
    )


def dead_letter_queue_attributes(retention_seconds: int | None) -> dict[str, str]:
    return {"MessageRetentionPeriod": str(retention_seconds or DLQ_DEFAULT_RETENTION_SECONDS)}


def source_queue_attributes(
    current: dict[str, str],
    *,
    topic_arn: str,
    dlq_arn: str,
    max_receive_count: int,
    retention_seconds: int | None,
) -> dict[str, str]:
    desired = {
        "RedrivePolicy": redrive_policy(dlq_arn, max_receive_count),
        "Policy": queue_policy(current.get("Policy"), current["QueueArn"], topic_arn),
    }
    if retention_seconds is not None:
        desired["MessageRetentionPeriod"] = str(retention_seconds)
    return desired


def subscription_attributes(spec: QueueSpec) -> dict[str, str]:
    return {
        "FilterPolicy": json.dumps(spec.filter_policy()),
        "RawMessageDelivery": "true",
    }


def differing(current: dict[str, str], desired: dict[str, str]) -> dict[str, str]:
    """The desired attributes whose current value means something else."""
    return {
        name: value
        for name, value in desired.items()
        if _normalized(name, current.get(name)) != _normalized(name, value)
    }


def _normalized(name: str, value: str | None) -> Any:
    if value is None:
        return None
    if name in JSON_ATTRIBUTES:
        return _canonical(json.loads(value))
    return value.lower() if value.lower() in ("true", "false") else value


def _canonical(value: Any) -> Any:
    """JSON with numbers-as-strings unified and lists order-free (AWS does both to policies)."""
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted((_canonical(item) for item in value), key=json.dumps)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    return value
