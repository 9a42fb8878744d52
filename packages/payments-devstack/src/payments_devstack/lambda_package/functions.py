"""What is packaged for AWS Lambda: the two SQS consumers, for one runtime, on two CPUs."""

from dataclasses import dataclass

# The Lambda runtime the zips are built for. Its Python must be the one that compiles the
# bytecode (this machine's python3.11), and its OS picks the wheels: python3.11 runs on Amazon
# Linux 2, whose glibc is 2.26, so no wheel may need a newer one.
RUNTIME = "python3.11"
PYTHON_VERSION = "3.11"
GLIBC = (2, 26)
ARCHITECTURES = ("x86_64", "arm64")
# Lambda's names for the CPUs, and the wheels' (PEP 600 platform tags).
WHEEL_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}

# Lambda's limits on a function's code (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
# a zip uploaded directly may hold 50 MB; from S3 (as deploy/aws/template.yaml does) the
# unzipped code, layers included, may hold 250 MB.
DIRECT_UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024
UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024

# Workspace members only development needs: never in a zip. The builder stops if a function's
# locked dependencies reach one, rather than ship it.
DEV_ONLY = frozenset({"payments-devstack", "payments-aws-emulator", "pytest"})


@dataclass(frozen=True)
class LambdaFunction:
    """One workspace service packaged as a zip; `handlers` are the functions built from it."""

    name: str  # the workspace member, e.g. payments-processor
    handlers: tuple[str, ...]
    # Locked distributions this function never imports, each with why: left out of its zip.
    # The packaged-handler tests run the zip as Lambda does, so a wrong entry fails them.
    left_out: tuple[tuple[str, str], ...] = ()

    def zip_name(self, architecture: str) -> str:
        return f"{self.name}-{RUNTIME}-{architecture}.zip"


# The services depend on Lambda's runtime interface client for their container images; a zip
# runs under the managed runtime, which brings its own.
RUNTIME_CLIENT = tuple(
    (name, "Lambda's Python runtime brings its own runtime interface client")
    for name in ("awslambdaric", "simplejson", "snapshot-restore-py")
)

LEAVES_THE_DATABASE_OUT = tuple(
    (name, "the processor only starts workflows: it never opens the database")
    for name in ("sqlalchemy", "sqlmodel", "asyncpg", "alembic", "mako")
)
LEAVES_TEMPORAL_OUT = (
    (
        "temporalio",
        "payments-core depends on it for the worker and the processor; the sender never talks "
        "to Temporal, and its native bridge is a third of the zip",
    ),
)

FUNCTIONS = (
    LambdaFunction(
        "payments-processor",
        handlers=("payments_processor.lambda_function.handler",),
        left_out=(*RUNTIME_CLIENT, *LEAVES_THE_DATABASE_OUT),
    ),
    LambdaFunction(
        "payments-webhook-sender",
        handlers=(
            "payments_webhook_sender.lambda_function.handler",
            "payments_webhook_sender.lambda_function.scheduled_handler",
        ),
        left_out=(*RUNTIME_CLIENT, *LEAVES_TEMPORAL_OUT),
    ),
)
