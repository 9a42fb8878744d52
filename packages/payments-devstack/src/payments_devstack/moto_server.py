"""The AWS emulator (`moto[server]`) for SNS and SQS, as a child process on 127.0.0.1.

Note for queue sizing: moto 5.x never deletes messages older than a queue's
MessageRetentionPeriod. Retention is only checked when a message is received (and an expired
message is then hidden, not removed), so a short retention does NOT bound the memory or the
depth of a queue nothing consumes; only PurgeQueue, DeleteMessage or `reset()` free it.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from payments_devstack.processes import (
    ServiceSpec,
    wait_until,
)
from payments_devstack.server import InfrastructureServer

READY_TIMEOUT_SECONDS = 30.0
MOTO_MODULE = "payments_aws_emulator"


class MotoServer(InfrastructureServer):
    def __init__(self, port: int, *, log_file: Path | None = None) -> None:
        super().__init__()
        self.port = port
        self.log_file = log_file

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spec(self) -> ServiceSpec:
        return ServiceSpec(
            name="moto",
            # moto's server with its SQS message-loss race and depth costs mended (see
            # payments_aws_emulator/mends.py); `-m` rather than a console script works whatever
            # venv we run in.
            argv=[sys.executable, "-m", MOTO_MODULE, "-H", "127.0.0.1", "-p", str(self.port)],
            # Like SQS, moto refuses a second PurgeQueue of a queue within a minute; the queues
            # nobody reads locally are purged every second (unconsumed_queues.py), as their depth
            # slows every send to them.
            env={**os.environ, "MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR": "false"},
            log_file=self.log_file,
            echo=self.log_file is None,
        )

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        wait_until(self._answers, what="moto", timeout=timeout, process=self._process)

    def reset(self) -> None:
        """Forget every topic, queue and message (between tests that share one server)."""
        url = f"{self.endpoint_url}/moto-api/reset"
        request = urllib.request.Request(url, method="POST")  # noqa: S310 - our loopback URL
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(  # noqa: S310 - our own loopback URL
                f"{self.endpoint_url}/moto-api/", timeout=1
            ) as response:
                response.read()
            return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer means the server is up
        except OSError:
            return False
