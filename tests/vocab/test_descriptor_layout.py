"""emgcorpus.shards.descriptor_layout agrees with the tokenizers' descriptor layouts."""

from __future__ import annotations

from emgcorpus.shards.descriptor_layout import INTENSITY_ENTRY, intensity_index
from vocab.descriptors import DESCRIPTOR_DIM, DESCRIPTOR_NAMES
from vocab.tokenizers import get_tokenizer


def test_nct_intensity_entry_is_log_intensity():
    assert DESCRIPTOR_NAMES[INTENSITY_ENTRY["nct"]] == "log_intensity"
    assert get_tokenizer("nct").descriptor_dim == DESCRIPTOR_DIM


def test_intensity_index_from_the_shard_index():
    nct = {"name": "nct", "version": "3", "params": {}}
    assert intensity_index({"descriptor_dim": DESCRIPTOR_DIM, "tokenizer": nct}) == 1
    assert intensity_index({"descriptor_dim": 0, "tokenizer": nct}) is None
    assert intensity_index({"descriptor_dim": 48, "tokenizer": {"name": "window"}}) is None
    assert intensity_index({"descriptor_dim": 3, "tokenizer": "toy", "intensity_index": 2}) == 2
