"""The embedded dev stack: PostgreSQL, the AWS emulator and Temporal from PyPI wheels, supervised.

`make up` runs `python -m payments_devstack up`; the integration tests start the same
components through `EmbeddedPostgres`, `MotoServer` and `TemporalDevServer`.
"""
