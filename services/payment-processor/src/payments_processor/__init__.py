"""payments_processor."""
