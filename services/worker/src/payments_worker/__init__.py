"""payments_worker."""
