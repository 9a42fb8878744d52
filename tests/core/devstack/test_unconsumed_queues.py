"""The unconsumed queues' trimmer against the emulator: the newest messages stay, the rest go."""

import boto3

from payments_core.aws.topology import ANALYTICS_QUEUE, NOTIFICATION_QUEUE, PROCESSING_QUEUE
from payments_core.devstack.moto_server import MotoServer
from payments_core.devstack.unconsumed_queues import QueuePurger, unconsumed_queue_names

REGION = "us-east-1"


def test_the_queues_no_local_service_reads() -> None:
    consumed = [PROCESSING_QUEUE, "payment-webhook-queue"]
    assert unconsumed_queue_names(consumed) == [ANALYTICS_QUEUE, NOTIFICATION_QUEUE]


def test_trim_keeps_the_newest_messages(moto_server: MotoServer) -> None:
    moto_server.reset()
    sqs = boto3.client("sqs", endpoint_url=moto_server.endpoint_url, region_name=REGION)
    url = sqs.create_queue(QueueName="trimmed")["QueueUrl"]
    for index in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=str(index))
    purger = QueuePurger(moto_server.endpoint_url, REGION, [url], max_depth=8)

    assert purger.trim(url) == 17
    assert purger.trim(url) == 0  # already short enough

    left = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        left += [int(message["Body"]) for message in batch]
    assert sorted(left) == list(range(17, 25))
