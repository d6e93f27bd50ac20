"""Benchmark: shard loader throughput vs the model's training consumption (tokens/s).

Writes synthetic shards in SHARD_SCHEMA (random ids, ring positions, sentences of
``--tokens`` tokens), then measures on this machine:

- loader: tokens/s that one reader (one DataLoader worker) yields, collated into batches;
- bare step: tokens/s that masked-token training consumes (forward + backward + clip +
  AdamW step on pre-collated batches) on CPU, and on CUDA when available (or
  ``--torch-device``);
- pretrain: tokens/s of :func:`training.pretrain.pretrain` itself on the same shards, model
  and batch shape (reading, collation, masking and logging included), with each
  ``--workers`` count of DataLoader workers, and its ratio to the bare step.

Defaults are the reproduce preset's shapes (d_model 64, 2 layers, 64 rows of 64 tokens,
16 descriptor entries per token). Targets: loader >= 10x the bare step per worker;
pretrain >= 0.8x the bare step (issue 11). Usage::

    python bench/bench_train.py --rows 4000 --steps 30
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from emgcorpus.shards.index import write_index
from emgcorpus.shards.schema import SHARD_SCHEMA
from emgcorpus.topology import POSITION_DIM
from training.data import ShardDataset, collate_tokens
from training.model import MaskedTokenModel, ModelConfig, count_parameters
from training.pretrain import PretrainConfig, mask_tokens, pretrain


def write_synthetic_shards(
    out: Path,
    rows: int,
    tokens: int,
    vocab: int,
    n_files: int = 4,
    seed: int = 0,
    desc_dim: int = 16,
) -> Path:
    """``rows`` sentences of ``tokens`` tokens each over ``n_files`` shards + index.json;
    with ``desc_dim`` > 0 every token carries that many (random) descriptor entries."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    per = -(-rows // n_files)
    for f in range(n_files):
        n = min(per, rows - f * per)
        if n <= 0:
            break
        chans = rng.integers(0, 8, size=(n, tokens)).astype(np.int16)
        pos = np.zeros((n, tokens, POSITION_DIM), np.float32)
        pos[..., 0] = 1
        pos[..., 3] = np.sin(2 * np.pi * chans / 8)
        pos[..., 4] = np.cos(2 * np.pi * chans / 8)
        onset = np.sort(rng.uniform(0, 10, size=(n, tokens)), axis=1).astype(np.float32)
        table = pa.table(
            {
                "recording_id": [f"r{f}-{i}" for i in range(n)],
                "dataset": ["bench"] * n,
                "device": ["bench8"] * n,
                "subject": [str(i % 10) for i in range(n)],
                "session": ["1"] * n,
                "trial": ["1"] * n,
                "sentence_index": np.zeros(n, np.int32),
                "t_start_s": np.zeros(n),
                "t_end_s": np.full(n, 10.0),
                "n_channels": np.full(n, 8, np.int32),
                "token_ids": list(rng.integers(5, vocab, size=(n, tokens)).astype(np.int32)),
                "token_channel": list(chans),
                "token_onset_s": list(onset),
                "token_duration_s": list(rng.uniform(0.01, 0.5, (n, tokens)).astype(np.float32)),
                "token_pos": list(pos.reshape(n, -1)),
                "events": [[] for _ in range(n)],
                "token_desc": (
                    list(rng.normal(size=(n, tokens * desc_dim)).astype(np.float32))
                    if desc_dim
                    else [None] * n
                ),
            },
            schema=SHARD_SCHEMA,
        )
        name = f"part-{f:04d}.parquet"
        pq.write_table(table, out / name)
        entries.append({"file": name, "rows": n, "tokens": n * tokens, "sha256": ""})
    fields = {"vocab_id": "bench", "vocab_size": vocab, "descriptor_dim": desc_dim}
    write_index(out, fields, entries, recordings=rows)
    return out


def loader_tokens_per_s(shards: Path, batch_size: int, max_tokens: int) -> float:
    """Tokens/s one reader yields, batches collated (the work of one DataLoader worker)."""
    ds = ShardDataset(shards, seed=0, max_tokens=max_tokens)
    t0 = time.perf_counter()
    n_tok, batch = 0, []
    for item in ds:
        batch.append(item)
        if len(batch) == batch_size:
            n_tok += int((~collate_tokens(batch)["pad_mask"]).sum())
            batch = []
    return n_tok / (time.perf_counter() - t0)


