"""The schema of tokenized shards: the contract between vocab (writer) and training (reader).

A shard is a Parquet file of *sentences*; a sentence is a contiguous time segment of one
recording (at most ``max_tokens`` tokens), its tokens sorted by onset time. Per-token
columns are parallel lists of equal length. ``token_pos`` is the flattened
(n_tokens x POSITION_DIM) electrode position of each token's channel (see
emgcorpus.topology). ``token_desc`` is the flattened (n_tokens x descriptor_dim)
continuous descriptor of each token, standardised by the vocabulary's statistics (the space
its codebook lives in), so a model can embed what a code means beside its id; NaN for
entries the device did not record and for rest tokens (``descriptor_dim`` is in the shard
index; null in shards written before the column, or by a writer without descriptors).
Times are seconds from the recording's first sample. Events are the recording's label
intervals that overlap the sentence, so a reader can label windows without the lake. Shard
metadata (vocab id, snapshot, tokenizer) lives in the shard index (``index.json`` beside
the shards), not in every row.
"""

from __future__ import annotations

import pyarrow as pa

from emgcorpus.topology import POSITION_DIM

EVENT_TYPE = pa.struct(
    [
        ("onset", pa.float64()),
        ("duration", pa.float64()),
        ("label", pa.string()),
        ("repetition", pa.int32()),
        ("kind", pa.string()),
    ]
)

SHARD_SCHEMA = pa.schema(
    [
        ("recording_id", pa.string()),
        ("dataset", pa.string()),
        ("device", pa.string()),
        ("subject", pa.string()),
        ("session", pa.string()),
        ("trial", pa.string()),
        ("sentence_index", pa.int32()),
        ("t_start_s", pa.float64()),
        ("t_end_s", pa.float64()),
        ("n_channels", pa.int32()),
        ("token_ids", pa.list_(pa.int32())),
        ("token_channel", pa.list_(pa.int16())),
        ("token_onset_s", pa.list_(pa.float32())),
        ("token_duration_s", pa.list_(pa.float32())),
        ("token_pos", pa.list_(pa.float32())),
        ("token_desc", pa.list_(pa.float32())),
        ("events", pa.list_(EVENT_TYPE)),
    ]
)

#: The per-token column of standardised descriptors (readers accept shards without it).
DESC_COLUMN = "token_desc"
#: The schema of shards written before ``token_desc`` existed (still read and verified).
SHARD_SCHEMA_WITHOUT_DESC = pa.schema([f for f in SHARD_SCHEMA if f.name != DESC_COLUMN])

__all__ = [
    "DESC_COLUMN",
    "EVENT_TYPE",
    "POSITION_DIM",
    "SHARD_SCHEMA",
    "SHARD_SCHEMA_WITHOUT_DESC",
]
