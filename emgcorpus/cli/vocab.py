"""CLI: ``emgcorpus vocab build|ls|show|diff|report`` and ``emgcorpus tokenize``.

Thin click layer over :class:`vocab.compiler.VocabularyBuilder`, :mod:`vocab.artifact`,
:func:`vocab.vocab_report.write_vocab_report`, :func:`vocab.tokenize.tokenize_lake` and
:func:`emgcorpus.shards.verify.verify_shards`; the text comes from :mod:`vocab.describe`.
The lake path comes from the top-level ``--lake``; vocabularies live in ``<lake>/_vocab``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from emgcorpus.cli.common import (
    constant_choice,
    context_lake,
    dask_options,
    echo_doc,
    echo_json,
    json_option,
    parse_key_values,
    split_names,
    tokenizer_choice,
)
from emgcorpus.errors import ConfigError


@click.group("vocab")
def vocab_group() -> None:
    """Compile, list, compare and report vocabularies."""


@vocab_group.command("build")
@click.option(
    "--tokenizer",
    type=tokenizer_choice(),
    default="nct",
    show_default=True,
    help="Registered tokenizer that cuts recordings into segments and describes them.",
)
@click.option("--size", type=int, default=512, show_default=True, help="Number of codes.")
@click.option(
    "--datasets", multiple=True, help="Only these datasets (repeat or comma list; default: all)."
)
@click.option(
    "--fs",
    type=float,
    default=None,
    help="Read recordings at this rate [Hz] (default: native rates).",
)
@dask_options
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of sampling and initialisation."
)
@click.option("--iterations", type=int, default=20, show_default=True, help="Max Lloyd steps.")
@click.option(
    "--sample-size",
    type=int,
    default=20000,
    show_default=True,
    help="Descriptors sampled (by hash) to initialise the codebook.",
)
@click.option(
    "--param",
    "param_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Tokenizer parameter (repeatable; the value is read as YAML).",
)
@click.option(
    "--descriptors",
    type=constant_choice("vocab.compiler", "DESCRIPTOR_MODES"),
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
@click.option(
    "--segment-cache/--no-segment-cache",
    default=True,
    show_default=True,
    help="With --descriptors spill: also keep every segment in <lake>/_cache/segments, so "
    "tokenize does not segment the same recordings again.",
)
@json_option("the summary")
@click.pass_context
def build_cmd(
    ctx: click.Context,
    tokenizer: str,
    size: int,
    datasets: tuple[str, ...],
    fs: float | None,
    scheduler: str | None,
    dask_workers: int | None,
    seed: int,
    iterations: int,
    sample_size: int,
    param_pairs: tuple[str, ...],
    descriptors: str,
    scratch_dir: Path | None,
    segment_cache: bool,
    as_json: bool,
) -> None:
    """Compile a vocabulary from the lake with Dask."""
    from vocab.compiler import VocabularyBuilder
    from vocab.describe import build_summary, format_build_summary

    vocab = VocabularyBuilder(
        context_lake(ctx),
        tokenizer,
        size=size,
        datasets=split_names(datasets),
        fs=fs,
        tokenizer_params=parse_key_values(param_pairs, "--param"),
        seed=seed,
        iterations=iterations,
        sample_size=sample_size,
        scheduler=scheduler,
        n_workers=dask_workers,
        descriptors=descriptors,
        scratch_dir=scratch_dir,
        segment_cache=segment_cache,
    ).build(progress=True)
    summary = build_summary(vocab)
    echo_doc(summary, as_json, lambda: format_build_summary(summary))


@vocab_group.command("ls")
@json_option("the list")
@click.pass_context
def ls_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the vocabularies of the lake."""
    from vocab.artifact import default_store, list_vocabularies
    from vocab.describe import format_vocabulary_list

    rows = list_vocabularies(default_store(context_lake(ctx)))
    echo_doc(rows, as_json, lambda: format_vocabulary_list(rows))


@vocab_group.command("show")
@click.argument("vocab_id")
@json_option("all of vocab.json")
@click.pass_context
def show_cmd(ctx: click.Context, vocab_id: str, as_json: bool) -> None:
    """Show one vocabulary (id or unique prefix)."""
    from vocab.artifact import Vocabulary, default_store
    from vocab.describe import format_vocabulary, vocabulary_document

    vocab = Vocabulary.load(default_store(context_lake(ctx)), vocab_id)
    echo_doc(vocabulary_document(vocab), as_json, lambda: format_vocabulary(vocab))


