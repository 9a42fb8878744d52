"""A merchant's own processor accounts (CONTRACT.md §1, "Connectors")."""
