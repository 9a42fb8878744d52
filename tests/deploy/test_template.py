"""The Lambda template read, not deployed: cfn-lint, and the messaging of CONTRACT.md §2 exactly
as payments_core.aws provisions it (the emulator's CloudFormation drops subscriptions, queue
policies and alarms, so they are checked here).
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from payments_core.aws import desired_attributes as desired
from payments_core.aws.topology import DEFAULT_MAX_RECEIVE_COUNT, QUEUES, TOPIC_NAME, QueueSpec
from tests.deploy.template import (
    REPO,
    TEMPLATE_DIR,
    parameter,
    properties,
    queue_logical_id,
    referenced,
    resources,
)

# AWS's advice for a queue feeding a Lambda function.
VISIBILITY_PER_FUNCTION_TIMEOUT = 6


def test_cfn_lint_finds_nothing_not_even_informational() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    templates = sorted(str(path) for path in TEMPLATE_DIR.glob("*.yaml"))
    assert templates
    result = subprocess.run(
        [str(cfn_lint), "--include-checks", "I", "--", *templates],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and not result.stdout, result.stdout + result.stderr


def test_the_queues_are_the_contracts_and_their_dlqs() -> None:
    names = {queue["Properties"]["QueueName"] for queue in resources("AWS::SQS::Queue").values()}
    assert names == {name for spec in QUEUES for name in (spec.name, spec.dlq_name)}


def test_the_topic_is_the_contracts() -> None:
    (topic,) = resources("AWS::SNS::Topic").values()
    assert topic["Properties"]["TopicName"] == TOPIC_NAME


@pytest.mark.parametrize("spec", QUEUES, ids=lambda spec: spec.name)
def test_each_queue_dead_letters_as_provisioned(spec: QueueSpec) -> None:
    queue = properties(queue_logical_id(spec.name))
    dlq_id = queue_logical_id(spec.dlq_name)
    wanted = desired.redrive_policy({"Fn::GetAtt": [dlq_id, "Arn"]}, DEFAULT_MAX_RECEIVE_COUNT)  # type: ignore[arg-type]
    assert queue["RedrivePolicy"] == json.loads(wanted)
    assert properties(dlq_id)["MessageRetentionPeriod"] == desired.DLQ_DEFAULT_RETENTION_SECONDS
    assert "RedrivePolicy" not in properties(dlq_id)


@pytest.mark.parametrize("spec", QUEUES, ids=lambda spec: spec.name)
def test_each_queue_is_subscribed_raw_with_its_filter_policy(spec: QueueSpec) -> None:
    queue_id = queue_logical_id(spec.name)
    (subscription,) = (
        subscription["Properties"]
        for subscription in resources("AWS::SNS::Subscription").values()
        if referenced(subscription["Properties"]["Endpoint"]) == queue_id
    )
    (topic_id,) = resources("AWS::SNS::Topic")
    assert referenced(subscription["TopicArn"]) == topic_id
    assert subscription["Protocol"] == "sqs"
    as_attributes = {
        "FilterPolicy": json.dumps(subscription["FilterPolicy"]),
        "RawMessageDelivery": str(subscription["RawMessageDelivery"]).lower(),
    }
    assert desired.differing(as_attributes, desired.subscription_attributes(spec)) == {}
    # The filter is on message attributes, as the provisioner's (SNS's default) is.
    assert subscription.get("FilterPolicyScope", "MessageAttributes") == "MessageAttributes"


@pytest.mark.parametrize("spec", QUEUES, ids=lambda spec: spec.name)
def test_each_queue_lets_only_the_topic_send(spec: QueueSpec) -> None:
    queue_id = queue_logical_id(spec.name)
    (policy,) = (
        policy["Properties"]
        for policy in resources("AWS::SQS::QueuePolicy").values()
        if [referenced(queue) for queue in policy["Properties"]["Queues"]] == [queue_id]
    )
    (topic_id,) = resources("AWS::SNS::Topic")
    statement = desired.topic_statement(
        {"Fn::GetAtt": [queue_id, "Arn"]},  # type: ignore[arg-type]
        {"Ref": topic_id},  # type: ignore[arg-type]
    )
    assert policy["PolicyDocument"]["Statement"] == [statement]


def test_consumed_queues_outlast_six_of_their_functions_longest_timeout() -> None:
    mappings = resources("AWS::Lambda::EventSourceMapping").values()
    assert len(mappings) == 2
    for mapping in mappings:
        queue = properties(referenced(mapping["Properties"]["EventSourceArn"]))
        function = properties(referenced(mapping["Properties"]["FunctionName"]))
        timeout = parameter(referenced(function["Timeout"]))
        assert queue["VisibilityTimeout"] >= VISIBILITY_PER_FUNCTION_TIMEOUT * timeout["MaxValue"]


def _alarms_on(metric: str, dimension: str) -> dict[str, tuple[str, Any]]:
    """Alarmed logical id (queue or function) -> (comparison, threshold), for one metric."""
    found = {}
    for alarm in resources("AWS::CloudWatch::Alarm").values():
        alarm_properties = alarm["Properties"]
        if alarm_properties["MetricName"] != metric:
            continue
        (dimension_value,) = alarm_properties["Dimensions"]
        assert dimension_value["Name"] == dimension
        found[referenced(dimension_value["Value"])] = (
            alarm_properties["ComparisonOperator"],
            alarm_properties["Threshold"],
        )
    return found


def test_every_dlq_alarms_on_its_first_message() -> None:
    dlqs = {queue_logical_id(spec.dlq_name) for spec in QUEUES}
    alarms = _alarms_on("ApproximateNumberOfMessagesVisible", "QueueName")
    assert alarms == dict.fromkeys(dlqs, ("GreaterThanThreshold", 0))


def test_every_consumed_queue_alarms_on_its_oldest_message() -> None:
    consumed = {
        referenced(mapping["Properties"]["EventSourceArn"])
        for mapping in resources("AWS::Lambda::EventSourceMapping").values()
    }
    alarms = _alarms_on("ApproximateAgeOfOldestMessage", "QueueName")
    threshold = {"Ref": "ConsumerMaxMessageAgeSeconds"}
    assert alarms == dict.fromkeys(consumed, ("GreaterThanThreshold", threshold))


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_alarms_on_errors_and_throttles(metric: str) -> None:
    functions = set(resources("AWS::Lambda::Function"))
    alarms = _alarms_on(metric, "FunctionName")
    assert alarms == dict.fromkeys(functions, ("GreaterThanThreshold", 0))


def test_alarms_notify_the_topic_only_when_one_is_given() -> None:
    for alarm in resources("AWS::CloudWatch::Alarm").values():
        for actions in ("AlarmActions", "OKActions"):
            assert alarm["Properties"][actions] == {
                "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
            }
