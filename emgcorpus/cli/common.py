"""What every command module shares: the lake default, the JSON printer and ``--json``
flag, ``key=value`` parsing, comma lists, the Dask options and click choices read from
the library's registries.

One place each, so every command prints JSON the same way, reads ``--option k=v`` /
``--param k=v`` with the same rules, and offers the names the registries hold (a new
adapter or tokenizer shows up in ``--help`` without touching the CLI).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from emgcorpus.errors import ConfigError
from emgcorpus.lake_location import lake_location

#: The lake folder when neither ``--lake`` nor ``$EMGCORPUS_LAKE`` is given.
DEFAULT_LAKE = "./emg-lake"
LAKE_ENV = "EMGCORPUS_LAKE"

F = TypeVar("F", bound=Callable[..., Any])


def default_lake() -> Path | str:
    """The lake: ``$EMGCORPUS_LAKE`` if set, else ``./emg-lake`` (a folder or an
    ``s3://`` URL, as :func:`emgcorpus.lake_location.lake_location` reads it)."""
    return lake_location(os.environ.get(LAKE_ENV, DEFAULT_LAKE))


def context_lake(ctx: click.Context) -> Path | str:
    """The lake of this invocation: the top-level ``--lake``, else :func:`default_lake`."""
    obj = ctx.find_root().obj
    lake = obj.get("lake") if isinstance(obj, dict) else None
    return lake_location(lake) if lake is not None else default_lake()


def echo_json(doc: Any) -> None:
    """Print ``doc`` as indented JSON (paths and other objects as their ``str``)."""
    click.echo(json.dumps(doc, indent=2, default=str))


def json_option(what: str = "the result") -> Callable[[F], F]:
    """The ``--json`` flag (parameter ``as_json``): print ``what`` as JSON instead of text."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as JSON.")


def echo_doc(doc: Any, as_json: bool, text: Callable[[], str]) -> None:
    """Print ``doc`` as JSON with ``--json``, else the text ``text()`` lays out."""
    if as_json:
        echo_json(doc)
    else:
        click.echo(text())


def dask_options(f: F) -> F:
    """``--scheduler`` and ``--dask-workers`` (parameters ``scheduler``, ``dask_workers``):
    where the Dask stages (vocabulary build, tokenizing) run."""
    f = click.option(
        "--dask-workers",
        type=int,
        default=None,
        help="Workers of the LocalCluster started when --scheduler is not given "
        "(default: one per core).",
    )(f)
    return click.option(
        "--scheduler",
        default=None,
        help="Dask scheduler address (tcp://host:port); 'sync' runs in this process; "
        "default: a LocalCluster started for this command.",
    )(f)


def parse_key_values(pairs: Iterable[str], option: str) -> dict[str, Any]:
    """``("a=3", "b=true", "c=")`` -> ``{"a": 3, "b": True, "c": ""}``.

    Values are YAML scalars (``3`` an int, ``true`` a bool, ``null`` None); an empty value is
    the empty string. A pair without ``=`` or without a key is a ConfigError naming ``option``.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} {pair!r}: expected key=value")
        try:
            out[key.strip()] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"{option} {pair!r}: value is not a YAML scalar ({exc})") from None
    return out


def split_names(values: Iterable[str]) -> list[str] | None:
    """Names from a repeatable option that also takes comma lists; None when there are none."""
    names = [v.strip() for item in values for v in item.split(",") if v.strip()]
    return names or None


class RegistryChoice(click.Choice):
    """A click choice whose names come from a registry, read when click needs them.

    The registry is asked at parse (and ``--help``) time, not at import, so the CLI does not
    import the libraries behind it before a command runs, and a name registered later (a
    test's fake adapter) is accepted.
    """

    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        self._names = names
        super().__init__((), case_sensitive=True)

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self._names())

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        """Ignored: the names always come from the registry."""


def adapter_choice() -> RegistryChoice:
    """The adapter names of :mod:`adapters.registry`."""

    def names() -> list[str]:
        from adapters.registry import adapter_names

        return adapter_names()

    return RegistryChoice(names)


def tokenizer_choice() -> RegistryChoice:
    """The tokenizer names of :mod:`vocab.tokenizers`."""

    def names() -> list[str]:
        from vocab.tokenizers import TOKENIZERS

        return sorted(TOKENIZERS)

    return RegistryChoice(names)


def constant_choice(module: str, attribute: str) -> RegistryChoice:
    """The names in ``module.attribute`` (a tuple constant such as
    ``emgcorpus.resample.METHODS``), imported when click needs them."""

    def names() -> list[str]:
        import importlib

        return list(getattr(importlib.import_module(module), attribute))

    return RegistryChoice(names)


def torch_device_option(default: str | None, help_text: str | None = None) -> Callable[[F], F]:
    """The ``--torch-device`` option (parameter ``torch_device``): where torch runs."""
    return click.option(
        "--torch-device",
        type=constant_choice("training.torch_device", "TORCH_DEVICES"),
        default=default,
        show_default=default is not None,
        help=help_text or "Torch device (cpu, cuda, or auto: cuda when available).",
    )
