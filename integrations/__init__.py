"""integrations package (see DESIGN.md)."""
