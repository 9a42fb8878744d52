"""`make up`: the whole platform on one machine from PyPI wheels, no containers.

PostgreSQL, the AWS emulator, Temporal and the local webhook receiver start in parallel; then
migrations, AWS provisioning and the demo merchant (with a webhook endpoint at the receiver) run
in-process; then our services start as supervised children. With STRIPE_FAKE=1, localstripe
starts beside them and the demo merchant gets a Stripe connector (stripe_fake.py). Ctrl-C or
SIGTERM stops everything; any component that fails stops everything with one line naming it.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from payments_devstack.environment import (
    Port,
    Ports,
    admin_token,
    service_environment,
    webhook_encryption_key,
)
from payments_devstack.errors import DevstackError
from payments_devstack.moto_server import MotoServer
from payments_devstack.postgres import EmbeddedPostgres
from payments_devstack.processes import (
    ManagedProcess,
    StopRequested,
    StopSignals,
    Supervisor,
    check_port_free,
    find_free_port,
    port_accepts_connections,
    wait_until,
)
from payments_devstack.receiver import WebhookReceiver
from payments_devstack.services import APP_SERVICES, AppService
from payments_devstack.stripe_fake import (
    LOCALSTRIPE,
    DemoConnector,
    LocalStripe,
    ensure_demo_connector,
    find_uv,
    register_demo_card,
    stripe_fake_wanted,
)
from payments_devstack.temporal import TemporalDevServer
from payments_devstack.unconsumed_queues import (
    RETENTION_SECONDS,
    QueuePurger,
    unconsumed_queue_names,
)

SERVICE_READY_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Demo:
    merchant_id: str
    merchant_email: str
    api_key: str
    payment_method_id: str
    webhook_endpoint_id: str


@dataclass(frozen=True)
class StripeFake:
    """STRIPE_FAKE=1: localstripe's address, the demo merchant's connector to it and a card it
    holds (None when there is no demo merchant, or our services run elsewhere)."""

    url: str
    connector: DemoConnector | None
    card_id: str | None = None


class StackSteps(Protocol):
    """Migrations and AWS provisioning, once PostgreSQL and the emulator answer; and whether
    our services then start as processes here."""

    start_services: bool

    def prepare(self, env: Mapping[str, str], services: list[AppService]) -> QueuePurger: ...


class InProcessSteps:
    """`make up`: migrations and provisioning in this process, then the services as children."""

    start_services = True

    def prepare(self, env: Mapping[str, str], services: list[AppService]) -> QueuePurger:
        _migrate(env["DATABASE_URL"])
        return _provision(env, services)


@dataclass(frozen=True)
class StackOptions:
    """Where a stack keeps its state, and where its services' output goes.

    `make up` keeps `.data/` in the repository and prints every service's lines; `make chaos`
    runs in a scratch directory, sends each service's lines to `<service_logs>/<name>.log`, and
    has the receiver record every webhook it accepts.
    """

    data_dir: Path
    service_logs: Path | None = None
    receiver_record: Path | None = None
    # What runs between the infrastructure and our services; `make kube-play` runs it in pods.
    steps: StackSteps | None = None
    # STRIPE_FAKE=1 (`make up` only): localstripe, STRIPE_API_BASE and the demo's connector.
    stripe_fake: bool = False


@dataclass
class RunningStack:
    """Handles on everything `start_stack` launched, for whoever drives it afterwards."""

    ports: Ports
    database_url: str
    service_env: dict[str, str]
    moto: MotoServer
    temporal: TemporalDevServer
    receiver: WebhookReceiver
    postgres: EmbeddedPostgres | None
    purger: QueuePurger
    demo: Demo | None
    logs: Path
    services: dict[str, ManagedProcess] = field(default_factory=dict)
    stripe: StripeFake | None = None


class Progress:
    """One line per step, with the time since `make up` started."""

    def __init__(self, supervisor: Supervisor, name: str = "devstack") -> None:
        self._supervisor = supervisor
        self._name = name
        self._started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def __call__(self, message: str) -> None:
        self._supervisor.writer.line(self._name, f"[{self.elapsed:5.1f}s] {message}")


def up(repo: Path, env: Mapping[str, str]) -> int:
    supervisor = Supervisor()
    progress = Progress(supervisor)
    StopSignals(on_repeat=lambda: kill_everything(supervisor, progress)).install()
    purger: QueuePurger | None = None
    try:
        options = StackOptions(repo / ".data", stripe_fake=stripe_fake_wanted(env))
        stack = start_stack(repo, env, supervisor, progress, options)
        purger = stack.purger
        health = {
            service.name: health_port
            for service in APP_SERVICES
            if service.name in stack.services and (health_port := service.health_port(env))
        }
        supervisor.writer.block("devstack", ["", *stack_summary(stack, health)])
        exited = supervisor.wait_for_unexpected_exit()
        progress(f"error: {supervisor.describe_exit(exited)}; stopping everything")
        return 1
    except DevstackError as error:
        progress(f"error: {error}; stopping everything")
        return 1
    except StopRequested as stop:
        progress(f"{stop.signal_name} received; stopping everything")
        return 0
    finally:
        if purger is not None:
            purger.stop()
        supervisor.stop_all()
        progress("stopped")


def stack_summary(stack: RunningStack, health: dict[str, int]) -> list[str]:
    """What `make up` prints once everything is ready (and `make kube-play` too)."""
    return summary_lines(
        stack.ports,
        stack.database_url,
        stack.service_env["ADMIN_API_TOKEN"],
        stack.demo,
        stack.logs,
        health,
        stack.receiver.url,
        stripe=stack.stripe,
    )


def kill_everything(supervisor: Supervisor, progress: Progress) -> None:
    progress("stop requested again: killing everything now")
    supervisor.kill_all()


def start_stack(
    repo: Path,
    env: Mapping[str, str],
    supervisor: Supervisor,
    progress: Progress,
    options: StackOptions,
) -> RunningStack:
    """Start everything, each piece as soon as what it needs is up; raise DevstackError with
    one line naming whatever fails."""
    data = options.data_dir
    logs = data / "logs"
    ports = Ports.from_env(env)
    external_database_url = env.get("DATABASE_URL") or None
    services = [service for service in APP_SERVICES if service.exists()]

    wanted_ports = [
        ports.api,
        ports.moto,
        ports.temporal,
        ports.temporal_ui,
        ports.webhook_receiver,
    ]
    if external_database_url is None:
        wanted_ports.append(ports.postgres)
    for service in services:
        health_port = service.health_port(env)
        if health_port and service.health_port_env:
            wanted_ports.append(
                Port(f"{service.name} health", service.health_port_env, health_port)
            )
    for port in wanted_ports:
        check_port_free(port.number, port.name, port.env_var)
    progress("ports free: " + ", ".join(f"{p.number} ({p.name})" for p in wanted_ports))

    # Slowest first; each one initialises while the next is being launched.
    moto = MotoServer(ports.moto.number, log_file=logs / "moto.log")
    moto.spawn(supervisor)
    temporal = TemporalDevServer(
        data / "temporal.db",
        port=ports.temporal.number,
        ui_port=ports.temporal_ui.number,
        log_file=logs / "temporal.log",
    )
    temporal.spawn(supervisor)
    # It reads the demo endpoint's secret from the state file on each request, so it can start
    # before the seed writes it.
    receiver = WebhookReceiver(
        ports.webhook_receiver.number,
        data / "demo.json",
        record_file=options.receiver_record,
        log_file=options.service_logs / "receiver.log" if options.service_logs else None,
    )
    receiver.spawn(supervisor)
    postgres: EmbeddedPostgres | None = None
    if external_database_url is None:
        postgres = EmbeddedPostgres(
            data / "postgres", ports.postgres.number, log_file=logs / "postgres.log"
        )
        postgres.spawn(supervisor)
    localstripe: LocalStripe | None = None
    if options.stripe_fake:
        localstripe = LocalStripe(
            find_free_port(), uv=find_uv(env), log_file=logs / "localstripe.log"
        )
        localstripe.spawn(supervisor)
        progress(
            f"localstripe starting on {localstripe.url} (uv tool run --from {LOCALSTRIPE}; "
            "the first run downloads it)"
        )

    # Each step runs as soon as what it needs is up, while the rest still boots.
    if postgres is not None:
        postgres.wait_ready()
        progress(f"postgres ready: {postgres.database_url}")
    else:
        progress("postgres: using DATABASE_URL from the environment")
    database_url = external_database_url or (postgres.database_url if postgres else "")

    moto.wait_ready()
    progress(f"AWS emulator ready: {moto.endpoint_url}")
    service_env = service_environment(
        env,
        database_url=database_url,
        aws_endpoint_url=moto.endpoint_url,
        temporal_address=temporal.address,
        api_port=ports.api.number,
        admin_api_token=admin_token(env, data / "admin-token"),
        webhook_encryption_key=webhook_encryption_key(env, data / "webhook-encryption-key"),
        stripe_api_base=localstripe.url if localstripe else None,
    )
    # In-process steps (provisioning, seeding) read the same settings as the services.
    os.environ.update(service_env)
    steps = options.steps or InProcessSteps()
    purger = steps.prepare(service_env, services)
    progress("migrations at head; SNS topic and SQS queues provisioned")
    demo = _seed(
        database_url,
        data / "demo.json",
        encryption_key=service_env["WEBHOOK_ENCRYPTION_KEY"],
        webhook_url=receiver.url,
    )
    progress("demo merchant ready" if demo else "demo seed skipped: payments_api.seed not found")
    receiver.wait_ready()
    progress(f"webhook receiver ready: {receiver.url}")

    temporal.wait_ready()
    progress(f"temporal ready: {temporal.address}, UI http://127.0.0.1:{ports.temporal_ui.number}")
    if localstripe is not None:
        localstripe.wait_ready(progress=progress)
        progress(f"localstripe ready: {localstripe.url} (STRIPE_API_BASE of our services)")

    started: dict[str, ManagedProcess] = {}
    for service in services if steps.start_services else []:
        spec = service.spec(service_env, repo)
        if options.service_logs is not None:
            spec = replace(spec, log_file=options.service_logs / f"{service.name}.log", echo=False)
        process = started[service.name] = supervisor.start(spec)
        ready_port = (
            int(service_env[service.port_env]) if service.port_env else service.health_port(env)
        )
        if ready_port:
            wait_until(
                functools.partial(port_accepts_connections, ready_port),
                what=service.name,
                timeout=SERVICE_READY_TIMEOUT_SECONDS,
                process=process,
            )
        progress(f"{service.name} started")
    missing = [service.name for service in APP_SERVICES if service not in services]
    if missing:
        progress("not written yet, not started: " + ", ".join(missing))
    stripe: StripeFake | None = None
    if localstripe is not None:
        connector, card_id = None, None
        if demo is not None and "api" in started:
            api_url = f"http://127.0.0.1:{ports.api.number}/api/v1"
            connector = ensure_demo_connector(api_url, demo.api_key)
            how = "created" if connector.created else "kept from an earlier run"
            progress(f"demo merchant's Stripe connector {connector.id}: {how}")
            card_id = register_demo_card(api_url, demo.api_key)
            progress(f"a card for it registered (the connector vaults it): {card_id}")
        else:
            progress("no demo merchant or no API here: no Stripe connector registered")
        stripe = StripeFake(localstripe.url, connector, card_id)

    return RunningStack(
        ports=ports,
        database_url=database_url,
        service_env=service_env,
        moto=moto,
        temporal=temporal,
        receiver=receiver,
        postgres=postgres,
        purger=purger,
        demo=demo,
        logs=logs,
        services=started,
        stripe=stripe,
    )


def _migrate(database_url: str) -> None:
    from payments_core.migrations.runner import upgrade

    try:
        upgrade(database_url)
    except Exception as error:
        raise DevstackError(f"migrations failed: {_first_line(error)}") from error


def _provision(env: Mapping[str, str], services: list[AppService]) -> QueuePurger:
    from payments_core.aws.provisioning import provision
    from payments_core.settings import ServiceSettings

    unconsumed = unconsumed_queue_names(queue for service in services for queue in service.consumes)
    retention = dict.fromkeys(unconsumed, RETENTION_SECONDS)
    try:
        resources = asyncio.run(provision(ServiceSettings(), retention_seconds=retention))
    except Exception as error:
        raise DevstackError(f"AWS provisioning failed: {_first_line(error)}") from error
    return QueuePurger(
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region=env["AWS_REGION"],
        queue_urls=[resources.queues[name].url for name in unconsumed],
    ).start()


def _seed(
    database_url: str, state_file: Path, *, encryption_key: str, webhook_url: str
) -> Demo | None:
    try:
        from payments_api.seed import seed_demo  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError as error:
        if error.name in ("payments_api", "payments_api.seed"):
            return None
        raise
    try:
        seeded: Any = asyncio.run(
            seed_demo(
                database_url,
                state_file=state_file,
                encryption_key=encryption_key,
                webhook_url=webhook_url,
            )
        )
    except Exception as error:
        raise DevstackError(f"demo seed failed: {_first_line(error)}") from error
    return Demo(
        merchant_id=str(seeded.merchant_id),
        merchant_email=str(seeded.merchant_email),
        api_key=str(seeded.api_key),
        payment_method_id=str(seeded.payment_method_id),
        webhook_endpoint_id=str(seeded.webhook_endpoint_id),
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _without_password(url: str) -> str:
    """An exported DATABASE_URL may carry a password; terminals and CI logs need not see it."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def summary_lines(
    ports: Ports,
    database_url: str,
    admin_api_token: str,
    demo: Demo | None,
    logs: Path,
    health: dict[str, int],
    receiver_url: str,
    *,
    stripe: StripeFake | None = None,
) -> list[str]:
    api = f"http://127.0.0.1:{ports.api.number}/api/v1"
    logged = "postgres, moto, temporal" + (", localstripe" if stripe else "")
    lines = [
        "The payment platform is running (Ctrl-C stops everything; data stays in .data/):",
        f"  API                {api}",
        f"  API docs           {api}/docs",
        f"  Temporal UI        http://127.0.0.1:{ports.temporal_ui.number}",
        f"  Temporal gRPC      127.0.0.1:{ports.temporal.number}",
        f"  AWS emulator       http://127.0.0.1:{ports.moto.number}",
        f"  PostgreSQL         {_without_password(database_url)}",
        f"  logs               {logs}/ ({logged})",
        f"  API metrics        http://127.0.0.1:{ports.api.number}/metrics",
        *(
            line
            for name, port in health.items()
            for line in (
                f"  {name + ' health':<18} http://127.0.0.1:{port}/health",
                f"  {name + ' metrics':<18} http://127.0.0.1:{port}/metrics",
            )
        ),
        f"  admin token        {admin_api_token}",
        f"  webhook receiver   {receiver_url}",
    ]
    if stripe is not None:
        lines.append(f"  Stripe (fake)      {stripe.url} (localstripe; STRIPE_API_BASE)")
    if demo is None:
        return lines
    # With a Stripe connector, payments go only to cards it holds: the seed's card is not one.
    pay_with = stripe.card_id if stripe is not None and stripe.card_id else demo.payment_method_id
    lines += [
        f"  demo merchant      {demo.merchant_id} ({demo.merchant_email})",
        f"  demo API key       {demo.api_key}",
        f"  payment method     {demo.payment_method_id}",
        f"  webhook endpoint   {demo.webhook_endpoint_id} (every event, to the webhook receiver)",
        *_connector_lines(stripe),
        "",
        "Create a payment:",
        f"  curl -sS -X POST {api}/payments \\",
        "    -H 'Content-Type: application/json' \\",
        f"    -H 'X-API-Key: {demo.api_key}' \\",
        '    -H "Idempotency-Key: demo-$(date +%s)" \\',
        f'    -d \'{{"amount": 500000, "currency": "NGN", "paymentMethodId": '
        f'"{pay_with}", "description": "Demo payment"}}\'',
        "",
        "Each payment's webhooks appear below as `receiver | webhook …` lines, each verified",
        "with the demo endpoint's secret (Standard Webhooks).",
    ]
    return lines


def _connector_lines(stripe: StripeFake | None) -> list[str]:
    if stripe is None or stripe.connector is None:
        return []
    connector = stripe.connector
    state = "enabled" if connector.enabled else "disabled"
    how = "new" if connector.created else "kept from an earlier run"
    lines = [f"  Stripe connector   {connector.id} (priority {connector.priority}, {state}, {how})"]
    if stripe.card_id is not None:
        lines.append(f"  Stripe card        {stripe.card_id} (4242…, held by the Stripe connector)")
    return lines
