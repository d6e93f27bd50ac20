"""Known public datasets: the catalog (``catalog.yaml``), fetching, archives, HTTP download.

This package sits above the adapters (it asks the adapter registry which adapter reads a
dataset) and below the CLI; the core lake never imports it.
"""
