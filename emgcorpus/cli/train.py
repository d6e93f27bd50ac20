"""``emgcorpus train``: pretrain on token shards, evaluate with the LOSO protocol."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import click

from emgcorpus.cli.common import context_lake, echo_json, json_option, torch_device_option
from emgcorpus.cli.runs import configure, run_options
from emgcorpus.runs.config import reproduce_preset
from emgcorpus.runs.orchestrator import ablate, run_stages
from emgcorpus.runs.plans import QUICKSTART_SIM, TARGETS, experiment_plan, target
from training.baselines import PROBES, parse_baselines
from training.embedding import POOLINGS
from training.eval_report import accuracy_lines, window_accuracy_means, write_eval_report
from training.evaluate import FINETUNE_ADAPTS, EvalConfig, evaluate_loso
from training.model import ModelConfig
from training.pretrain import PretrainConfig, pretrain
from training.windows import WindowSpec

#: the library defaults the options show (one default per knob: the config classes')
_MODEL, _PRETRAIN = ModelConfig(), PretrainConfig()
_EVAL, _SPEC = EvalConfig(dataset=""), WindowSpec()


@click.group("train")
def train() -> None:
    """Self-supervised pretraining and leave-one-subject-out evaluation."""


@train.command("pretrain")
@click.option("--shards", type=click.Path(path_type=Path), required=True, help="Shard folder.")
@click.option(
    "--exclude-subjects",
    multiple=True,
    metavar="DATASET:SUBJECT",
    help="Leave these subjects out (repeatable; evaluation subjects must be excluded).",
)
@click.option("--exclude-datasets", multiple=True, metavar="NAME", help="Leave datasets out.")
@click.option(
    "--epochs",
    type=int,
    default=_PRETRAIN.epochs,
    show_default=True,
    help="Passes over the shards (ignored with --steps).",
)
@click.option("--steps", type=int, default=_PRETRAIN.steps, help="Stop after this many steps.")
@click.option(
    "--batch-size",
    type=int,
    default=_PRETRAIN.batch_size,
    show_default=True,
    help="Sentences per step.",
)
@click.option(
    "--lr", type=float, default=_PRETRAIN.lr, show_default=True, help="AdamW learning rate."
)
@click.option(
    "--d-model",
    type=int,
    default=_MODEL.d_model,
    show_default=True,
    help="Model width (feed-forward: 4x).",
)
@click.option(
    "--layers", type=int, default=_MODEL.n_layers, show_default=True, help="Transformer layers."
)
@click.option(
    "--heads", type=int, default=_MODEL.n_heads, show_default=True, help="Attention heads."
)
@click.option(
    "--desc-dim",
    type=int,
    default=_MODEL.desc_dim,
    show_default=True,
    help="Descriptor entries per token embedded beside its id (-1: as many as the shards "
    "store, 0: ids only).",
)
@click.option(
    "--max-tokens",
    type=int,
    default=_PRETRAIN.max_tokens,
    show_default=True,
    help="Tokens per sentence (a random crop; cost grows with its square).",
)
@click.option(
    "--loader-workers",
    type=int,
    default=_PRETRAIN.loader_workers,
    show_default=True,
    help="DataLoader worker processes reading the shards.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("checkpoint"),
    show_default=True,
    help="Checkpoint folder.",
)
@torch_device_option(_PRETRAIN.torch_device)
@click.option(
    "--seed", type=int, default=_PRETRAIN.seed, show_default=True, help="Seed of masking and order."
)
@click.option(
    "--resume",
    type=click.Path(path_type=Path),
    default=None,
    help="Go on from this checkpoint (weights, optimizer, step, data position).",
)
@json_option("the checkpoint, steps, final loss and the subjects and datasets pretrained on")
def pretrain_cmd(
    shards: Path,
    exclude_subjects: tuple[str, ...],
    exclude_datasets: tuple[str, ...],
    epochs: int,
    steps: int | None,
    batch_size: int,
    lr: float,
    d_model: int,
    layers: int,
    heads: int,
    desc_dim: int,
    max_tokens: int,
    loader_workers: int,
    out: Path,
    torch_device: str,
    seed: int,
    resume: Path | None,
    as_json: bool,
) -> None:
    """Masked-token pretraining; writes model.pt + model.json + curve.jsonl to --out.

    With --resume, --steps/--epochs count from the start of the first run.
    """
    cfg = PretrainConfig(
        epochs=epochs,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        max_tokens=max_tokens,
        seed=seed,
        torch_device=torch_device,
        loader_workers=loader_workers,
    )
    res = pretrain(
        shards,
        out,
        model_config=ModelConfig(
            d_model=d_model, n_layers=layers, n_heads=heads, desc_dim=desc_dim
        ),
        config=cfg,
        exclude_subjects=exclude_subjects,
        exclude_datasets=exclude_datasets,
        resume=resume,
        progress=not as_json,
    )
    last = res.curve[-1] if res.curve else {}
    if as_json:
        meta = res.meta
        echo_json(
            {
                "checkpoint": str(res.checkpoint),
                "steps": meta.train.get("steps_done"),
                "torch_device": meta.train.get("torch_device_used"),
                "final_loss": last.get("loss"),
                "vocab_id": meta.vocab_id,
                "pretrain_subjects": meta.pretrain_subjects,
                "pretrain_datasets": meta.pretrain_datasets,
                "excluded_subjects": meta.excluded_subjects,
                "excluded_datasets": meta.excluded_datasets,
                "train": meta.train,
            }
        )
        return
    click.echo(
        f"checkpoint: {res.checkpoint} ({res.meta.train['steps_done']} steps on "
        f"{res.meta.train['torch_device_used']}, {len(res.meta.pretrain_subjects)} subjects, "
        f"final loss {last.get('loss', float('nan')):.4f})"
    )


@train.command("eval")
@click.option(
    "--protocol",
    type=click.Choice(["loso"]),
    default="loso",
    show_default=True,
    help="Evaluation protocol (leave-one-subject-out).",
)
@click.option(
    "--shards",
    type=click.Path(path_type=Path),
    default=None,
    help="Token shard folder (needed with --checkpoint, for the audit, or with --no-lake).",
)
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path),
    default=None,
    help="Pretrained checkpoint (left out: the baselines alone, no model).",
)
@click.option("--dataset", required=True, help="Dataset to evaluate (its subjects are the folds).")
@click.option(
    "--few-shot",
    type=float,
    default=_EVAL.few_shot,
    show_default=True,
    help="Share of the held-out subject's labelled windows (first in time) for few-shot.",
)
@click.option(
    "--few-shot-weight",
    type=click.FloatRange(min=0, min_open=True),
    default=_EVAL.few_shot_weight,
    show_default=True,
    help="In the few-shot fits the target's adaptation windows weigh as much as this many "
    "training subjects (repeated).",
)
@click.option(
    "--baselines",
    default=",".join(_EVAL.baselines),
    show_default=True,
    help="Comma list of td-lda, strong, window ('' for none).",
)
@click.option(
    "--window-shards",
    type=click.Path(path_type=Path),
    default=None,
    help="Shards of the window tokenizer (for the window baseline).",
)
@click.option(
    "--window-s", type=float, default=_SPEC.window_s, show_default=True, help="Window [s]."
)
@click.option("--hop-s", type=float, default=_SPEC.hop_s, show_default=True, help="Window hop [s].")
@click.option(
    "--labelling",
    type=click.Choice(["containment", "majority"]),
    default=_SPEC.labelling,
    show_default=True,
    help="A window's label: the event that contains it, or the majority of its samples.",
)
@click.option("--include-rest", is_flag=True, help="Make labelled rest a class.")
@click.option(
    "--model-window-s", type=float, default=_EVAL.model_window_s, help="Longer model window [s]."
)
@click.option(
    "--subjects",
    multiple=True,
    metavar="DATASET:SUBJECT",
    help="Evaluate only these subjects (repeatable; default: all of --dataset).",
)
@click.option("--sessions", multiple=True, help="Evaluate only these sessions (repeatable).")
@click.option(
    "--device",
    default=_EVAL.device,
    metavar="NAME",
    help="Evaluate only recordings of this EMG device (the lake's device column).",
)
@click.option(
    "--pooling",
    type=click.Choice(POOLINGS),
    default=_EVAL.pooling,
    show_default=True,
    help="Model features: CLS + mean only (cls-mean); + per-electrode-position token outputs "
    "and shares (channels); + the tokens' descriptors pooled per position relative to the "
    "window (channels-desc); CLS + mean + per position the descriptors' levels and relative "
    "pattern (cls-mean-desc, training/RESULTS.md row D1).",
)
@click.option(
    "--finetune-steps",
    type=int,
    default=_EVAL.finetune_steps,
    show_default=True,
    help="model-finetune: train the last layers + a head per fold on the training subjects "
    "(zero-shot), then adapt on the few-shot windows, for this many steps (0: none).",
)
@click.option(
    "--finetune-layers",
    type=int,
    default=_EVAL.finetune_layers,
    show_default=True,
    help="Last transformer layers model-finetune trains.",
)
@click.option(
    "--finetune-lr",
    type=float,
    default=_EVAL.finetune_lr,
    show_default=True,
    help="Learning rate of model-finetune (adaptation: 0.3x).",
)
@click.option(
    "--finetune-adapt",
    type=click.Choice(FINETUNE_ADAPTS),
    default=_EVAL.finetune_adapt,
    show_default=True,
    help="model-finetune: probe = the frozen model's regimes (probe, calibration, few-shot "
    "windows) on the fine-tuned features; gradient = the head's zero-shot and gradient "
    "steps on the few-shot windows; both = probe, with gradient as model-finetune-gradient.",
)
@click.option(
    "--pool-max", is_flag=True, help="Also max-pool the token outputs (window and per position)."
)
@click.option(
    "--spatial-words",
    type=click.IntRange(min=0),
    default=_EVAL.spatial_words,
    show_default=True,
    help="Append to the model's features a bag of this many spatial words per window "
    "(the co-activation pattern over positions every 50 ms, codebook fitted per fold on "
    "the training subjects; training/RESULTS.md screen E3); 0: none.",
)
@click.option(
    "--probe",
    type=click.Choice(PROBES),
    default=_EVAL.probe,
    show_default=True,
    help="Linear probe of the model and window methods.",
)
@click.option(
    "--strong-max-iter",
    type=int,
    default=_EVAL.strong_max_iter,
    show_default=True,
    help="Boosting iterations of the strong baseline.",
)
@click.option(
    "--fold-workers",
    type=click.IntRange(min=1),
    default=_EVAL.fold_workers,
    show_default=True,
    help="Processes fitting the folds in parallel (forked; 1: in this process).",
)
@click.option("--no-lake", is_flag=True, help="Cut windows from shard events (no lake baselines).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("report"),
    show_default=True,
    help="Report folder.",
)
@torch_device_option(_EVAL.torch_device)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def eval_cmd(
    ctx: click.Context,
    protocol: str,
    shards: Path | None,
    checkpoint: Path | None,
    dataset: str,
    few_shot: float,
    few_shot_weight: float,
    baselines: str,
    window_shards: Path | None,
    window_s: float,
    hop_s: float,
    labelling: str,
    include_rest: bool,
    model_window_s: float | None,
    subjects: tuple[str, ...],
    sessions: tuple[str, ...],
    device: str | None,
    pooling: str,
    finetune_steps: int,
    finetune_layers: int,
    finetune_lr: float,
    finetune_adapt: str,
    pool_max: bool,
    spatial_words: int,
    probe: str,
    strong_max_iter: int,
    fold_workers: int,
    no_lake: bool,
    out: Path,
    torch_device: str,
    as_json: bool,
) -> None:
    """LOSO evaluation of a checkpoint and the baselines; writes report.json/.html + PNGs.

    Without --checkpoint only the baselines are evaluated (no model, no tokens needed for
    td-lda and strong: the windows come from the lake).
    """
    cfg = EvalConfig(
        dataset=dataset,
        few_shot=few_shot,
        few_shot_weight=few_shot_weight,
        baselines=parse_baselines(baselines),
        spec=WindowSpec(
            window_s=window_s,
            hop_s=hop_s,
            labelling="majority" if labelling == "majority" else "containment",
            include_rest=include_rest,
        ),
        model_window_s=model_window_s,
        torch_device=torch_device,
        subjects=list(subjects) or None,
        sessions=list(sessions) or None,
        device=device,
        pooling=pooling,
        finetune_steps=finetune_steps,
        finetune_layers=finetune_layers,
        finetune_lr=finetune_lr,
        finetune_adapt=finetune_adapt,
        pool_max=pool_max,
        spatial_words=spatial_words,
        probe=probe,
        strong_max_iter=strong_max_iter,
        fold_workers=fold_workers,
    )
    lake = None if no_lake else context_lake(ctx)
    if checkpoint is None:
        click.echo(
            f"no --checkpoint: baselines only ({', '.join(cfg.baselines) or 'none'}); "
            "the model is not evaluated",
            err=True,
        )
    report = evaluate_loso(shards, checkpoint, cfg, lake_path=lake, window_shards=window_shards)
    page = write_eval_report(report, out)
    if as_json:
        echo_json({"report": str(page), "window_accuracy": window_accuracy_means(report)})
        return
    for line in accuracy_lines(report):
        click.echo(line)
    click.echo(f"report: {page}")


@train.command("audit")
@click.option("--shards", type=click.Path(path_type=Path), required=True, help="Shard folder.")
@click.option("--dataset", required=True, help="Dataset to audit (its subjects are the folds).")
@click.option("--device", default=None, help="Audit only recordings of this EMG device (lake).")
@click.option(
    "--model-window-s",
    type=float,
    default=_EVAL.model_window_s,
    help="Audit the tokens of this many seconds around each window's centre (as the model).",
)
@click.option(
    "--window-s", type=float, default=_SPEC.window_s, show_default=True, help="Window length [s]."
)
@click.option("--hop-s", type=float, default=_SPEC.hop_s, show_default=True, help="Window hop [s].")
@click.option("--include-rest", is_flag=True, help="Make labelled rest a class.")
@click.option("--no-lake", is_flag=True, help="Cut windows from shard events (no lake).")
@click.option("--json", "as_json", is_flag=True, help="Print the audit as JSON.")
@click.pass_context
def audit_cmd(
    ctx: click.Context,
    shards: Path,
    dataset: str,
    device: str | None,
    model_window_s: float | None,
    window_s: float,
    hop_s: float,
    include_rest: bool,
    no_lake: bool,
    as_json: bool,
) -> None:
    """Information audit: what the tokens carry before any model (LDA, LOSO folds of eval)."""
    from training.audit import audit_lines, run_audit

    spec = WindowSpec(window_s=window_s, hop_s=hop_s, include_rest=include_rest)
    cfg = EvalConfig(dataset=dataset, device=device, model_window_s=model_window_s, spec=spec)
    result = run_audit(shards, cfg, lake_path=None if no_lake else context_lake(ctx))
    if as_json:
        echo_json(result)
        return
    for line in audit_lines(result["audit"]):
        click.echo(line)


@train.command("reproduce")
@click.argument("experiment", type=click.Choice(sorted(TARGETS)))
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=Path("../shared/data"),
    show_default=True,
    help="Folder with the real sets (ciil_myo, cote_allard_myo, ...).",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run folder.")
@click.option(
    "--sim-subjects",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also pretrain (vocabulary + model) on the built-in simulated corpus with this many "
    "people (4 virtual devices, the quick start's settings); 0: the real sets alone.",
)
@run_options(reproduce_preset(TARGETS["ciil"]))
def reproduce_cmd(
    experiment: str, data: Path, out: Path | None, sim_subjects: int, **options: Any
) -> None:
    """Reproduce a real-data result: ingest, vocab + pretrain without the target, LOSO."""
    out = out or Path(f"emg-runs/{experiment}")
    sim = {**QUICKSTART_SIM, "subjects": sim_subjects} if sim_subjects else None
    plan = experiment_plan(experiment, data, out, sim_options=sim)
    cfg = configure(reproduce_preset(target(experiment)), options)
    command = "emgcorpus " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    run_stages(plan, cfg, out, progress=False, echo=click.echo, command=command)


@train.command("ablate")
@click.argument("experiment", type=click.Choice(sorted(TARGETS)))
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run folder.")
def ablate_cmd(experiment: str, out: Path | None) -> None:
    """Model-only variants (window length, pooling, fine-tuning) on a reproduce run."""
    out = out or Path(f"emg-runs/{experiment}")
    for name, table in ablate(experiment, out, echo=click.echo).items():
        parts = ", ".join(
            f"{m}/{r} {v['window']['mean']:.3f}"
            for m, res in table.items()
            for r, v in res.items()
            if v["window"]["mean"] is not None
        )
        click.echo(f"{name}: {parts}")
    click.echo(f"written: {out / 'ablations.json'}")
