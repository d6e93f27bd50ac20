"""The Neuromuscular Contraction Tokenizer and the window baseline, the Dask vocabulary compiler,
and the tokenization of a lake into token shards (their format: emgcorpus.shards)."""
