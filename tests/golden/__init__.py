"""Golden files that pin what the designer shows (reviewed by hand)."""
