"""`python -m payments_devstack up`: run the embedded stack from the repository root."""

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m payments_devstack")
    parser.add_argument("command", choices=["up"], help="up: start the whole stack locally")
    parser.parse_args(argv)
    from payments_devstack.up import up

    # The repository is where `make up` runs; `.data/` there holds state between runs.
    return up(Path.cwd(), os.environ)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
