"""The template with PackageType Image: the services' own images, their entrypoint replaced by
the runtime interface client they carry, deployed into the emulator's CloudFormation.

The emulator's CloudFormation keeps a function's image URI but drops its PackageType and
ImageConfig (moto 5.2.5 passes neither on): those are checked in the template's text."""

from typing import Any

import boto3
import pytest

from payments_devstack.lambda_package.functions import FUNCTIONS
from payments_devstack.moto_server import MotoServer
from tests.deploy.template import TEMPLATE, resources

REGION = "us-east-1"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
IMAGES = {
    "payments-processor": f"{REGISTRY}/payments-processor@sha256:{'1' * 64}",
    "payments-webhook-sender": f"{REGISTRY}/payments-webhook-sender@sha256:{'2' * 64}",
}
HANDLERS = {function.name: function.handlers for function in FUNCTIONS}
# Each function: its image (by the service it is built from) and the handler it runs.
EXPECTED = {
    "payments-processor": ("payments-processor", HANDLERS["payments-processor"][0]),
    "payments-webhook-sender": ("payments-webhook-sender", HANDLERS["payments-webhook-sender"][0]),
    "payments-webhook-retries": ("payments-webhook-sender", HANDLERS["payments-webhook-sender"][1]),
}


@pytest.fixture(scope="module")
def lambda_client(moto_server: MotoServer) -> Any:
    moto_server.reset()

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_server.endpoint_url, region_name=REGION)

    ec2, secrets = client("ec2"), client("secretsmanager")
    vpc_id = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.41.1.0/24")["Subnet"]["SubnetId"]
    arns = [
        secrets.create_secret(Name=name, SecretString="value")["ARN"]
        for name in ("database-url", "webhook-key")
    ]
    parameters = {
        "PackageType": "Image",
        "ProcessorImageUri": IMAGES["payments-processor"],
        "WebhookSenderImageUri": IMAGES["payments-webhook-sender"],
        "VpcId": vpc_id,
        "SubnetIds": subnet_id,
        "DatabaseUrlSecretArn": arns[0],
        "WebhookEncryptionKeySecretArn": arns[1],
        "TemporalAddress": "temporal.internal:7233",
    }
    cloudformation = client("cloudformation")
    cloudformation.create_stack(
        StackName="payments-images",
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    (stack,) = cloudformation.describe_stacks(StackName="payments-images")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return client("lambda")


@pytest.mark.parametrize("function_name", EXPECTED)
def test_each_function_runs_its_services_image(lambda_client: Any, function_name: str) -> None:
    image, _ = EXPECTED[function_name]
    function = lambda_client.get_function(FunctionName=function_name)

    assert function["Code"]["RepositoryType"] == "ECR"
    assert function["Code"]["ImageUri"] == IMAGES[image]
    # An image names no handler and no runtime: AWS refuses both with PackageType Image.
    assert "Handler" not in function["Configuration"]
    assert "Runtime" not in function["Configuration"]


@pytest.mark.parametrize("function_name", EXPECTED)
def test_an_image_runs_its_handler_under_the_runtime_client(function_name: str) -> None:
    _, handler = EXPECTED[function_name]
    (function,) = (
        resource["Properties"]
        for resource in resources("AWS::Lambda::Function").values()
        if resource["Properties"]["FunctionName"] == function_name
    )
    assert function["PackageType"] == {"Ref": "PackageType"}
    condition, for_zip, for_image = function["ImageConfig"]["Fn::If"]
    assert (condition, for_zip) == ("IsZip", {"Ref": "AWS::NoValue"})
    assert for_image == {"EntryPoint": ["python", "-m", "awslambdaric"], "Command": [handler]}
