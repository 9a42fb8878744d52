"""payment_methods."""
