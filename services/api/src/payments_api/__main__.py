"""`python -m payments_api`: serve the API with uvicorn on API_PORT (default 3001)."""

from payments_core.settings import ApiSettings, load_settings


def main() -> None:
    # Settings first, before the heavy imports: a bad variable is reported in a blink.
    settings = load_settings(ApiSettings)

    import uvicorn

    from payments_api.app import create_app
    from payments_core.telemetry.logging import configure_logging
    from payments_core.telemetry.tracing import API_SERVICE, configure_tracing

    configure_logging(settings.log_level, settings.log_format)
    # Before the app is built: the app and its engine are instrumented only when tracing is on.
    tracing = configure_tracing(API_SERVICE)
    try:
        uvicorn.run(
            create_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            log_level=settings.log_level.lower(),
            # Ours, not uvicorn's: its lines then come out as JSON, redacted, like every other.
            log_config=None,
            access_log=False,
            # The app applies FORWARDED_ALLOW_IPS itself (app.py); uvicorn's copy would read the
            # same variable with its own default (127.0.0.1) and rewrite the client before us.
            proxy_headers=False,
            server_header=False,
        )
    finally:
        tracing.shutdown()


if __name__ == "__main__":
    main()
