"""moto's SQS, mended: no message lost to overlapping deletes, the same visibility and retention.

The race test drives moto's backend in this process (its server runs the same classes on
threads): two threads delete received messages from one deep queue while a third sends to it,
with the interpreter switching threads every 10 µs. Unmended, moto lost a few of the 400 new
messages in most runs and brought deleted ones back; each round here repeats that five times.
"""

import sys
import threading
import time
from collections.abc import Iterator

import pytest
from moto.sqs import models
from moto.sqs.models import SQSBackend

from payments_core.devstack import moto_mends
from payments_core.devstack.moto_server import MOTO_MODULE, MotoServer

ACCOUNT = "123456789012"
REGION = "eu-west-3"  # one no other test in this process uses


@pytest.fixture
def backend() -> Iterator[SQSBackend]:
    moto_mends.apply()
    sqs: SQSBackend = models.sqs_backends[ACCOUNT][REGION]
    yield sqs
    sqs.reset()


@pytest.fixture
def fast_thread_switches() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(previous)


@pytest.mark.usefixtures("fast_thread_switches")
@pytest.mark.parametrize("round_number", range(5))
def test_overlapping_deletes_lose_no_message_sent_meanwhile(
    backend: SQSBackend, round_number: int
) -> None:
    queue_name = f"race-{round_number}"
    backend.create_queue(queue_name)
    for number in range(300):
        backend.send_message(queue_name, f"old {number}")
    handles = []
    while batch := backend.receive_message(queue_name, 10, 0, 300):
        handles += [message.receipt_handle for message in batch]
    sent: list[str] = []

    def send_new() -> None:
        for number in range(400):
            sent.append(backend.send_message(queue_name, f"new {number}").id)

    def delete(receipt_handles: list[str]) -> None:
        for receipt_handle in receipt_handles:
            backend.delete_message(queue_name, receipt_handle)

    threads = [
        threading.Thread(target=send_new),
        threading.Thread(target=delete, args=(handles[0::2],)),
        threading.Thread(target=delete, args=(handles[1::2],)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    left = [message.id for message in backend.get_queue(queue_name)._messages]
    assert sorted(left) == sorted(sent), "the queue holds exactly the messages sent meanwhile"


def test_visibility_and_delay_still_hide_a_message_until_their_time(backend: SQSBackend) -> None:
    backend.create_queue("timing")
    backend.send_message("timing", "delayed", delay_seconds=1)
    assert backend.receive_message("timing", 10, 0, 1) == []
    time.sleep(1.1)
    [received] = backend.receive_message("timing", 10, 0, 1)
    assert backend.receive_message("timing", 10, 0, 1) == [], "hidden for its visibility timeout"
    time.sleep(1.1)
    [again] = backend.receive_message("timing", 10, 0, 1)
    assert again.id == received.id
    assert again.approximate_receive_count == 2


def test_a_message_past_its_retention_period_is_not_received(backend: SQSBackend) -> None:
    backend.create_queue("retention", MessageRetentionPeriod="60")
    kept = backend.send_message("retention", "kept")
    expired = backend.send_message("retention", "expired")
    expired.sent_timestamp -= 61_000  # type: ignore[operator]

    received = backend.receive_message("retention", 10, 0, 30)

    assert [message.id for message in received] == [kept.id]


def test_the_local_emulator_runs_mended() -> None:
    argv = MotoServer(4566)._spec().argv
    assert argv[1:3] == ["-m", MOTO_MODULE]
    assert moto_mends.__name__ == MOTO_MODULE
