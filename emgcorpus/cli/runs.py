"""``emgcorpus quickstart`` and ``emgcorpus run``: the whole pipeline in one command."""

from __future__ import annotations

from pathlib import Path

import click

from emgcorpus.runs.pipeline import QUICKSTART_SIM, PipelineConfig, run_pipeline

_DEFAULTS = PipelineConfig()


def _pipeline_options(f: click.decorators.FC) -> click.decorators.FC:
    """Options shared by ``run`` and ``quickstart``."""
    options = [
        click.option(
            "--out",
            type=click.Path(path_type=Path),
            default=Path("emg-runs/latest"),
            show_default=True,
            help="Folder for the checkpoint and the report.",
        ),
        click.option(
            "--fs",
            "fs_hz",
            type=float,
            default=1000.0,
            show_default=True,
            help="Harmonized rate [Hz] for vocabulary and shards (0: native rates).",
        ),
        click.option("--vocab-size", type=int, default=_DEFAULTS.vocab_size, show_default=True),
        click.option(
            "--steps",
            "pretrain_steps",
            type=int,
            default=_DEFAULTS.pretrain_steps,
            show_default=True,
            help="Pretraining steps.",
        ),
        click.option("--d-model", type=int, default=_DEFAULTS.d_model, show_default=True),
        click.option(
            "--layers", "n_layers", type=int, default=_DEFAULTS.n_layers, show_default=True
        ),
        click.option("--baselines", default="td-lda,strong,window", show_default=True),
        click.option(
            "--scheduler",
            default=None,
            help="Dask scheduler address (default: a LocalCluster; 'sync': in-process).",
        ),
        click.option(
            "--workers",
            "n_workers",
            type=int,
            default=None,
            help="LocalCluster workers (default: one per core).",
        ),
        click.option("--seed", type=int, default=0, show_default=True),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _config(eval_dataset: str, eval_device: str | None, **kw: object) -> PipelineConfig:
    fs = kw.pop("fs_hz")
    baselines = [b for b in str(kw.pop("baselines")).split(",") if b]
    return PipelineConfig(
        eval_dataset=eval_dataset,
        eval_device=eval_device,
        fs_hz=float(fs) if fs else None,  # type: ignore[arg-type]
        baselines=baselines,
        **kw,  # type: ignore[arg-type]
    )


@click.command("run")
@click.option("--dataset", "eval_dataset", required=True, help="Dataset to evaluate (LOSO).")
@click.option("--device", "eval_device", default=None, help="Evaluate one device's recordings.")
@click.option(
    "--eval-fraction",
    type=float,
    default=0.5,
    show_default=True,
    help="Share of the dataset's subjects held out for evaluation (the last ones).",
)
@_pipeline_options
@click.pass_context
def run_cmd(
    ctx: click.Context, out: Path, eval_dataset: str, eval_device: str | None, **kw: object
) -> None:
    """Harmonize, build a vocabulary, tokenize, pretrain and evaluate the lake's data."""
    cfg = _config(eval_dataset, eval_device, **kw)
    run_pipeline(ctx.obj["lake"], out, cfg, echo=click.echo)


@click.command("quickstart")
@click.option(
    "--subjects",
    type=int,
    default=QUICKSTART_SIM["subjects"],
    show_default=True,
    help="Simulated people.",
)
@_pipeline_options
@click.pass_context
def quickstart_cmd(ctx: click.Context, out: Path, subjects: int, **kw: object) -> None:
    """The whole pipeline on the built-in simulated corpus (several virtual devices)."""
    cfg = _config("sim", "sim-myo8", **kw)
    sim = {**QUICKSTART_SIM, "subjects": subjects}
    run_pipeline(ctx.obj["lake"], out, cfg, sim_options=sim, echo=click.echo)


def register(cli: click.Group) -> None:
    """Add ``run`` and ``quickstart`` to the top-level CLI."""
    cli.add_command(run_cmd)
    cli.add_command(quickstart_cmd)
