"""Lean PyTorch trainer over token shards: pretraining, LOSO evaluation, few-shot, baselines."""
