"""rate_limit."""
