"""Command-line interface (thin: parse, build a config, call the library)."""
