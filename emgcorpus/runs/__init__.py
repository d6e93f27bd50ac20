"""Whole runs: the pipeline stages written once, with a step cache; the quick start,
``emgcorpus run`` and ``train reproduce`` are configurations of it.
"""
