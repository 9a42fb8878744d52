"""Outgoing webhooks (CONTRACT §3, Standard Webhooks 1.0).

Pure building blocks, no I/O besides name resolution:

- :mod:`payments_core.webhooks.signing` — ``whsec_`` secrets and the ``webhook-*`` headers.
- :mod:`payments_core.webhooks.ssrf` — vet a merchant URL before every delivery and pin the
  connection to the vetted address.
"""
