"""SQS consumers, written once (ARCHITECTURE.md): a per-record handler run over a batch.

`batch.handle_batch` is the pure part; `polling.SqsPoller` feeds it from a long-polling loop in a
container and `lambda_entry` from a Lambda SQS event. A handler raises `PoisonMessage` for a
record no retry can fix, and any other exception for one a later delivery may handle.
"""
