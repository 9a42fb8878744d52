"""payments_webhook_sender."""
