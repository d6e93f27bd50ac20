"""Per-adapter sources for the shared contract test: ``make_source(tmp_path)``."""
