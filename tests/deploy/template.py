"""deploy/aws/template.yaml as cfn-lint decodes it (intrinsics such as !GetAtt as plain dicts)."""

from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

REPO = Path(__file__).resolve().parents[2]
TEMPLATE_DIR = REPO / "deploy" / "aws"
TEMPLATE = TEMPLATE_DIR / "template.yaml"

Resource = dict[str, Any]


@cache
def template() -> dict[str, Any]:
    decoded, problems = decode(str(TEMPLATE))
    assert not problems, [str(problem) for problem in problems]
    assert decoded is not None
    return decoded


def resources(kind: str) -> dict[str, Resource]:
    """The template's resources of one type, by logical id."""
    return {
        logical_id: resource
        for logical_id, resource in template()["Resources"].items()
        if resource["Type"] == kind
    }


def properties(logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = template()["Resources"][logical_id]["Properties"]
    return found


def parameter(name: str) -> dict[str, Any]:
    found: dict[str, Any] = template()["Parameters"][name]
    return found


def referenced(value: Any) -> str:
    """The logical id a `!Ref X` or `!GetAtt X.Attribute` names."""
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


def queue_logical_id(queue_name: str) -> str:
    (logical_id,) = (
        logical_id
        for logical_id, queue in resources("AWS::SQS::Queue").items()
        if queue["Properties"]["QueueName"] == queue_name
    )
    return logical_id
