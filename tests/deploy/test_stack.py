"""The Lambda template deployed into the emulator's CloudFormation (moto 5.2.5), and what it made.

moto creates the topic, queues, log groups, roles, security group, functions, event source
mappings, the schedule and its permission, and keeps the settings asserted below. It silently
drops (logs "not supported" and creates nothing), so test_template.py checks them instead:
- AWS::SNS::Subscription: no subscriptions, hence no filter policy or raw delivery to read;
- AWS::SQS::QueuePolicy: the queues get no Policy;
- AWS::CloudWatch::Alarm: no alarms;
- AWS::Lambda::EventInvokeConfig: the retries' no-retry, 60 s event age is not kept.
And of resources it does create, it ignores:
- a function's Architectures (every function reports x86_64) and LoggingConfig;
- a security group's SecurityGroupEgress (moto gives every group its default allow-all egress,
  which is what the template declares anyway).
It also hands a Number parameter to Environment as a number, where CloudFormation passes the
string, hence the str() of environment values here.
"""

import ast
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from payments_core.aws.topology import (
    DEFAULT_MAX_RECEIVE_COUNT,
    PROCESSING_QUEUE,
    QUEUES,
    TOPIC_NAME,
    WEBHOOK_QUEUE,
)
from payments_devstack.lambda_package.functions import RUNTIME
from payments_devstack.moto_server import MotoServer
from tests.deploy.template import TEMPLATE

REGION = "us-east-1"
STACK = "payments"
CODE_BUCKET = "payments-lambda-code"
PROCESSOR_KEY = "payments-processor.zip"
WEBHOOK_SENDER_KEY = "payments-webhook-sender.zip"
SECRET_VALUES = {
    "DATABASE_URL": "postgresql://payments:s3cret@db.internal:5432/payments",
    "WEBHOOK_ENCRYPTION_KEY": "bm90LWEtcmVhbC1rZXktbm90LWEtcmVhbC1rZXkhIQ==",
}
# Non-default values where a default would pass unnoticed: each proves its parameter is wired.
CHOSEN = {
    "TemporalAddress": "temporal.internal:7233",
    "TemporalNamespace": "payments",
    "ProcessorMemoryMb": "256",
    "ProcessorTimeoutSeconds": "25",
    "ProcessorBatchSize": "5",
    "ProcessorBatchingWindowSeconds": "2",
    "ProcessorMaximumConcurrency": "8",
    "WebhookSenderReservedConcurrency": "4",
    "WebhookSenderMaximumConcurrency": "3",
    "WebhookRetriesTimeoutSeconds": "50",
    "DatabasePoolSize": "3",
    "LogLevel": "DEBUG",
    "LogRetentionDays": "14",
}
SERVICES = (
    "cloudformation",
    "ec2",
    "events",
    "iam",
    "lambda",
    "logs",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
)
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
SOURCE_RETENTION_SECONDS = 4 * 24 * 3600


@dataclass(frozen=True)
class Deployed:
    clients: dict[str, Any]
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    secret_arns: dict[str, str]
    subnet_ids: list[str]
    vpc_id: str

    def client(self, service: str) -> Any:
        return self.clients[service]


def _placeholder_zip() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("placeholder.py", "")
    return archive.getvalue()


