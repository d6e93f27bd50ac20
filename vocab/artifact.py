"""Vocabularies as immutable, content-addressed artifacts.

A vocabulary is a folder of two files:

- ``vocab.json``: parameters, tokenizer config (name, version, params), the corpus it was
  compiled from (lake path and snapshot), the descriptor standardisation, the fit trace
  and usage statistics, and the sha256 of the codebook file. Serialised canonically
  (emgcorpus.canonical_json: sorted keys, fixed separators, no timestamps), so equal
  content gives equal bytes;
- ``codebook.npy``: the centroids, float32, shape (size, descriptor_dim), in the
  standardised descriptor space.

The vocabulary id is the first 16 hex digits of the sha256 of ``vocab.json`` (which
covers the codebook through its sha256). A store is a folder of ``<id>/`` folders; by
default ``<lake>/_vocab``. Saving writes a temporary folder and renames it atomically;
saving an id that exists verifies the bytes are identical and never overwrites.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emgcorpus.canonical_json import canonical_json
from emgcorpus.checksums import bytes_sha256
from emgcorpus.errors import ConfigError, LakeError
from emgcorpus.lake_location import local_side
from vocab.codebook import nearest_centroid, standardize, usable_rows
from vocab.tokenizer_base import KIND_ACTIVE, Segments, Tokenizer

FORMAT = "emgcorpus.vocabulary/1"
VOCAB_FILE = "vocab.json"
CODEBOOK_FILE = "codebook.npy"
ID_LENGTH = 16
STORE_DIRNAME = "_vocab"


def default_store(lake_path: str | Path) -> Path:
    """The vocabulary store of a lake: ``<lake>/_vocab`` (a remote lake's: local side)."""
    return local_side(lake_path) / STORE_DIRNAME


def npy_bytes(array: np.ndarray) -> bytes:
    """The .npy serialisation of ``array`` (deterministic for equal dtype/shape/values)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


@dataclass
class Vocabulary:
    """A compiled vocabulary: metadata (the content of vocab.json) and the codebook.

    ``meta`` keys: ``format``, ``tokenizer`` (name/version/params), ``params``, ``corpus``
    (lake, snapshot, recordings), ``standardization`` (mean, std lists), ``codebook``
    (file, sha256, shape, dtype), ``fit`` (inertia per iteration, ...), ``statistics``,
    ``tokens`` (special-token layout).
    """

    meta: dict[str, Any]
    codebook: np.ndarray  # float32 (size, dim), standardised space
    path: Path | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ identity
    def files(self) -> dict[str, bytes]:
        """The exact bytes of every file of the artifact."""
        codebook = npy_bytes(self.codebook.astype(np.float32))
        meta = dict(self.meta)
        meta["codebook"] = {
            "file": CODEBOOK_FILE,
            "sha256": bytes_sha256(codebook),
            "shape": [int(s) for s in self.codebook.shape],
            "dtype": "float32",
        }
        return {VOCAB_FILE: canonical_json(meta), CODEBOOK_FILE: codebook}

    @property
    def id(self) -> str:
        """Content address: 16 hex digits of sha256(vocab.json)."""
        return bytes_sha256(self.files()[VOCAB_FILE])[:ID_LENGTH]

    # ------------------------------------------------------------------ accessors
    @property
    def size(self) -> int:
        """Number of codes (not counting special and rest tokens)."""
        return int(self.codebook.shape[0])

    @property
    def mean(self) -> np.ndarray:
        return np.asarray(self.meta["standardization"]["mean"], dtype=np.float64)

    @property
    def std(self) -> np.ndarray:
        return np.asarray(self.meta["standardization"]["std"], dtype=np.float64)

    @property
    def snapshot(self) -> dict[str, int]:
        return dict(self.meta["corpus"]["snapshot"])

    @property
    def tokenizer_config(self) -> dict[str, Any]:
        return dict(self.meta["tokenizer"])

    @property
    def statistics(self) -> dict[str, Any]:
        return dict(self.meta.get("statistics", {}))

    @property
    def compiled_datasets(self) -> list[str]:
        """The datasets the codebook was fitted on (provenance; any dataset can be
        tokenized with it): ``params.datasets`` when the build selected some, else every
        dataset of its usage statistics (``statistics.per_dataset``)."""
        chosen = self.meta["params"].get("datasets")
        if chosen:
            return sorted(str(d) for d in chosen)
        return sorted(self.statistics.get("per_dataset", {}))

    def tokenizer(self) -> Tokenizer:
        """A tokenizer configured exactly as the one this vocabulary was compiled with."""
        from vocab.tokenizers import get_tokenizer

        cfg = self.tokenizer_config
        tok = get_tokenizer(cfg["name"], **cfg["params"])
        if tok.version != cfg["version"]:
            raise ConfigError(
                f"vocabulary {self.id} was compiled with tokenizer {cfg['name']} version "
                f"{cfg['version']}, but version {tok.version} is installed"
            )
        return tok

    @property
    def n_tokens(self) -> int:
        """Size of the whole token space (special + rest + code tokens)."""
        from emgcorpus.shards.special_tokens import vocab_size

        return int(vocab_size(self.size))

    # ------------------------------------------------------------------ encoding
    def assign_codes(self, descriptors: np.ndarray) -> np.ndarray:
        """Nearest code (0..size-1, int64) of each raw descriptor row; -1 for rows that
        cannot be coded (an infinite entry, or every entry NaN; see codebook.usable_rows)."""
        x = np.asarray(descriptors, dtype=np.float64)
        codes = np.full(x.shape[0], -1, np.int64)
        ok = usable_rows(x)
        if ok.any():
            z = standardize(x[ok], self.mean, self.std)
            codes[ok], _ = nearest_centroid(z, self.codebook)
        return codes

    def encode(self, segments: Segments) -> np.ndarray:
        """Token ids (int32) of ``segments``: active -> nearest code after standardisation,
        rest -> rest token by duration, active segments without a finite descriptor -> UNK.
        """
        from emgcorpus.shards.special_tokens import UNK, code_to_token, rest_tokens

        n = len(segments)
        out = np.full(n, UNK, np.int64)
        active = segments.kind == KIND_ACTIVE
        if active.any():
            codes = self.assign_codes(segments.descriptor[active])
            ids = np.full(codes.shape[0], UNK, np.int64)
            good = codes >= 0
            if good.any():
                ids[good] = np.asarray(code_to_token(codes[good]), dtype=np.int64)
            out[active] = ids
        rest = ~active
        if rest.any():
            out[rest] = np.asarray(rest_tokens(segments.duration_s[rest]), dtype=np.int64)
        return out.astype(np.int32)

    # ------------------------------------------------------------------ storage
    def save(self, store: str | Path) -> Path:
        """Write the artifact to ``<store>/<id>/`` atomically; return that folder.

        If the folder exists, its files must be byte-identical (then nothing is written);
        otherwise LakeError -- an artifact is never overwritten.
        """
        store = Path(store)
        files = self.files()
        vid = bytes_sha256(files[VOCAB_FILE])[:ID_LENGTH]
        target = store / vid
        if target.exists():
            _check_identical(target, files)
            self.path = target
            return target
        store.mkdir(parents=True, exist_ok=True)
        # os.mkdir (not tempfile.mkdtemp, which makes 0700) so the folder that is renamed
        # into place has the mode any mkdir gives it under the process umask
        tmp = store / f".tmp-{vid}-{secrets.token_hex(8)}"
        os.mkdir(tmp)
        try:
            for name, data in files.items():
                with open(tmp / name, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            try:
                os.rename(tmp, target)
            except OSError:
                # someone else won the race: theirs must be the same bytes
                if not target.exists():
                    raise
                _check_identical(target, files)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        self.path = target
        return target

    @classmethod
    def load(cls, store: str | Path, vocab_id: str) -> Vocabulary:
        """Load a vocabulary by id or unique id prefix; verifies the codebook sha256."""
        folder = resolve_id(store, vocab_id)
        meta_bytes = (folder / VOCAB_FILE).read_bytes()
        if bytes_sha256(meta_bytes)[:ID_LENGTH] != folder.name:
            raise LakeError(f"{folder / VOCAB_FILE}: content does not match its id {folder.name}")
        meta = json.loads(meta_bytes)
        cb_bytes = (folder / CODEBOOK_FILE).read_bytes()
        if bytes_sha256(cb_bytes) != meta["codebook"]["sha256"]:
            raise LakeError(
                f"{folder / CODEBOOK_FILE}: sha256 {bytes_sha256(cb_bytes)} differs from the "
                f"{meta['codebook']['sha256']} recorded in {VOCAB_FILE}"
            )
        codebook = np.load(io.BytesIO(cb_bytes), allow_pickle=False)
        return cls(meta=meta, codebook=codebook, path=folder)


def _check_identical(target: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = target / name
        if not path.exists() or path.read_bytes() != data:
            raise LakeError(
                f"{path}: vocabulary {target.name} already exists with different content; "
                "artifacts are immutable and are never overwritten"
            )


def _ids(store: Path) -> list[str]:
    if not store.is_dir():
        return []
    return sorted(
        p.name
        for p in store.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / VOCAB_FILE).exists()
    )


def resolve_id(store: str | Path, vocab_id: str) -> Path:
    """The folder of the vocabulary whose id is ``vocab_id`` or starts with it (unique)."""
    store = Path(store)
    if not vocab_id:
        raise ConfigError("vocabulary id must not be empty")
    matches = [i for i in _ids(store) if i.startswith(vocab_id.lower())]
    if not matches:
        raise LakeError(f"{store}: no vocabulary with id {vocab_id!r}")
    if len(matches) > 1:
        raise ConfigError(
            f"vocabulary id prefix {vocab_id!r} is ambiguous in {store}: "
            f"matches {', '.join(matches)}"
        )
    return store / matches[0]


def list_vocabularies(store: str | Path) -> list[dict[str, Any]]:
    """One summary dict per vocabulary in ``store``, sorted by id."""
    out = []
    for vid in _ids(Path(store)):
        meta = json.loads((Path(store) / vid / VOCAB_FILE).read_bytes())
        stats = meta.get("statistics", {})
        out.append(
            {
                "id": vid,
                "tokenizer": f"{meta['tokenizer']['name']}/{meta['tokenizer']['version']}",
                "size": meta["codebook"]["shape"][0],
                "descriptor_dim": meta["codebook"]["shape"][1],
                "snapshot": meta["corpus"]["snapshot"],
                "datasets": meta["params"].get("datasets"),
                "recordings": meta["corpus"].get("recordings"),
                "perplexity": stats.get("perplexity"),
                "dead_codes": stats.get("dead_codes"),
                "codes_multi_device": stats.get("codes_multi_device"),
            }
        )
    return out


def _dict_diff(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flat {dotted key: [a value, b value]} of the keys whose values differ."""
    out: dict[str, Any] = {}
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        name = f"{prefix}{key}"
        if isinstance(va, dict) and isinstance(vb, dict):
            out.update(_dict_diff(va, vb, name + "."))
        elif va != vb:
            out[name] = [va, vb]
    return out


def diff(a: Vocabulary, b: Vocabulary) -> dict[str, Any]:
    """Differences between two vocabularies: tokenizer, params, snapshot, statistics, codes.

    Code matching maps both codebooks back to raw descriptor units and measures them in
    ``a``'s standardised space: for each code of ``a`` its nearest code of ``b``; reports
    the distances and how many pairs are mutual nearest neighbours.
    """
    scalar_stats = ("size", "perplexity", "dead_codes", "codes_multi_device", "code_tokens")
    sa = {k: a.statistics.get(k) for k in scalar_stats}
    sb = {k: b.statistics.get(k) for k in scalar_stats}
    out: dict[str, Any] = {
        "a": a.id,
        "b": b.id,
        "tokenizer": _dict_diff(a.tokenizer_config, b.tokenizer_config),
        "params": _dict_diff(a.meta["params"], b.meta["params"]),
        "snapshot": _dict_diff(a.snapshot, b.snapshot),
        "statistics": _dict_diff(sa, sb),
    }
    if a.codebook.shape[1] != b.codebook.shape[1]:
        out["codes"] = {
            "comparable": False,
            "reason": f"descriptor dims differ: {a.codebook.shape[1]} vs {b.codebook.shape[1]}",
        }
        return out
    za = a.codebook.astype(np.float64)
    zb = b.codebook.astype(np.float64)
    if not (np.array_equal(a.mean, b.mean) and np.array_equal(a.std, b.std)):
        zb = standardize(zb * b.std + b.mean, a.mean, a.std)
    a_to_b, d2 = nearest_centroid(za, zb)
    b_to_a, _ = nearest_centroid(zb, za)
    mutual = int((b_to_a[a_to_b] == np.arange(a.size)).sum())
    dist = np.sqrt(d2)
    out["codes"] = {
        "comparable": True,
        "mutual_nearest_pairs": mutual,
        "identical_codes": int((za == zb[a_to_b]).all(axis=1).sum()),
        "distance_mean": round(float(dist.mean()), 6),
        "distance_median": round(float(np.median(dist)), 6),
        "distance_max": round(float(dist.max()), 6),
    }
    return out
