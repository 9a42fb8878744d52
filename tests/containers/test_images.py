"""The built images: each carries only production code, and the emulator's serves SQS mended."""

import json
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from payments_devstack.containers.engine import Engine
from payments_devstack.containers.images import DEFAULT_TAG, base_arguments, skaffold_images
from payments_devstack.processes import find_free_ports
from tests.k8s.support import DOCKERFILE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SERVICES = {
    "payments-api": "payments_api",
    "payments-worker": "payments_worker",
    "payments-processor": "payments_processor",
    "payments-webhook-sender": "payments_webhook_sender",
}
DEV_ONLY = ("payments_devstack", "payments_aws_emulator", "moto", "pgserver", "pytest")

# Imports every module of the service and of payments_core (the migration scripts are Alembic's
# to load), then reports which of the development-only modules the image could import.
IMPORT_GRAPH = """
import importlib, importlib.util, json, pkgutil, sys
for package in sys.argv[1:3]:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if not info.name.startswith("payments_core.migrations."):
            importlib.import_module(info.name)
print(json.dumps({
    "importable": [m for m in sys.argv[3:] if importlib.util.find_spec(m) is not None],
    "loaded": sorted({name.split(".")[0] for name in sys.modules}),
}))
"""


def test_make_images_builds_what_skaffold_builds(
    engine: Engine, built_images: dict[str, int]
) -> None:
    expected = {image.reference(DEFAULT_TAG) for image in skaffold_images()}
    assert set(built_images) == expected
    assert expected >= {f"{name}:{DEFAULT_TAG}" for name in (*SERVICES, "payments-aws-emulator")}
    assert all(size > 0 for size in built_images.values())
    # Each image was built with its own artifact's arguments: its labels and its module say so.
    for image in skaffold_images():
        labels = engine.run(
            "image", "inspect", "--format", "{{json .Config.Labels}} {{json .Config.Env}}",
            image.reference(DEFAULT_TAG),
        ).stdout  # fmt: skip
        assert f'"org.opencontainers.image.title":"{image.arg("PACKAGE")}"' in labels
        assert f'"SERVICE_MODULE={image.arg("MODULE")}"' in labels


@pytest.mark.parametrize(("image", "module"), SERVICES.items())
def test_an_image_imports_all_of_its_code_and_nothing_of_development(
    engine: Engine, built_images: dict[str, int], image: str, module: str
) -> None:
    result = engine.run(
        "run", "--rm", "--read-only", "--network=none", "--entrypoint", "python",
        f"{image}:{DEFAULT_TAG}", "-c", IMPORT_GRAPH, module, "payments_core", *DEV_ONLY,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["importable"] == []
    assert module in report["loaded"] and "payments_core" in report["loaded"]


def test_the_emulator_image_serves_sqs_with_its_mends(
    engine: Engine, built_images: dict[str, int]
) -> None:
    (port,) = find_free_ports(1)
    container = f"payments-emulator-test-{port}"
    engine.run(
        "run", "--detach", "--rm", "--read-only", "--network=host", "--name", container,
        f"payments-aws-emulator:{DEFAULT_TAG}", "-H", "127.0.0.1", "-p", str(port),
    )  # fmt: skip
    try:
        sqs = boto3.client(
            "sqs",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                url = sqs.create_queue(QueueName="image-test")["QueueUrl"]
                break
            except EndpointConnectionError:
                assert time.monotonic() < deadline, engine.run("logs", container).stderr
                time.sleep(0.3)
        sqs.send_message(QueueUrl=url, MessageBody="through the image")
        received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
        assert [m["Body"] for m in received] == ["through the image"]
        top = engine.run("exec", container, "cat", "/proc/1/cmdline").stdout.split("\0")
        assert top[:3] == ["python", "-m", "payments_aws_emulator"]
        mended = engine.run(
            "exec", container, "python", "-c",
            "import moto.sqs.models as m, payments_aws_emulator.mends as mends; mends.apply(); "
            "print(m.Queue._payments_mended)",
        )  # fmt: skip
        assert mended.stdout.strip() == "True"
    finally:
        engine.run("rm", "--force", container, check=False)


def test_the_local_bases_build_from_nothing(engine: Engine, tmp_path: Path) -> None:
    """What `make images` does on a machine that reaches no registry, under names of the test's
    own so that nothing is cached: Debian's Python by debootstrap, uv from its wheel."""
    suffix = uuid.uuid4().hex[:8]
    names = {
        "PYTHON_BASE": f"localhost/payments-python-test:{suffix}",
        "UV_BASE": f"localhost/payments-uv-test:{suffix}",
    }
    own = Engine(engine.name, {**engine.env, **names})
    try:
        arguments = base_arguments(own, {"BASE_IMAGES": "local"}, DOCKERFILE)
        assert arguments == [
            "--build-arg", f"PYTHON_IMAGE={names['PYTHON_BASE']}",
            "--build-arg", f"UV_IMAGE={names['UV_BASE']}",
        ]  # fmt: skip
        # A builder stage as the Dockerfile's: uv from the one, run by the other's Python.
        (tmp_path / "Dockerfile").write_text(
            f"FROM {names['UV_BASE']} AS uv\n"
            f"FROM {names['PYTHON_BASE']}\n"
            "COPY --from=uv /uv /usr/local/bin/uv\n"
            'RUN uv --version && python3.11 -c "import ssl, sqlite3; print(ssl.OPENSSL_VERSION)"\n'
        )
        engine.run(
            "build", "--network=none", "--tag", f"payments-bases-test:{suffix}", str(tmp_path)
        )
    finally:
        for image in (*names.values(), f"payments-bases-test:{suffix}"):
            engine.run("image", "rm", "--force", image, check=False)
