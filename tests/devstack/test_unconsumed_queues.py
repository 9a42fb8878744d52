"""The unconsumed queues' purger against the emulator `make up` runs."""

import boto3

from payments_core.aws.topology import ANALYTICS_QUEUE, NOTIFICATION_QUEUE, PROCESSING_QUEUE
from payments_devstack.moto_server import MotoServer
from payments_devstack.unconsumed_queues import QueuePurger, unconsumed_queue_names

REGION = "us-east-1"


def test_the_queues_no_local_service_reads() -> None:
    consumed = [PROCESSING_QUEUE, "payment-webhook-queue"]
    assert unconsumed_queue_names(consumed) == [ANALYTICS_QUEUE, NOTIFICATION_QUEUE]


def test_a_deep_queue_is_purged_as_often_as_it_fills(moto_server: MotoServer) -> None:
    moto_server.reset()
    sqs = boto3.client("sqs", endpoint_url=moto_server.endpoint_url, region_name=REGION)
    url = sqs.create_queue(QueueName="unconsumed")["QueueUrl"]
    purger = QueuePurger(moto_server.endpoint_url, REGION, [url], max_depth=5)

    for _ in range(2):  # twice within a minute: MotoServer lets it
        for index in range(6):
            sqs.send_message(QueueUrl=url, MessageBody=str(index))
        assert purger.purge_if_deep(url)
        assert sqs.receive_message(QueueUrl=url).get("Messages") is None

    sqs.send_message(QueueUrl=url, MessageBody="recent")
    assert not purger.purge_if_deep(url)  # shallow: kept for inspection
