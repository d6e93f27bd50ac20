"""``emgcorpus train``: pretrain on token shards, evaluate with the LOSO protocol."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from training.baselines import parse_baselines
from training.evaluate import EvalConfig, evaluate_loso
from training.pretrain import PretrainConfig, pretrain
from training.report import write_report
from training.windows import WindowSpec


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
@click.option("--epochs", type=int, default=1, show_default=True)
@click.option("--steps", type=int, default=None, help="Stop after this many steps.")
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--lr", type=float, default=3e-4, show_default=True)
@click.option("--d-model", type=int, default=128, show_default=True)
@click.option("--layers", type=int, default=4, show_default=True)
@click.option("--heads", type=int, default=4, show_default=True)
@click.option("--max-tokens", type=int, default=256, show_default=True, help="Per sentence.")
@click.option("--workers", type=int, default=0, show_default=True, help="DataLoader workers.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("checkpoint"))
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--resume",
    type=click.Path(path_type=Path),
    default=None,
    help="Go on from this checkpoint (weights, optimizer, step, data position).",
)
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
    max_tokens: int,
    workers: int,
    out: Path,
    device: str,
    seed: int,
    resume: Path | None,
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
        device=device,
        num_workers=workers,
    )
    res = pretrain(
        shards,
        out,
        model_config={
            "d_model": d_model,
            "n_layers": layers,
            "n_heads": heads,
            "d_ff": 4 * d_model,
        },
        config=cfg,
        exclude_subjects=exclude_subjects,
        exclude_datasets=exclude_datasets,
        resume=resume,
    )
    last = res.curve[-1] if res.curve else {}
    click.echo(
        f"checkpoint: {res.checkpoint} ({res.meta.train['steps_done']} steps on "
        f"{res.meta.train['device_used']}, {len(res.meta.pretrain_subjects)} subjects, "
        f"final loss {last.get('loss', float('nan')):.4f})"
    )


@train.command("eval")
@click.option("--protocol", type=click.Choice(["loso"]), default="loso", show_default=True)
@click.option("--shards", type=click.Path(path_type=Path), required=True)
@click.option("--checkpoint", type=click.Path(path_type=Path), required=True)
@click.option("--dataset", required=True, help="Dataset to evaluate (its subjects are the folds).")
@click.option("--few-shot", type=float, default=0.05, show_default=True)
@click.option(
    "--baselines",
    default="td-lda,strong",
    show_default=True,
    help="Comma list of td-lda, strong, window ('' for none).",
)
@click.option("--window-shards", type=click.Path(path_type=Path), default=None)
@click.option("--window-s", type=float, default=0.25, show_default=True)
@click.option("--hop-s", type=float, default=0.05, show_default=True)
@click.option("--labelling", type=click.Choice(["containment", "majority"]), default="containment")
@click.option("--include-rest", is_flag=True, help="Make labelled rest a class.")
@click.option("--model-window-s", type=float, default=None, help="Longer model window [s].")
@click.option(
    "--subjects",
    multiple=True,
    metavar="DATASET:SUBJECT",
    help="Evaluate only these subjects (repeatable; default: all of --dataset).",
)
@click.option("--sessions", multiple=True, help="Evaluate only these sessions (repeatable).")
@click.option(
    "--emg-device",
    "emg_device",
    default=None,
    metavar="NAME",
    help="Evaluate only recordings of this device (the lake's device column).",
)
@click.option(
    "--pooling",
    type=click.Choice(["channels", "cls-mean"]),
    default="channels",
    show_default=True,
    help="Model features: per-electrode-position pooling, or CLS + mean only.",
)
@click.option(
    "--finetune-steps",
    type=int,
    default=0,
    show_default=True,
    help="Few-shot: also fine-tune the last layers + a head for this many steps.",
)
@click.option("--finetune-layers", type=int, default=1, show_default=True)
@click.option(
    "--probe",
    type=click.Choice(["logreg", "lda"]),
    default="logreg",
    show_default=True,
    help="Linear probe of the model and window methods.",
)
@click.option("--strong-max-iter", type=int, default=150, show_default=True)
@click.option("--no-lake", is_flag=True, help="Cut windows from shard events (no lake baselines).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("report"))
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def eval_cmd(
    ctx: click.Context,
    protocol: str,
    shards: Path,
    checkpoint: Path,
    dataset: str,
    few_shot: float,
    baselines: str,
    window_shards: Path | None,
    window_s: float,
    hop_s: float,
    labelling: str,
    include_rest: bool,
    model_window_s: float | None,
    subjects: tuple[str, ...],
    sessions: tuple[str, ...],
    emg_device: str | None,
    pooling: str,
    finetune_steps: int,
    finetune_layers: int,
    probe: str,
    strong_max_iter: int,
    no_lake: bool,
    out: Path,
    device: str,
    as_json: bool,
) -> None:
    """LOSO evaluation of a checkpoint and the baselines; writes report.json/.html + PNGs."""
    cfg = EvalConfig(
        dataset=dataset,
        few_shot=few_shot,
        baselines=parse_baselines(baselines),
        spec=WindowSpec(
            window_s=window_s,
            hop_s=hop_s,
            labelling="majority" if labelling == "majority" else "containment",
            include_rest=include_rest,
        ),
        model_window_s=model_window_s,
        device=device,
        subjects=list(subjects) or None,
        sessions=list(sessions) or None,
        recording_device=emg_device,
        pooling=pooling,
        finetune_steps=finetune_steps,
        finetune_layers=finetune_layers,
        probe=probe,
        strong_max_iter=strong_max_iter,
    )
    lake = None if no_lake else Path((ctx.obj or {}).get("lake", "./emg-lake"))
    report = evaluate_loso(shards, checkpoint, cfg, lake_path=lake, window_shards=window_shards)
    page = write_report(report, out)
    summary = {
        m: {
            r: res[r]["window_accuracy"]["mean"]
            for r in ("zero_shot", "unsupervised_calibration", "few_shot")
            if res[r]["window_accuracy"]["mean"] is not None
        }
        for m, res in report["methods"].items()
    }
    if as_json:
        click.echo(json.dumps({"report": str(page), "window_accuracy": summary}, indent=2))
        return
    for m, accs in summary.items():
        parts = ", ".join(f"{r} {a:.3f}" if a is not None else f"{r} n/a" for r, a in accs.items())
        click.echo(f"{m}: {parts}")
    click.echo(f"report: {page}")


@train.command("reproduce")
@click.argument("experiment", type=click.Choice(["ciil", "cote-allard"]))
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=Path("../shared/data"),
    show_default=True,
    help="Folder with the real sets (ciil_myo, cote_allard_myo, ...).",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run folder.")
@click.option("--steps", type=int, default=None, help="Pretraining steps.")
@click.option("--vocab-size", type=int, default=None)
@click.option("--d-model", type=int, default=None)
@click.option("--layers", type=int, default=None)
@click.option("--model-window-s", type=float, default=None, help="Model window [s].")
@click.option("--finetune-steps", type=int, default=None, help="Few-shot fine-tuning steps.")
@click.option("--strong-max-iter", type=int, default=None)
@click.option("--baselines", default=None, help="Comma list of td-lda, strong, window.")
@click.option("--workers", type=int, default=None, help="Dask workers for vocab/tokenize.")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default=None)
def reproduce_cmd(
    experiment: str,
    data: Path,
    out: Path | None,
    steps: int | None,
    vocab_size: int | None,
    d_model: int | None,
    layers: int | None,
    model_window_s: float | None,
    finetune_steps: int | None,
    strong_max_iter: int | None,
    baselines: str | None,
    workers: int | None,
    device: str | None,
) -> None:
    """Reproduce a real-data result: ingest, vocab + pretrain without the target, LOSO."""
    from emgcorpus.runs.experiments import ExperimentConfig, reproduce

    cfg = ExperimentConfig()
    overrides = {
        "pretrain_steps": steps,
        "vocab_size": vocab_size,
        "d_model": d_model,
        "n_layers": layers,
        "model_window_s": model_window_s,
        "finetune_steps": finetune_steps,
        "strong_max_iter": strong_max_iter,
        "baselines": tuple(parse_baselines(baselines)) if baselines is not None else None,
        "workers": workers,
        "device": device,
    }
    for k, v in overrides.items():
        if v is not None:
            setattr(cfg, k, v)
    out = out or Path(f"emg-runs/{experiment}")
    command = "emgcorpus " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    report = reproduce(experiment, data, out, cfg, command=command)
    for m, res in report["methods"].items():
        parts = ", ".join(
            f"{r} {v['window_accuracy']['mean']:.3f}"
            for r, v in res.items()
            if v["window_accuracy"]["mean"] is not None
        )
        click.echo(f"{m}: {parts}")
    click.echo(f"report: {out / 'report' / 'report.html'}")


@train.command("ablate")
@click.argument("experiment", type=click.Choice(["ciil", "cote-allard"]))
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run folder.")
def ablate_cmd(experiment: str, out: Path | None) -> None:
    """Model-only variants (window length, pooling, fine-tuning) on a reproduce run."""
    from emgcorpus.runs.experiments import ablate

    out = out or Path(f"emg-runs/{experiment}")
    for name, table in ablate(experiment, out).items():
        parts = ", ".join(
            f"{m}/{r} {v['window']['mean']:.3f}"
            for m, res in table.items()
            for r, v in res.items()
            if v["window"]["mean"] is not None
        )
        click.echo(f"{name}: {parts}")
    click.echo(f"written: {out / 'ablations.json'}")


def register(cli: click.Group) -> None:
    """Add the ``train`` group to the top-level CLI."""
    cli.add_command(train)
