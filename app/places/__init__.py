"""places area."""
