"""A small Lambda Runtime API (the public protocol the runtime's bootstrap polls), so a packaged
handler runs under `awslambdaric` exactly as under Lambda's own Python runtime.

https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html: the runtime GETs
`/2018-06-01/runtime/invocation/next` (a long poll answered with the event and the request's
headers) and POSTs the handler's result to `.../invocation/{id}/response` or its failure to
`.../invocation/{id}/error`; a failure before the first poll goes to `.../init/error`.
"""

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{name}"
TRACE_TAIL = "0" * 24  # X-Ray's trace id: a tracer would read it, ours never does


class InvocationFailed(Exception):
    """The handler raised: its `errorType` and `errorMessage`, as Lambda would report them."""


@dataclass
class _Invocation:
    request_id: str
    event: bytes
    deadline_ms: int
    done: threading.Event = field(default_factory=threading.Event)
    response: Any = None
    error: dict[str, Any] | None = None


@dataclass
class Timings:
    """Monotonic times: the runtime's first poll ends its init (the handler's module imported)."""

    first_poll: float | None = None
    first_handed: float | None = None  # the first event given to the runtime
    first_response: float | None = None


class RuntimeApi:
    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.timings = Timings()
        self.init_error: dict[str, Any] | None = None
        self._pending: queue.Queue[_Invocation] = queue.Queue()
        self._by_id: dict[str, _Invocation] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        """AWS_LAMBDA_RUNTIME_API: host:port."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self) -> "RuntimeApi":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def invoke(
        self, event: Any, *, timeout_seconds: float = 60.0, alive: Callable[[], bool] = bool
    ) -> Any:
        """Hand `event` to the runtime and wait for the handler's result (InvocationFailed when
        it raised or the runtime died). The deadline it sees is `timeout_seconds` away, as a
        function's timeout; `alive` says whether the runtime's process still runs."""
        invocation = _Invocation(
            request_id=str(uuid.uuid4()),
            event=json.dumps(event).encode(),
            deadline_ms=int((time.time() + timeout_seconds) * 1000),
        )
        self._by_id[invocation.request_id] = invocation
        self._pending.put(invocation)
        give_up = time.monotonic() + timeout_seconds + 5
        while not invocation.done.wait(0.2):
            if not alive():
                raise InvocationFailed(f"{self.function_name} exited: init error {self.init_error}")
            if time.monotonic() > give_up:
                raise TimeoutError(f"{self.function_name} did not answer in {timeout_seconds} s")
        if invocation.error is not None:
            raise InvocationFailed(
                f"{invocation.error.get('errorType')}: {invocation.error.get('errorMessage')}"
            )
        return invocation.response

    # -- the runtime's side ----------------------------------------------------------------

    def next_invocation(self) -> _Invocation:
        if self.timings.first_poll is None:
            self.timings.first_poll = time.monotonic()
        invocation = self._pending.get()
        if self.timings.first_handed is None:
            self.timings.first_handed = time.monotonic()
        return invocation

    def finish(self, request_id: str, *, response: Any = None, error: Any = None) -> None:
        invocation = self._by_id[request_id]
        if self.timings.first_response is None:
            self.timings.first_response = time.monotonic()
        invocation.response, invocation.error = response, error
        invocation.done.set()


def _handler_for(api: RuntimeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path != f"{PREFIX}/invocation/next":
                self._answer(404, b"{}")
                return
            invocation = api.next_invocation()
            self._answer(
                200,
                invocation.event,
                {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN.format(
                        name=api.function_name
                    ),
                    "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{TRACE_TAIL}",
                },
            )

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = self.path.removeprefix(PREFIX).strip("/").split("/")
            payload = json.loads(body) if body else None
            if parts == ["init", "error"]:
                api.init_error = payload
            elif len(parts) == 3 and parts[0] == "invocation" and parts[2] == "response":
                api.finish(parts[1], response=payload)
            elif len(parts) == 3 and parts[0] == "invocation" and parts[2] == "error":
                api.finish(parts[1], error=payload or {"errorType": "Unknown"})
            else:
                self._answer(404, b"{}")
                return
            self._answer(202, b'{"status": "OK"}')

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