def train_tokens_per_s(
    shards: Path, torch_device: str, steps: int, batch_size: int, max_tokens: int, cfg: ModelConfig
) -> float:
    """Tokens/s consumed by masked-token training steps (first 2 steps are warm-up)."""
    dev = torch.device(torch_device)
    model = MaskedTokenModel(cfg).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    gen = torch.Generator(device=dev)
    gen.manual_seed(0)
    ds = ShardDataset(shards, seed=0, max_tokens=max_tokens)
    it = iter(ds)
    batches = []
    for _ in range(steps + 2):
        batches.append(collate_tokens([next(it) for _ in range(batch_size)]))
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-100)
    n_tok, t0 = 0, 0.0
    for k, b in enumerate(batches):
        if k == 2:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0, n_tok = time.perf_counter(), 0
        b = {key: v.to(dev) for key, v in b.items()}
        ids, tgt = mask_tokens(b["token_ids"], b["pad_mask"], 0.15, cfg.vocab_size, gen)
        masked = {**b, "token_ids": ids}
        if "desc" in b:
            masked["desc"] = b["desc"].masked_fill((tgt != -100).unsqueeze(-1), float("nan"))
        loss = loss_fn(model(masked).reshape(-1, cfg.vocab_size), tgt.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        n_tok += int((~b["pad_mask"]).sum())
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return n_tok / (time.perf_counter() - t0)


def pretrain_tokens_per_s(
    shards: Path,
    torch_device: str,
    steps: int,
    batch_size: int,
    max_tokens: int,
    cfg: ModelConfig,
    workers: int,
) -> float:
    """Tokens/s of :func:`training.pretrain.pretrain` itself (data path included), from its
    training curve: tokens and elapsed seconds between the first logging step (step 2,
    after the warm-up) and the last."""
    with tempfile.TemporaryDirectory() as out:
        res = pretrain(
            shards,
            out,
            model_config=cfg,
            config=PretrainConfig(
                steps=steps + 2,
                batch_size=batch_size,
                max_tokens=max_tokens,
                torch_device=torch_device,
                loader_workers=workers,
                log_every=2,
                warmup_steps=1,
            ),
            progress=False,
        )
    first, last = res.curve[0], res.curve[-1]
    return (last["tokens"] - first["tokens"]) / (last["elapsed_s"] - first["elapsed_s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=4000, help="sentences")
    ap.add_argument("--tokens", type=int, default=256, help="tokens per sentence")
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=64, help="tokens per training row")
    ap.add_argument("--steps", type=int, default=20, help="timed training steps")
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--desc-dim", type=int, default=16, help="descriptor entries per token")
    ap.add_argument(
        "--workers", default="0,1", help="DataLoader workers of the pretrain runs (comma list)"
    )
    ap.add_argument("--torch-device", choices=["auto", "cpu", "cuda", "both"], default="both")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cfg = ModelConfig(
        vocab_size=args.vocab,
        d_model=args.d_model,
        n_layers=args.layers,
        n_heads=args.heads,
        desc_dim=args.desc_dim,
    )
    devices = ["cpu"]
    if args.torch_device in ("cuda", "both", "auto") and torch.cuda.is_available():
        devices = ["cpu", "cuda"] if args.torch_device == "both" else ["cuda"]
    results: dict[str, object] = {
        "rows": args.rows,
        "tokens_per_sentence": args.tokens,
        "batch_size": args.batch_size,
        "model_parameters": count_parameters(MaskedTokenModel(cfg)),
        "torch_threads": torch.get_num_threads(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        shards = write_synthetic_shards(
            Path(tmp), args.rows, args.tokens, args.vocab, desc_dim=args.desc_dim
        )
        loader = loader_tokens_per_s(shards, args.batch_size, args.max_tokens)
        results["loader_tokens_per_s_per_worker"] = loader
        for dev in devices:
            tps = train_tokens_per_s(shards, dev, args.steps, args.batch_size, args.max_tokens, cfg)
            results[f"bare_step_tokens_per_s_{dev}"] = tps
            results[f"loader_over_bare_step_{dev}"] = loader / tps
            for w in [int(x) for x in args.workers.split(",") if x.strip()]:
                ptps = pretrain_tokens_per_s(
                    shards, dev, args.steps, args.batch_size, args.max_tokens, cfg, w
                )
                results[f"pretrain_tokens_per_s_{dev}_workers{w}"] = ptps
                results[f"pretrain_over_bare_step_{dev}_workers{w}"] = ptps / tps
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for k, v in results.items():
        print(f"{k:36s} {v:,.1f}" if isinstance(v, float) else f"{k:36s} {v}")


if __name__ == "__main__":
    main()
