"""`python -m payments_worker`: settings first, so a bad variable exits at once with one line."""

import asyncio

from payments_core.settings import WorkerSettings, load_settings


def main() -> None:
    settings = load_settings(WorkerSettings)
    # Imported only after the settings are known good: Temporal, SQLAlchemy and the workflows
    # take a while to import, and a misconfigured process should not wait for them.
    from payments_worker.worker import run

    raise SystemExit(asyncio.run(run(settings)))


if __name__ == "__main__":
    main()
