"""`python -m payments_devstack.receiver`: where the demo merchant's webhooks land locally.

`make up` runs it so each webhook the platform sends shows up in the terminal as one line. It
verifies every request with `standardwebhooks`, the specification's reference library (a dev
dependency, as this module only runs under `make up`), using the demo endpoint's secret from the
seed's state file, read again on each request. It answers 204, or 400 when the request does not
verify, and never prints the secret. With `--record FILE` it also appends one JSON line per
webhook it accepted (its `webhook-id`, the event's id, type and payment) before answering, so a
test can tell exactly what a merchant received (`make chaos` does).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from payments_devstack.processes import ServiceSpec, port_accepts_connections, wait_until
from payments_devstack.server import InfrastructureServer

MODULE = "payments_devstack.receiver"
WEBHOOK_PATH = "/webhooks"
READY_TIMEOUT_SECONDS = 15.0
_output_lock = threading.Lock()


class WebhookReceiver(InfrastructureServer):
    """The receiver as a child process of `make up` (or of a test)."""

    def __init__(
        self,
        port: int,
        state_file: Path,
        *,
        record_file: Path | None = None,
        log_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.port = port
        self.state_file = state_file
        self.record_file = record_file
        # None prints its lines with the other services' (make up); a file keeps them quiet.
        self.log_file = log_file

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def _spec(self) -> ServiceSpec:
        argv = [sys.executable, "-m", MODULE, "--port", str(self.port)]
        argv += ["--state-file", str(self.state_file)]
        if self.record_file is not None:
            argv += ["--record", str(self.record_file)]
        return ServiceSpec(
            name="receiver", argv=argv, log_file=self.log_file, echo=self.log_file is None
        )

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        ready = functools.partial(port_accepts_connections, self.port)
        wait_until(ready, what="webhook receiver", timeout=timeout, process=self._process)


def receive(body: bytes, headers: Mapping[str, str], secret: str | None) -> tuple[int, str]:
    """The status to answer and the line to print for one webhook request."""
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    lowered = {name.lower(): value for name, value in headers.items()}
    # Shortened: whoever sends a request chooses this text.
    webhook_id = lowered.get("webhook-id", "(no webhook-id)")[:60]
    if not secret:
        return 400, f"webhook {webhook_id} rejected: no demo webhook secret in the state file"
    try:
        Webhook(secret).verify(body, lowered, json_parse=False)
        event = json.loads(body)
    except (WebhookVerificationError, ValueError) as error:
        # The library's messages name the failed check, never the secret or the signature.
        reason = str(error) or type(error).__name__
        return 400, f"webhook {webhook_id} rejected: {reason}"
    timestamp = lowered["webhook-timestamp"]
    return 204, f"{describe(event)}  signature ok (attempt webhook-timestamp {timestamp})"


def describe(event: Any) -> str:
    """`webhook payment.completed evt_… payment <id> completed 500000 NGN`."""
    if not isinstance(event, dict):
        return "webhook (body is not an event object)"
    words = ["webhook", str(event.get("type")), str(event.get("id"))]
    data: Any = event.get("data") if isinstance(event.get("data"), dict) else {}
    refund, payment = data.get("refund"), data.get("payment")
    if isinstance(refund, dict):
        words += ["refund", *_object_words(refund)]
        if isinstance(payment, dict):
            words.append(f"(payment {payment.get('id')})")
    elif isinstance(payment, dict):
        words += ["payment", *_object_words(payment)]
    return " ".join(words)


def _object_words(obj: dict[str, Any]) -> list[str]:
    words = [str(obj.get(name)) for name in ("id", "status", "amount", "currency")]
    if obj.get("failureReason"):
        words.append(str(obj["failureReason"]))
    return words


def accepted_record(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """What `--record` keeps of a verified webhook: its webhook-id and what the event says."""
    lowered = {name.lower(): value for name, value in headers.items()}
    event: dict[str, Any] = json.loads(body)
    data: Any = event.get("data") if isinstance(event.get("data"), dict) else {}
    payment: Any = data.get("payment") if isinstance(data.get("payment"), dict) else {}
    return {
        "webhookId": lowered.get("webhook-id"),
        "eventId": event.get("id"),
        "type": event.get("type"),
        "paymentId": payment.get("id"),
        "paymentStatus": payment.get("status"),
    }


class Recorder:
    """Appends one JSON line per accepted webhook, flushed before the answer goes out."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def record(self, entry: Mapping[str, Any]) -> None:
        with self._lock:
            self._file.write(json.dumps(entry) + "\n")
            self._file.flush()


def read_secret(state_file: Path) -> str | None:
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    secret = state.get("webhook_secret") if isinstance(state, dict) else None
    return secret if isinstance(secret, str) and secret else None


def _say(line: str) -> None:
    with _output_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class _Handler(BaseHTTPRequestHandler):
    state_file: Path
    recorder: Recorder | None = None
    server_version = "devstack-webhook-receiver"
    # Keep-alive, as a merchant's server would: the sender reuses its connection (HTTP/1.0 closed
    # it after every webhook, so each cost a new connection on both sides).
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        # Read the body first, whatever the answer: on a kept-alive connection an unread body
        # would be taken for the next request.
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.split("?", 1)[0] != WEBHOOK_PATH:
            self._answer(404)
            return
        headers = dict(self.headers.items())
        status, line = receive(body, headers, read_secret(self.state_file))
        if status == 204 and self.recorder is not None:
            self.recorder.record(accepted_record(body, headers))
        _say(line)
        self._answer(status)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        if status != 204:
            self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the one line per webhook above says more than an access log."""


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("WEBHOOK_RECEIVER_PORT") or 4000)
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=Path(os.environ.get("WEBHOOK_RECEIVER_STATE_FILE") or ".data/demo.json"),
        help="the seed's state file, holding the demo endpoint's webhook_secret",
    )
    parser.add_argument(
        "--record", type=Path, default=None, help="append each accepted webhook to this file"
    )
    args = parser.parse_args(argv)

    class Handler(_Handler):
        state_file = args.state_file
        recorder = Recorder(args.record) if args.record is not None else None

    signal.signal(signal.SIGTERM, _stop)
    with ThreadingHTTPServer(("127.0.0.1", args.port), Handler) as server:
        _say(f"listening on http://127.0.0.1:{args.port}{WEBHOOK_PATH}")
        # Ctrl-C when run on its own; under `make up`, SIGTERM (see `_stop`).
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
