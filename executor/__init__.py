"""executor package (see DESIGN.md)."""
