"""`python -m payments_core.migrations [upgrade|downgrade] [revision]` with DATABASE_URL set."""

import sys

from payments_core.migrations.runner import downgrade, upgrade
from payments_core.settings import CoreSettings, load_settings


def main(argv: list[str]) -> None:
    action = argv[0] if argv else "upgrade"
    settings = load_settings(CoreSettings)
    if action == "upgrade":
        upgrade(settings.database_url, argv[1] if len(argv) > 1 else "head")
    elif action == "downgrade":
        downgrade(settings.database_url, argv[1] if len(argv) > 1 else "base")
    else:
        raise SystemExit(f"unknown action {action!r}: use upgrade or downgrade")


if __name__ == "__main__":
    main(sys.argv[1:])
