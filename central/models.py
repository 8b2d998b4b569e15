"""central models (filled in by later issues)."""
