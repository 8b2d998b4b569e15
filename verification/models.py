"""verification models (filled in by later issues)."""
