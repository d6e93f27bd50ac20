"""emgcorpus: EMG corpus builder (Delta Lake lakehouse) and cross-device vocabulary compiler."""

__version__ = "0.1.0"
