"""payments_webhook_sender: consumes payment-webhook-queue and delivers signed webhooks."""
