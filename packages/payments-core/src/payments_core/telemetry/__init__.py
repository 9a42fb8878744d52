"""Logging, metrics and tracing setup shared by every service."""
