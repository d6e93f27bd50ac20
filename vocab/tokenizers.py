"""Registry of tokenizers by name: ``get_tokenizer("nct")``, ``get_tokenizer("window")``."""

from __future__ import annotations

from typing import Any

from emgcorpus.errors import ConfigError
from vocab.nct import NCTTokenizer
from vocab.tokenizer_base import Tokenizer
from vocab.window import WindowTokenizer

TOKENIZERS: dict[str, type[Tokenizer]] = {
    NCTTokenizer.name: NCTTokenizer,
    WindowTokenizer.name: WindowTokenizer,
}


def get_tokenizer(name: str, **params: Any) -> Tokenizer:
    """A tokenizer by registry name with ``params`` overriding its defaults."""
    cls = TOKENIZERS.get(name)
    if cls is None:
        raise ConfigError(f"unknown tokenizer {name!r}: expected one of {sorted(TOKENIZERS)}")
    return cls(**params)


def tokenizer_from_config(config: dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer from ``Tokenizer.config()``; the version must match this code's."""
    try:
        name, version, params = config["name"], config["version"], config.get("params", {})
    except (KeyError, TypeError):
        raise ConfigError(f"tokenizer config needs 'name' and 'version', got {config!r}") from None
    tok = get_tokenizer(name, **params)
    if str(version) != tok.version:
        raise ConfigError(
            f"tokenizer {name!r} version {version!r} was recorded, but this code is version "
            f"{tok.version!r}: its output would differ"
        )
    return tok
