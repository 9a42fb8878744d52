"""`python -m payments_devstack.chaos`: `make chaos` (300 payments) or a reduced run."""

import argparse
import os
import sys
from pathlib import Path

from payments_devstack.chaos.plan import ChaosPlan


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m payments_devstack.chaos")
    parser.add_argument("--payments", type=int, default=None, help="how many payments")
    parser.add_argument(
        "--reduced", action="store_true", help="each fault once, at 1 payment/s (make test)"
    )
    parser.add_argument("--seed", type=int, default=None, help="the card and amount choices")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    plan = ChaosPlan.reduced() if args.reduced else ChaosPlan()
    if args.payments is not None:
        plan = ChaosPlan(**{**vars(plan), "payments": args.payments})
    if args.seed is not None:
        plan = ChaosPlan(**{**vars(plan), "seed": args.seed})
    from payments_devstack.chaos.run import run_chaos

    return run_chaos(Path.cwd(), plan, os.environ, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
