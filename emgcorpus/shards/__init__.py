"""The token-shard format: schema, special tokens, index, writer, reader and verification.

Vocabularies write shards through this package and the trainer reads them through it, so
the on-disk format is defined in one place. It imports only the core.
"""
