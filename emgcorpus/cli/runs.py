"""``emgcorpus quickstart`` and ``emgcorpus run``: the whole pipeline in one command.

The options a whole run takes (:func:`run_options`) are shared with ``emgcorpus train
reproduce``; each one left out keeps the preset's value (emgcorpus.runs.config).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from adapters.sim_devices import DEVICES
from emgcorpus.cli.common import context_lake, parse_key_values, torch_device_option
from emgcorpus.runs.config import RunConfig, quickstart_preset, with_options
from emgcorpus.runs.orchestrator import run_stages
from emgcorpus.runs.plans import (
    DEFAULT_EVAL_FRACTION,
    NEW_DEVICE_DATASET,
    QUICKSTART_SIM,
    lake_plan,
    new_device_plan,
)
from training.baselines import PROBES, parse_baselines
from training.embedding import POOLINGS
from training.evaluate import FINETUNE_ADAPTS


def run_options(preset: RunConfig) -> Callable[[click.decorators.FC], click.decorators.FC]:
    """The options of a whole run; their help says ``preset``'s value (kept when left out)."""
    p = preset

    def keeps(value: object) -> str:
        return f"(default: {value})"

    options = [
        click.option(
            "--fs",
            "fs_hz",
            type=float,
            default=None,
            help="Harmonized rate [Hz] for vocabulary and shards, 0: native rates "
            + keeps(p.vocab.fs_hz or 0),
        ),
        click.option("--vocab-size", type=int, default=None, help="Codes " + keeps(p.vocab.size)),
        click.option(
            "--tokenizer-param",
            "tokenizer_params",
            multiple=True,
            metavar="KEY=VALUE",
            help=f"Parameter of the {p.vocab.tokenizer} tokenizer (repeatable; the value is "
            "read as YAML; each one replaces the preset's value of that parameter) "
            + keeps(p.vocab.params_text() or "its defaults"),
        ),
        click.option(
            "--steps",
            "pretrain_steps",
            type=int,
            default=None,
            help="Pretraining steps " + keeps(p.pretrain.steps),
        ),
        click.option(
            "--d-model", type=int, default=None, help="Model width " + keeps(p.model.d_model)
        ),
        click.option(
            "--layers",
            "n_layers",
            type=int,
            default=None,
            help="Transformer layers " + keeps(p.model.n_layers),
        ),
        click.option(
            "--desc-dim",
            type=int,
            default=None,
            help="Descriptor entries per token the model embeds beside its id, -1: as many "
            "as the shards store, 0: ids only " + keeps(p.model.desc_dim),
        ),
        click.option(
            "--baselines",
            default=None,
            help="Comma list of td-lda, strong, window, '' for none "
            + keeps(",".join(p.eval.baselines)),
        ),
        click.option(
            "--model-window-s",
            type=float,
            default=None,
            help="Model window [s] " + keeps(p.eval.model_window_s),
        ),
        click.option(
            "--finetune-steps",
            type=int,
            default=None,
            help="Steps of the model-finetune method: backbone + head trained per fold on "
            "the training subjects (zero-shot), then adapted on the few-shot windows; 0: none "
            + keeps(p.eval.finetune_steps),
        ),
        click.option(
            "--finetune-layers",
            type=int,
            default=None,
            help="Last transformer layers model-finetune trains " + keeps(p.eval.finetune_layers),
        ),
        click.option(
            "--finetune-lr",
            type=float,
            default=None,
            help="Learning rate of model-finetune " + keeps(p.eval.finetune_lr),
        ),
        click.option(
            "--finetune-adapt",
            type=click.Choice(FINETUNE_ADAPTS),
            default=None,
            help="How model-finetune uses the target's windows: probe (the frozen model's "
            "regimes on the fine-tuned features), gradient (head adapted by gradient steps), "
            "both " + keeps(p.eval.finetune_adapt),
        ),
        click.option(
            "--pool-max/--no-pool-max",
            default=None,
            help="Also max-pool the model's token outputs for the probe " + keeps(p.eval.pool_max),
        ),
        click.option(
            "--spatial-words",
            type=click.IntRange(min=0),
            default=None,
            help="Spatial words per window appended to the model's features (train eval "
            "--spatial-words; 0: none) " + keeps(p.eval.spatial_words),
        ),
        click.option(
            "--strong-max-iter",
            type=int,
            default=None,
            help="Boosting iterations of the strong baseline " + keeps(p.eval.strong_max_iter),
        ),
        click.option(
            "--probe",
            type=click.Choice(PROBES),
            default=None,
            help="Linear probe of the model and window methods " + keeps(p.eval.probe),
        ),
        click.option(
            "--pooling",
            type=click.Choice(POOLINGS),
            default=None,
            help="What the model's probe reads of each window (train eval --pooling; "
            "training/RESULTS.md row D1) " + keeps(p.eval.pooling),
        ),
        torch_device_option(
            None, "Torch device of pretraining and evaluation " + keeps(p.pretrain.torch_device)
        ),
        click.option(
            "--scheduler",
            "dask_scheduler",
            default=None,
            help="Dask scheduler address ('sync': in-process) "
            + keeps(p.dask_scheduler or "a LocalCluster"),
        ),
        click.option(
            "--dask-workers",
            type=int,
            default=None,
            help="LocalCluster workers of the vocabulary and tokenize stages "
            + keeps(p.dask_workers or "one per core"),
        ),
        click.option("--seed", type=int, default=None, help="Seed " + keeps(p.pretrain.seed)),
    ]

    def decorate(f: click.decorators.FC) -> click.decorators.FC:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def configure(preset: RunConfig, options: dict[str, Any]) -> RunConfig:
    """``preset`` with the run options given on the command line (see :func:`run_options`)."""
    baselines = options.pop("baselines")
    params = parse_key_values(options.pop("tokenizer_params", ()), "--tokenizer-param")
    merged = {**dict(preset.vocab.tokenizer_params), **params}  # over the preset's own
    return with_options(
        preset,
        baselines=parse_baselines(baselines) if baselines is not None else None,
        tokenizer_params=tuple(sorted(merged.items())) if params else None,
        **options,
    )


