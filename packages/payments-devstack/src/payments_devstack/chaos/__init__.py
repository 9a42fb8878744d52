"""`make chaos`: payments under faults, then proof from the database, the ledger and the merchant.

The embedded stack of `make up` (same launchers, in a scratch directory, on free ports) takes a
steady stream of payments with random test cards while its processes are killed and restarted
one at a time; then the invariants are checked and printed (`run.py`).
"""
