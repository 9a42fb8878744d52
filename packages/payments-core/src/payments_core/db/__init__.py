"""Database access: engine, sessions, shared column helpers."""
