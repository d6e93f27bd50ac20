"""CLI: ``emgcorpus vocab build|ls|show|diff|report`` and ``emgcorpus tokenize``.

Thin click layer over :class:`vocab.compiler.VocabularyBuilder`, :mod:`vocab.artifact`,
:func:`vocab.report.write_report` and :mod:`vocab.shards`. The lake path comes from the
top-level ``--lake``; vocabularies live in ``<lake>/_vocab``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from emgcorpus.errors import ConfigError

_SCHEDULER_HELP = (
    "Dask scheduler address (tcp://host:port); 'sync' runs in this process; "
    "default: a LocalCluster started for this command."
)


def _echo_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=1, sort_keys=True, default=str))


def _lake(ctx: click.Context) -> Path:
    return Path(ctx.obj["lake"])


def _params(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param {pair!r}: expected key=value")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _split(values: tuple[str, ...]) -> list[str] | None:
    names = [v.strip() for item in values for v in item.split(",") if v.strip()]
    return names or None


@click.group("vocab")
def vocab_group() -> None:
    """Compile, list, compare and report vocabularies."""


@vocab_group.command("build")
@click.option("--tokenizer", type=click.Choice(["nct", "window"]), default="nct", show_default=True)
@click.option("--size", type=int, default=512, show_default=True, help="Number of codes.")
@click.option("--datasets", multiple=True, help="Dataset names (repeat or comma list).")
@click.option("--fs", type=float, default=None, help="Read recordings at this rate [Hz].")
@click.option("--scheduler", default=None, help=_SCHEDULER_HELP)
@click.option("--workers", type=int, default=None, help="LocalCluster workers (default: cores).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--iterations", type=int, default=20, show_default=True, help="Max Lloyd steps.")
@click.option("--sample-size", type=int, default=20000, show_default=True)
@click.option("--param", "param_pairs", multiple=True, help="Tokenizer parameter key=value.")
@click.option(
    "--descriptors",
    type=click.Choice(["spill", "memory", "recompute"]),
    default="spill",
    show_default=True,
    help="Between passes: spill descriptors to scratch files (bounded memory), keep them in "
    "worker memory, or recompute them every pass. Same vocabulary either way.",
)
@click.option(
    "--scratch",
    "scratch_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for spilled descriptors, visible to every worker [default: <lake>/_scratch]; "
    "the build's sub-folder in it is deleted when the build ends.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def build_cmd(
    ctx: click.Context,
    tokenizer: str,
    size: int,
    datasets: tuple[str, ...],
    fs: float | None,
    scheduler: str | None,
    workers: int | None,
    seed: int,
    iterations: int,
    sample_size: int,
    param_pairs: tuple[str, ...],
    descriptors: str,
    scratch_dir: Path | None,
    as_json: bool,
) -> None:
    """Compile a vocabulary from the lake with Dask."""
    from vocab.compiler import VocabularyBuilder

    vocab = VocabularyBuilder(
        _lake(ctx),
        tokenizer,
        size=size,
        datasets=_split(datasets),
        fs=fs,
        tokenizer_params=_params(param_pairs),
        seed=seed,
        iterations=iterations,
        sample_size=sample_size,
        scheduler=scheduler,
        n_workers=workers,
        descriptors=descriptors,
        scratch_dir=scratch_dir,
    ).build(progress=True)
    stats = vocab.statistics
    summary = {
        "id": vocab.id,
        "path": str(vocab.path),
        "size": vocab.size,
        "perplexity": stats["perplexity"],
        "dead_codes": stats["dead_codes"],
        "codes_multi_device": stats["codes_multi_device"],
        "recordings": vocab.meta["corpus"]["recordings"],
        "iterations": vocab.meta["fit"]["iterations_run"],
    }
    if as_json:
        _echo_json(summary)
        return
    click.echo(f"vocabulary {vocab.id} ({vocab.path})")
    for key in ("size", "recordings", "iterations", "perplexity", "dead_codes"):
        click.echo(f"  {key}: {summary[key]}")
    click.echo(f"  codes used by > 1 device: {summary['codes_multi_device']}")


@vocab_group.command("ls")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def ls_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the vocabularies of the lake."""
    from vocab.artifact import default_store, list_vocabularies

    rows = list_vocabularies(default_store(_lake(ctx)))
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no vocabularies (build one with `emgcorpus vocab build`)")
        return
    click.echo(f"{'id':<18}{'tokenizer':<12}{'size':>6}{'perplexity':>12}{'dead':>6}{'multi':>7}")
    for r in rows:
        click.echo(
            f"{r['id']:<18}{r['tokenizer']:<12}{r['size']:>6}{r['perplexity']:>12}"
            f"{r['dead_codes']:>6}{r['codes_multi_device']:>7}"
        )


