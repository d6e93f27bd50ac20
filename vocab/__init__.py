"""The Neuromuscular Contraction Tokenizer, the Dask vocabulary compiler and tokenized shards."""
