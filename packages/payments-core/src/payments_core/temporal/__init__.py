"""Names and inputs shared by everything that talks to Temporal."""
