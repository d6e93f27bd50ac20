"""Dataset adapters: one module per public dataset family (see adapters.registry).

Each adapter subclasses :class:`emgcorpus.recording.Adapter` and yields the recording
contract's :class:`emgcorpus.recording.Recording` objects.
"""