@vocab_group.command("diff")
@click.argument("a")
@click.argument("b")
@json_option("the comparison")
@click.pass_context
def diff_cmd(ctx: click.Context, a: str, b: str, as_json: bool) -> None:
    """Compare two vocabularies: parameters, snapshot, statistics, code matching."""
    from vocab.artifact import Vocabulary, default_store, diff
    from vocab.describe import format_diff

    store = default_store(context_lake(ctx))
    d = diff(Vocabulary.load(store, a), Vocabulary.load(store, b))
    echo_doc(d, as_json, lambda: format_diff(d))


@vocab_group.command("report")
@click.argument("vocab_id")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (default: <lake>/_vocab_reports/<vocabulary id>).",
)
@json_option("the vocabulary id, the report's HTML path and its files")
@click.pass_context
def report_cmd(ctx: click.Context, vocab_id: str, out: Path | None, as_json: bool) -> None:
    """Write an HTML report with PNG plots."""
    from vocab.artifact import Vocabulary, default_store
    from vocab.vocab_report import write_vocab_report

    lake = context_lake(ctx)
    html = write_vocab_report(lake, vocab_id, out_dir=out)
    doc = {
        "vocab_id": Vocabulary.load(default_store(lake), vocab_id).id,
        "html": str(html),
        "folder": str(html.parent),
        "files": sorted(p.name for p in html.parent.iterdir() if p.is_file()),
    }
    echo_doc(doc, as_json, lambda: str(html))


@click.command("tokenize")
@click.option("--vocab", "vocab_id", default=None, help="Vocabulary id (or unique prefix).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Shard folder (default: <lake>/_shards/<vocabulary id>).",
)
@click.option(
    "--verify",
    "verify_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Verify a shard folder instead of tokenizing.",
)
@click.option(
    "--datasets",
    multiple=True,
    help="Only these datasets of the lake (repeat or comma list; default: every dataset, "
    "whatever the vocabulary was compiled on).",
)
@click.option(
    "--vocab-store",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Vocabulary store to load --vocab from, e.g. another lake's <lake>/_vocab "
    "[default: <lake>/_vocab].",
)
@click.option("--max-rows", type=int, default=4096, show_default=True, help="Rows per shard.")
@click.option(
    "--max-tokens", type=int, default=2048, show_default=True, help="Tokens per sentence."
)
@dask_options
@click.option(
    "--segment-cache/--no-segment-cache",
    default=True,
    show_default=True,
    help="Read the segments from the lake's segment cache when the vocabulary build of this "
    "snapshot and these recordings wrote one (the same shards, no segmentation).",
)
@json_option("the shard folder, vocabulary id and totals (with --verify: the problems)")
@click.pass_context
def tokenize_cmd(
    ctx: click.Context,
    vocab_id: str | None,
    out: Path | None,
    verify_dir: Path | None,
    datasets: tuple[str, ...],
    vocab_store: Path | None,
    max_rows: int,
    max_tokens: int,
    scheduler: str | None,
    dask_workers: int | None,
    segment_cache: bool,
    as_json: bool,
) -> None:
    """Tokenize the lake into training shards, or verify a shard folder.

    Every dataset of the lake is tokenized unless --datasets selects some: the datasets
    a vocabulary was compiled on are recorded, they do not filter.
    """
    from emgcorpus.shards.index import read_index
    from emgcorpus.shards.verify import verify_shards
    from vocab.describe import format_shard_totals
    from vocab.tokenize import tokenize_lake

    if (vocab_id is None) == (verify_dir is None):
        raise ConfigError("tokenize needs exactly one of --vocab ID or --verify DIR")
    if verify_dir is not None:
        problems = verify_shards(verify_dir)
        if as_json:
            echo_json({"folder": str(verify_dir), "ok": not problems, "problems": problems})
        else:
            for p in problems:
                click.echo(p)
            if problems:
                click.echo(f"{len(problems)} problem(s) in {verify_dir}", err=True)
            else:
                click.echo(f"{verify_dir}: ok")
        if problems:
            sys.exit(1)
        return
    assert vocab_id is not None
    folder = tokenize_lake(
        context_lake(ctx),
        vocab_id,
        out_dir=out,
        max_rows_per_shard=max_rows,
        max_tokens_per_sentence=max_tokens,
        progress=not as_json,
        scheduler=scheduler,
        n_workers=dask_workers,
        store=vocab_store,
        datasets=split_names(datasets),
        segment_cache=segment_cache,
    )
    if as_json:
        index = read_index(folder)
        echo_json(
            {
                "folder": str(folder),
                "vocab_id": index["vocab_id"],
                "datasets": index["datasets"],
                "vocab_datasets": index["vocab_datasets"],
                "totals": index["totals"],
            }
        )
    else:
        click.echo(format_shard_totals(folder))
