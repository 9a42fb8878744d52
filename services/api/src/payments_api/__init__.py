"""payments_api."""
