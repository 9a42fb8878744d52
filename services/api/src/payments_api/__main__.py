"""`python -m payments_api`: serve the API with uvicorn on API_PORT (default 3001)."""

import os

import uvicorn

from payments_api.app import create_app
from payments_core.settings import ApiSettings, load_settings
from payments_core.telemetry.logging import configure_logging


def main() -> None:
    settings = load_settings(ApiSettings)
    configure_logging(settings.log_level, settings.log_format)
    port = int(os.environ.get("API_PORT", "3001"))
    host = os.environ.get("API_HOST", "0.0.0.0")  # noqa: S104 - containers listen on all interfaces
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=True,
        server_header=False,
    )


if __name__ == "__main__":
    main()
