"""payments_core."""
