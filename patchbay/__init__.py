"""patchbay's front door: the command line (and later the HTTP API)."""