@vocab_group.command("show")
@click.argument("vocab_id")
@click.option("--json", "as_json", is_flag=True, help="Print all of vocab.json.")
@click.pass_context
def show_cmd(ctx: click.Context, vocab_id: str, as_json: bool) -> None:
    """Show one vocabulary (id or unique prefix)."""
    from vocab.artifact import Vocabulary, default_store

    vocab = Vocabulary.load(default_store(_lake(ctx)), vocab_id)
    if as_json:
        _echo_json({"id": vocab.id, **vocab.meta})
        return
    s = vocab.statistics
    tok = vocab.tokenizer_config
    click.echo(f"vocabulary {vocab.id}  ({vocab.path})")
    click.echo(f"  tokenizer: {tok['name']} {tok['version']}  params: {tok['params']}")
    click.echo(f"  params: {vocab.meta['params']}")
    click.echo(f"  snapshot: {vocab.snapshot}")
    click.echo(f"  size: {vocab.size}  tokens: {vocab.n_tokens}  code tokens: {s['code_tokens']}")
    click.echo(f"  perplexity: {s['perplexity']}  dead codes: {s['dead_codes']}")
    click.echo(f"  codes used by > 1 device: {s['codes_multi_device']} of {s['size']}")
    for ds, d in s.get("per_dataset", {}).items():
        click.echo(f"  {ds}: {d['tokens_per_second']} tokens/s over {d['seconds']} s")


@vocab_group.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def diff_cmd(ctx: click.Context, a: str, b: str, as_json: bool) -> None:
    """Compare two vocabularies: parameters, snapshot, statistics, code matching."""
    from vocab.artifact import Vocabulary, default_store, diff

    store = default_store(_lake(ctx))
    d = diff(Vocabulary.load(store, a), Vocabulary.load(store, b))
    if as_json:
        _echo_json(d)
        return
    click.echo(f"a = {d['a']}   b = {d['b']}")
    for section in ("tokenizer", "params", "snapshot", "statistics"):
        if not d[section]:
            click.echo(f"{section}: same")
            continue
        click.echo(f"{section}:")
        for key, (va, vb) in d[section].items():
            click.echo(f"  {key}: {va} -> {vb}")
    click.echo(f"codes: {d['codes']}")


@vocab_group.command("report")
@click.argument("vocab_id")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output folder.")
@click.pass_context
def report_cmd(ctx: click.Context, vocab_id: str, out: Path | None) -> None:
    """Write an HTML report with PNG plots."""
    from vocab.report import write_report

    click.echo(str(write_report(_lake(ctx), vocab_id, out_dir=out)))


@click.command("tokenize")
@click.option("--vocab", "vocab_id", default=None, help="Vocabulary id (or unique prefix).")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Shard folder.")
@click.option(
    "--verify",
    "verify_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Verify a shard folder instead of tokenizing.",
)
@click.option("--max-rows", type=int, default=4096, show_default=True, help="Rows per shard.")
@click.option("--max-tokens", type=int, default=2048, show_default=True, help="Per sentence.")
@click.option("--scheduler", default=None, help=_SCHEDULER_HELP)
@click.option("--workers", type=int, default=None)
@click.pass_context
def tokenize_cmd(
    ctx: click.Context,
    vocab_id: str | None,
    out: Path | None,
    verify_dir: Path | None,
    max_rows: int,
    max_tokens: int,
    scheduler: str | None,
    workers: int | None,
) -> None:
    """Tokenize the lake into training shards, or verify a shard folder."""
    from vocab.shards import read_index, tokenize_lake, verify_shards

    if (vocab_id is None) == (verify_dir is None):
        raise ConfigError("tokenize needs exactly one of --vocab ID or --verify DIR")
    if verify_dir is not None:
        problems = verify_shards(verify_dir)
        for p in problems:
            click.echo(p)
        if problems:
            click.echo(f"{len(problems)} problem(s) in {verify_dir}", err=True)
            sys.exit(1)
        click.echo(f"{verify_dir}: ok")
        return
    assert vocab_id is not None
    folder = tokenize_lake(
        _lake(ctx),
        vocab_id,
        out_dir=out,
        max_rows_per_shard=max_rows,
        max_tokens_per_sentence=max_tokens,
        progress=True,
        scheduler=scheduler,
        n_workers=workers,
    )
    totals = read_index(folder)["totals"]
    click.echo(
        f"{folder}: {totals['shards']} shards, {totals['rows']} sentences, "
        f"{totals['tokens']} tokens from {totals['recordings']} recordings"
    )


def register(cli: click.Group) -> None:
    """Add the ``vocab`` group and the top-level ``tokenize`` command."""
    cli.add_command(vocab_group)
    cli.add_command(tokenize_cmd)
