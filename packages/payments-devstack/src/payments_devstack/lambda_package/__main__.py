"""`make lambda-package`: zips for AWS Lambda in build/lambda (see README "Run on AWS Lambda").

    python -m payments_devstack.lambda_package [--architecture x86_64] [--function NAME]
        [--out DIR] [--no-bytecode]

Exits 1 when a zip is over Lambda's 250 MB unzipped limit, 2 when it cannot be built.
"""

import argparse
import sys
from pathlib import Path

from payments_devstack.containers.engine import REPO
from payments_devstack.errors import DevstackError
from payments_devstack.lambda_package.build import build
from payments_devstack.lambda_package.functions import ARCHITECTURES, FUNCTIONS

DEFAULT_OUT = REPO / "build" / "lambda"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m payments_devstack.lambda_package")
    parser.add_argument("--architecture", action="append", choices=ARCHITECTURES)
    parser.add_argument("--function", action="append", choices=[f.name for f in FUNCTIONS])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--no-bytecode", action="store_true", help="leave out .pyc (smaller, slower cold start)"
    )
    options = parser.parse_args(argv)
    functions = [f for f in FUNCTIONS if not options.function or f.name in options.function]
    try:
        packaged = build(
            REPO,
            functions,
            options.architecture or ARCHITECTURES,
            options.out,
            bytecode=not options.no_bytecode,
        )
    except DevstackError as error:
        print(f"lambda-package: {error}", file=sys.stderr)  # noqa: T201
        return 2
    too_big = [item.zip for item in packaged if not item.fits]
    print(f"zips and manifest.json in {options.out}")  # noqa: T201
    if too_big:
        print(f"over Lambda's 250 MB unzipped: {', '.join(too_big)}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
