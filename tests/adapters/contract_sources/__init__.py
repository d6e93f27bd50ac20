"""Contract-test sources, one module per registered adapter (``-`` in the name -> ``_``).

Each module defines ``make_source(tmp_path: Path) -> tuple[Path, dict]``: the source path
(real files in ``../shared/data`` via :func:`tests.conftest.shared_data`, or tiny files
it writes into ``tmp_path`` in the exact original format) and the adapter options.
"""
