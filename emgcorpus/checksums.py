"""sha256 checksums: of a file, of bytes in memory, of a recording's samples.

One place for the hashes the project records and checks: the source files' sha256 in
the catalog and the lake's ``recordings.source_sha256``, the stored payload's
``recordings.samples_sha256``, the token shards' and vocabularies' file digests. Every
function returns 64 lower-case hex digits.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from emgcorpus.chunk_codec import little_endian

#: Bytes read from a file per update of the hash [bytes].
FILE_BLOCK_BYTES = 1 << 20


def bytes_sha256(data: bytes | bytearray | memoryview) -> str:
    """Hex sha256 of ``data`` (bytes held in memory)."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path, block: int = FILE_BLOCK_BYTES) -> str:
    """Hex sha256 of the file at ``path``, read in ``block``-byte pieces (memory: one block)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while data := fh.read(block):
            digest.update(data)
    return digest.hexdigest()


def samples_sha256(samples: np.ndarray) -> str:
    """Hex sha256 of the payload the lake stores for ``samples``: their C-order
    little-endian bytes (so the digest does not depend on the array's layout or byte
    order, only on its values and dtype)."""
    return bytes_sha256(little_endian(samples).data.cast("B"))