_OUT = click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("emg-runs/latest"),
    show_default=True,
    help="Folder for the checkpoint, the report and steps.json.",
)


@click.command("run")
@click.option("--dataset", required=True, help="Dataset to evaluate (LOSO).")
@click.option("--device", default=None, help="Evaluate one EMG device's recordings.")
@click.option(
    "--eval-fraction",
    type=float,
    default=DEFAULT_EVAL_FRACTION,
    show_default=True,
    help="Share of the dataset's subjects held out for evaluation (the last ones); the "
    "vocabulary and pretraining see the others.",
)
@click.option(
    "--transfer",
    is_flag=True,
    help="Compile the vocabulary and pretrain on every OTHER dataset of the lake, then "
    "evaluate every subject of --dataset (LOSO): does the vocabulary transfer to a dataset "
    "it never saw? (--eval-fraction is not used)",
)
@_OUT
@run_options(quickstart_preset())
@click.pass_context
def run_cmd(
    ctx: click.Context,
    dataset: str,
    device: str | None,
    eval_fraction: float,
    transfer: bool,
    out: Path,
    **options: Any,
) -> None:
    """Harmonize, build a vocabulary, tokenize, pretrain and evaluate the lake's data.

    summary.json records which datasets and subjects each stage saw.
    """
    cfg = configure(quickstart_preset(dataset, device), options)
    plan = lake_plan(context_lake(ctx), eval_fraction, transfer=transfer)
    run_stages(plan, cfg, out, echo=click.echo)


@click.command("quickstart")
@click.option(
    "--subjects",
    type=int,
    default=QUICKSTART_SIM["subjects"],
    show_default=True,
    help="Simulated people.",
)
@click.option(
    "--new-device",
    type=click.Choice(sorted(DEVICES)),
    default=None,
    help="Hold this virtual device out: vocabulary and pretraining on the other devices, "
    f"evaluation (LOSO) on other simulated people recorded with it alone (dataset "
    f"{NEW_DEVICE_DATASET}). Refused on a lake that already holds that device (a plain "
    "quickstart's lake): give it a lake of its own with --lake.",
)
@_OUT
@run_options(quickstart_preset())
@click.pass_context
def quickstart_cmd(
    ctx: click.Context, subjects: int, new_device: str | None, out: Path, **options: Any
) -> None:
    """The whole pipeline on the built-in simulated corpus (several virtual devices)."""
    sim = {**QUICKSTART_SIM, "subjects": subjects}
    if new_device is None:
        cfg = configure(quickstart_preset("sim", "sim-myo8"), options)
        plan = lake_plan(context_lake(ctx), sim_options=sim)
    else:
        cfg = configure(quickstart_preset(NEW_DEVICE_DATASET), options)
        plan = new_device_plan(context_lake(ctx), new_device, sim)
    run_stages(plan, cfg, out, echo=click.echo)
