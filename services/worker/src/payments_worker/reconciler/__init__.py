"""The reconciler (Kill Bill's "Janitor"): payments and refunds left non-terminal, whatever the
reason, brought to what the gateway did. `janitor` finds them, `settle` repairs one, `stale`
holds the SQL and the gauges."""
