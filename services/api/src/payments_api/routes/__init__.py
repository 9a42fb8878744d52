"""HTTP routes: parse, call a domain service, map the result into the envelope."""