@pytest.fixture(scope="module")
def deployed(moto_server: MotoServer) -> Deployed:
    moto_server.reset()
    clients = {
        service: boto3.client(service, endpoint_url=moto_server.endpoint_url, region_name=REGION)
        for service in SERVICES
    }
    clients["s3"].create_bucket(Bucket=CODE_BUCKET)
    for key in (PROCESSOR_KEY, WEBHOOK_SENDER_KEY):
        clients["s3"].put_object(Bucket=CODE_BUCKET, Key=key, Body=_placeholder_zip())
    secret_arns = {
        name: clients["secretsmanager"].create_secret(Name=name.lower(), SecretString=value)["ARN"]
        for name, value in SECRET_VALUES.items()
    }
    vpc_id = clients["ec2"].create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        clients["ec2"].create_subnet(VpcId=vpc_id, CidrBlock=cidr)["Subnet"]["SubnetId"]
        for cidr in ("10.40.1.0/24", "10.40.2.0/24")
    ]
    parameters = {
        "CodeBucket": CODE_BUCKET,
        "ProcessorCodeKey": PROCESSOR_KEY,
        "WebhookSenderCodeKey": WEBHOOK_SENDER_KEY,
        "VpcId": vpc_id,
        "SubnetIds": ",".join(subnet_ids),
        "DatabaseUrlSecretArn": secret_arns["DATABASE_URL"],
        "WebhookEncryptionKeySecretArn": secret_arns["WEBHOOK_ENCRYPTION_KEY"],
        **CHOSEN,
    }
    cloudformation = clients["cloudformation"]
    cloudformation.create_stack(
        StackName=STACK,
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[
            {"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    (stack,) = cloudformation.describe_stacks(StackName=STACK)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    resources = cloudformation.describe_stack_resources(StackName=STACK)["StackResources"]
    return Deployed(
        clients=clients,
        outputs={output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]},
        # Resources moto dropped are listed without ids.
        physical_ids={
            resource["LogicalResourceId"]: resource["PhysicalResourceId"]
            for resource in resources
            if "PhysicalResourceId" in resource
        },
        secret_arns=secret_arns,
        subnet_ids=subnet_ids,
        vpc_id=vpc_id,
    )


def _configuration(deployed: Deployed, function_name: str) -> dict[str, Any]:
    configuration: dict[str, Any] = deployed.client("lambda").get_function(
        FunctionName=function_name
    )["Configuration"]
    return configuration


def _environment(deployed: Deployed, function_name: str) -> dict[str, str]:
    variables = _configuration(deployed, function_name)["Environment"]["Variables"]
    return {name: str(value) for name, value in variables.items()}


def _queue_attributes(deployed: Deployed, queue_name: str) -> dict[str, str]:
    sqs = deployed.client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    attributes: dict[str, str] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    return attributes


def _role_statements(deployed: Deployed, role_logical_id: str) -> dict[str, dict[str, Any]]:
    """The role's inline policy statements by Sid."""
    iam = deployed.client("iam")
    role_name = deployed.physical_ids[role_logical_id]
    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    if isinstance(document, str):
        # moto keeps a CloudFormation role's inline policy as the template's dict and returns
        # its Python repr, where AWS returns JSON.
        document = ast.literal_eval(document)
    return {statement["Sid"]: statement for statement in document["Statement"]}


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


@pytest.mark.parametrize(
    ("function_name", "handler", "timeout", "memory"),
    [
        ("payments-processor", "payments_processor.lambda_function.handler", 25, 256),
        ("payments-webhook-sender", "payments_webhook_sender.lambda_function.handler", 60, 1024),
        (
            "payments-webhook-retries",
            "payments_webhook_sender.lambda_function.scheduled_handler",
            50,
            1024,
        ),
    ],
)
def test_each_function_runs_its_handler_in_the_vpc(
    deployed: Deployed, function_name: str, handler: str, timeout: int, memory: int
) -> None:
    configuration = _configuration(deployed, function_name)
    assert configuration["Handler"] == handler
    assert configuration["Runtime"] == RUNTIME
    assert configuration["Timeout"] == timeout
    assert configuration["MemorySize"] == memory
    assert configuration["VpcConfig"]["SubnetIds"] == deployed.subnet_ids
    assert configuration["VpcConfig"]["SecurityGroupIds"] == [
        deployed.outputs["FunctionSecurityGroupId"]
    ]
    assert (
        configuration["FunctionArn"]
        == deployed.outputs[
            {
                "payments-processor": "ProcessorFunctionArn",
                "payments-webhook-sender": "WebhookSenderFunctionArn",
                "payments-webhook-retries": "WebhookRetriesFunctionArn",
            }[function_name]
        ]
    )


def test_the_retries_run_the_senders_zip(deployed: Deployed) -> None:
    lambda_ = deployed.client("lambda")
    sender = lambda_.get_function(FunctionName="payments-webhook-sender")["Code"]["Location"]
    retries = lambda_.get_function(FunctionName="payments-webhook-retries")["Code"]["Location"]
    assert sender.endswith(WEBHOOK_SENDER_KEY) and retries.endswith(WEBHOOK_SENDER_KEY)


def test_the_processor_is_configured_for_temporal(deployed: Deployed) -> None:
    assert _environment(deployed, "payments-processor") == {
        "TEMPORAL_ADDRESS": "temporal.internal:7233",
        "TEMPORAL_NAMESPACE": "payments",
        "TEMPORAL_TASK_QUEUE": "payment-processing",
        "PROCESSOR_CONCURRENCY": "10",
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "HEALTH_PORT": "0",
    }


@pytest.mark.parametrize("function_name", ["payments-webhook-sender", "payments-webhook-retries"])
def test_the_webhook_functions_get_secret_arns_never_secrets(
    deployed: Deployed, function_name: str
) -> None:
    environment = _environment(deployed, function_name)
    assert environment == {
        "DATABASE_URL_SECRET_ARN": deployed.secret_arns["DATABASE_URL"],
        "WEBHOOK_ENCRYPTION_KEY_SECRET_ARN": deployed.secret_arns["WEBHOOK_ENCRYPTION_KEY"],
        "WEBHOOK_RETRY_SCHEDULE": "5,300,1800,7200,18000,36000,36000",
        "DATABASE_POOL_SIZE": "3",
        "WEBHOOK_CONCURRENCY": "16",
        "WEBHOOK_TIMEOUT_SECONDS": "10",
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "HEALTH_PORT": "0",
    }
    assert not set(SECRET_VALUES) & set(environment)
    assert not set(SECRET_VALUES.values()) & set(environment.values())


def test_reserved_concurrency_only_where_asked(deployed: Deployed) -> None:
    lambda_ = deployed.client("lambda")
    reserved = {
        name: lambda_.get_function(FunctionName=name).get("Concurrency")
        for name in ("payments-processor", "payments-webhook-sender", "payments-webhook-retries")
    }
    assert reserved == {
        "payments-processor": None,
        "payments-webhook-sender": {"ReservedConcurrentExecutions": 4},
        "payments-webhook-retries": {"ReservedConcurrentExecutions": 1},
    }


@pytest.mark.parametrize(
    ("function_name", "queue_arn_output", "batch_size", "window", "maximum_concurrency"),
    [
        ("payments-processor", "ProcessingQueueArn", 5, 2, 8),
        ("payments-webhook-sender", "WebhookQueueArn", 10, 0, 3),
    ],
)
def test_each_consumer_reads_its_queue_reporting_failed_records(
    deployed: Deployed,
    function_name: str,
    queue_arn_output: str,
    batch_size: int,
    window: int,
    maximum_concurrency: int,
) -> None:
    (mapping,) = deployed.client("lambda").list_event_source_mappings(FunctionName=function_name)[
        "EventSourceMappings"
    ]
    assert mapping["EventSourceArn"] == deployed.outputs[queue_arn_output]
    assert mapping["BatchSize"] == batch_size
    assert mapping["MaximumBatchingWindowInSeconds"] == window
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": maximum_concurrency}


def test_the_retries_run_every_minute(deployed: Deployed) -> None:
    events = deployed.client("events")
    rule_name = deployed.physical_ids["WebhookRetriesSchedule"]
    rule = events.describe_rule(Name=rule_name)
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["State"] == "ENABLED"
    (target,) = events.list_targets_by_rule(Rule=rule_name)["Targets"]
    assert target["Arn"] == deployed.outputs["WebhookRetriesFunctionArn"]

    policy = deployed.client("lambda").get_policy(FunctionName="payments-webhook-retries")
    (statement,) = json.loads(policy["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]


def test_the_topic_and_queues_are_the_contracts(deployed: Deployed) -> None:
    topics = deployed.client("sns").list_topics()["Topics"]
    assert [topic["TopicArn"] for topic in topics] == [deployed.outputs["PaymentEventsTopicArn"]]
    assert deployed.outputs["PaymentEventsTopicArn"].endswith(f":{TOPIC_NAME}")
    for spec in QUEUES:
        queue = _queue_attributes(deployed, spec.name)
        dlq = _queue_attributes(deployed, spec.dlq_name)
        assert json.loads(queue["RedrivePolicy"]) == {
            "deadLetterTargetArn": dlq["QueueArn"],
            "maxReceiveCount": DEFAULT_MAX_RECEIVE_COUNT,
        }
        assert queue["MessageRetentionPeriod"] == str(SOURCE_RETENTION_SECONDS)
        assert dlq["MessageRetentionPeriod"] == str(DLQ_RETENTION_SECONDS)


def test_consumed_queues_hide_a_record_for_six_function_timeouts(deployed: Deployed) -> None:
    # Six times each function's longest allowed timeout (30 s and 60 s), not the chosen one.
    assert _queue_attributes(deployed, PROCESSING_QUEUE)["VisibilityTimeout"] == "180"
    assert _queue_attributes(deployed, WEBHOOK_QUEUE)["VisibilityTimeout"] == "360"


def test_the_outputs_name_every_queue(deployed: Deployed) -> None:
    for prefix, spec in zip(
        ("Processing", "Webhook", "Analytics", "Notification"), QUEUES, strict=True
    ):
        for kind, name in (("Queue", spec.name), ("DeadLetterQueue", spec.dlq_name)):
            assert (
                deployed.outputs[f"{prefix}{kind}Arn"]
                == _queue_attributes(deployed, name)["QueueArn"]
            )
            assert deployed.outputs[f"{prefix}{kind}Url"].endswith(f"/{name}")


def test_each_function_logs_to_its_own_group_with_retention(deployed: Deployed) -> None:
    groups = deployed.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")
    retention = {
        group["logGroupName"]: group.get("retentionInDays") for group in groups["logGroups"]
    }
    assert retention == {
        "/aws/lambda/payments-processor": 14,
        "/aws/lambda/payments-webhook-sender": 14,
        "/aws/lambda/payments-webhook-retries": 14,
    }


def test_the_security_group_is_in_the_vpc(deployed: Deployed) -> None:
    (group,) = deployed.client("ec2").describe_security_groups(
        GroupIds=[deployed.outputs["FunctionSecurityGroupId"]]
    )["SecurityGroups"]
    assert group["VpcId"] == deployed.vpc_id
    assert group["IpPermissions"] == []


@pytest.mark.parametrize(
    ("role", "function_name", "queue_arn_output", "reads_secrets"),
    [
        ("ProcessorRole", "payments-processor", "ProcessingQueueArn", False),
        ("WebhookSenderRole", "payments-webhook-sender", "WebhookQueueArn", True),
        ("WebhookRetriesRole", "payments-webhook-retries", None, True),
    ],
)
def test_each_role_reaches_only_its_own_queue_secrets_and_logs(
    deployed: Deployed,
    role: str,
    function_name: str,
    queue_arn_output: str | None,
    reads_secrets: bool,
) -> None:
    assert _configuration(deployed, function_name)["Role"].endswith(
        f"/{deployed.physical_ids[role]}"
    )
    statements = _role_statements(deployed, role)
    queue_statements = [
        statement
        for statement in statements.values()
        if any(action.startswith("sqs:") for action in _actions(statement))
    ]
    if queue_arn_output is None:
        assert queue_statements == []
    else:
        (queue_statement,) = queue_statements
        assert queue_statement["Resource"] == deployed.outputs[queue_arn_output]
        assert sorted(queue_statement["Action"]) == [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ]
    if reads_secrets:
        assert statements["ReadOwnSecrets"]["Action"] == "secretsmanager:GetSecretValue"
        assert sorted(statements["ReadOwnSecrets"]["Resource"]) == sorted(
            deployed.secret_arns.values()
        )
    else:
        assert "ReadOwnSecrets" not in statements
    account = _configuration(deployed, function_name)["FunctionArn"].split(":")[4]
    log_group_arn = f"arn:aws:logs:{REGION}:{account}:log-group:/aws/lambda/{function_name}:*"
    assert statements["WriteOwnLogs"]["Resource"] == log_group_arn
    assert set(statements) <= {
        "ConsumeProcessingQueue",
        "ConsumeWebhookQueue",
        "ReadOwnSecrets",
        "WriteOwnLogs",
        "VpcNetworkInterfaces",
    }
