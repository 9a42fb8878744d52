"""moto's SQS, mended: no message lost to overlapping deletes, the same visibility and retention.

The race tests drive moto's backend in this process (its server runs the same classes on
threads), with the interpreter switching threads every 10 µs: two threads delete received
messages from one deep queue while a third sends to it, or while a receive moves messages to
the DLQ. Unmended, moto lost a few of the 400 new messages in most runs and brought deleted ones
back (hundreds per run), and the receive failed now and then; each test repeats five rounds.
"""

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from moto.sqs import models
from moto.sqs.models import SQSBackend

from payments_aws_emulator import mends as moto_mends
from payments_devstack.moto_server import MOTO_MODULE, MotoServer

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

    _beside_two_deleters(backend, queue_name, handles, send_new)

    left = [message.id for message in backend.get_queue(queue_name)._messages]
    assert sorted(left) == sorted(sent), "the queue holds exactly the messages sent meanwhile"


@pytest.mark.usefixtures("fast_thread_switches")
@pytest.mark.parametrize("round_number", range(5))
def test_deletes_beside_a_receive_that_dead_letters_bring_nothing_back(
    backend: SQSBackend, round_number: int
) -> None:
    dlq = backend.create_queue(f"dead-{round_number}")
    queue_name = f"redriven-{round_number}"
    redrive = {"deadLetterTargetArn": dlq.queue_arn, "maxReceiveCount": 1}
    backend.create_queue(queue_name, RedrivePolicy=json.dumps(redrive))
    for number in range(300):
        backend.send_message(queue_name, f"message {number}")
    # Half received and hidden, to be deleted; half received once and visible again, so the
    # next receive moves them to the DLQ (maxReceiveCount 1).
    to_delete = [m for _ in range(15) for m in backend.receive_message(queue_name, 10, 0, 300)]
    to_dead_letter = [m for _ in range(15) for m in backend.receive_message(queue_name, 10, 0, 0)]
    errors: list[BaseException] = []

    def receive() -> None:
        try:
            backend.receive_message(queue_name, 10, 0, 30)
        except Exception as error:  # moto's server would answer 500
            errors.append(error)

    handles = [message.receipt_handle for message in to_delete]
    _beside_two_deleters(backend, queue_name, handles, receive)

    assert errors == []
    assert backend.get_queue(queue_name)._messages == [], "deleted or dead-lettered, none back"
    dead_lettered = sorted(message.id for message in dlq._messages)
    assert dead_lettered == sorted(message.id for message in to_dead_letter)


def _beside_two_deleters(
    backend: SQSBackend, queue_name: str, handles: list[str], other: Callable[[], None]
) -> None:
    """`other` on one thread while two more delete the handles between them, then wait."""

    def delete(receipt_handles: list[str]) -> None:
        for receipt_handle in receipt_handles:
            backend.delete_message(queue_name, receipt_handle)

    threads = [
        threading.Thread(target=other),
        threading.Thread(target=delete, args=(handles[0::2],)),
        threading.Thread(target=delete, args=(handles[1::2],)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


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
    assert moto_mends.__name__ == f"{MOTO_MODULE}.mends"
