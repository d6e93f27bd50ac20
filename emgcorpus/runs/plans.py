"""Where a run's data comes from, where its shards go, and which subjects it evaluates.

Three kinds of :class:`DataPlan`:

- one lake (:func:`lake_plan`: ``emgcorpus run`` on a user's lake, ``emgcorpus
  quickstart`` on the built-in simulated corpus). The evaluation dataset's subjects are
  sorted and the last ``eval_fraction`` of them are the evaluation subjects (at least 3,
  the LOSO minimum); the vocabulary build and pretraining see every other subject of
  every dataset and never an evaluation subject. Shards live in the lake (``_shards/``),
  where ``emgcorpus vocab ls`` finds them with their vocabularies (``_vocab/``).
- one lake, transfer (:func:`lake_plan` with ``transfer=True``: ``emgcorpus run
  --transfer``, "does the vocabulary transfer to a dataset it never saw?"). The
  vocabularies are compiled and the model pretrained on every *other* dataset of the
  lake; the evaluation dataset is tokenized with them (the shards hold every dataset) and
  every one of its subjects is evaluated (LOSO).
- two lakes (:func:`experiment_plan`: ``emgcorpus train reproduce``). The target dataset
  is kept out of everything the model learns before evaluation, by construction: every
  *other* real dataset of the data folder is ingested into ``<out>/pretrain-lake`` (the
  target's whole release is left out), only the target's evaluated part into
  ``<out>/target-lake``; the vocabularies are built on the pretrain lake only and both
  lakes are tokenized with them into ``<out>/shards-*``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from adapters.sim_devices import DEVICES, sim_lake_device
from emgcorpus.errors import ConfigError, SourceError
from emgcorpus.lake import Lake
from emgcorpus.lake_location import lake_location
from emgcorpus.lake_writer import META_DIR

#: The simulated corpus of the quick start: 8 people, 4 virtual devices, 5 gestures.
QUICKSTART_SIM: dict[str, Any] = {
    "subjects": 8,
    "sessions": 1,
    "gestures": 5,
    "repetitions": 3,
    "contraction_s": 3.0,
    "rest_s": 2.0,
    "seed": 0,
}

#: Share of a one-lake run's evaluation dataset whose subjects are held out (the last ones).
DEFAULT_EVAL_FRACTION = 0.5

#: (adapter, folder under the data root, dataset name) of every real set the experiments use.
SOURCES: tuple[tuple[str, str, str], ...] = (
    ("cote-allard", "cote_allard_myo/PreTrainingDataset", "cote-allard"),
    ("ciil", "ciil_myo", "ciil"),
    ("flexemg", "flexemg_hd64", "flexemg"),
    ("grabmyo", "grabmyo_p1", "grabmyo"),
    ("wfdb", "physionet_emgdb", "physionet_emgdb"),
    ("otb", "openhdemg_otb", "otb"),
)

#: Folders of a two-lake run below its output folder.
PRETRAIN_LAKE = "pretrain-lake"
TARGET_LAKE = "target-lake"


@dataclass(frozen=True)
class Target:
    """The evaluation set of one experiment."""

    name: str
    adapter: str
    folder: str  # under the data root: the part that is evaluated
    dataset: str  # dataset name in the lake (also the name left out of pretraining)
    sessions: tuple[str, ...] | None  # evaluate only these sessions (None: all)
    reference_td_lda: float  # TD+LDA per-window accuracy measured once on these files
    #: the release's no-motion class (stored as ``rest`` events) is one of its classes
    include_rest: bool = True


TARGETS: dict[str, Target] = {
    "ciil": Target(
        "ciil", "ciil", "ciil_myo/ElectrodeShift", "ciil", ("training",), reference_td_lda=0.716
    ),
    "cote-allard": Target(
        "cote-allard",
        "cote-allard",
        "cote_allard_myo/PreTrainingDataset",
        "cote-allard",
        None,
        reference_td_lda=0.827,
    ),
}


@dataclass(frozen=True)
class IngestSpec:
    """One ingest of the ingest stage: ``adapter`` reading ``source`` into ``lake``."""

    lake: Path | str
    adapter: str
    source: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataPlan:
    """The data side of a run (module docstring).

    ``eval_fraction``: one-lake runs hold out that share of the evaluation dataset's
    subjects (and pretrain without them); None when the lakes are separate (every subject
    of the evaluation lake is evaluated, pretraining excludes nobody). ``transfer``: one
    lake whose evaluation dataset is left out of the vocabulary build and pretraining
    whole, and evaluated on every subject (``eval_fraction`` is then None). ``shards_dir``: None
    for shards in the lakes, else the folder that holds ``shards-pretrain``,
    ``shards-target`` and ``shards-window``. ``target``: the experiment, if any.
    """

    pretrain_lake: Path | str
    eval_lake: Path | str
    ingests: tuple[IngestSpec, ...] = ()
    eval_fraction: float | None = DEFAULT_EVAL_FRACTION
    shards_dir: Path | None = None
    target: Target | None = None
    transfer: bool = False

    def shard_dest(self, role: str) -> Path | None:
        """Folder for the shards of ``role`` (pretrain, target, window); None: in the lake."""
        return None if self.shards_dir is None else self.shards_dir / f"shards-{role}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "pretrain_lake": str(self.pretrain_lake),
            "eval_lake": str(self.eval_lake),
            "ingests": [
                {"lake": str(i.lake), "adapter": i.adapter, "source": i.source}
                for i in self.ingests
            ],
            "eval_fraction": self.eval_fraction,
            "transfer": self.transfer,
            "target": asdict(self.target) if self.target else None,
        }


def lake_plan(
    lake: str | Path,
    eval_fraction: float = DEFAULT_EVAL_FRACTION,
    *,
    sim_options: dict[str, Any] | None = None,
    transfer: bool = False,
) -> DataPlan:
    """A one-lake run on ``lake``; with ``sim_options`` the built-in simulated corpus is
    ingested first (idempotent). ``transfer``: the evaluation dataset is left out of the
    vocabulary and pretraining whole (module docstring; ``eval_fraction`` is not used)."""
    lake = lake_location(lake)  # a folder, or an s3:// URL kept as it is
    ingests = (IngestSpec(lake, "sim", "builtin", dict(sim_options)),) if sim_options else ()
    if transfer:
        return DataPlan(lake, lake, ingests, None, transfer=True)
    return DataPlan(lake, lake, ingests, eval_fraction)


#: Dataset of the simulated people recorded with the device a ``quickstart --new-device`` run
#: holds out (:func:`new_device_plan`).
NEW_DEVICE_DATASET = "sim-new-device"


def new_device_plan(
    lake: str | Path, device: str, sim_options: dict[str, Any], new_subjects: int | None = None
) -> DataPlan:
    """The quick start with ``device`` (one of adapters.sim_devices.DEVICES) held out: a
    device *and* people that the vocabulary and the model never saw.

    The people of ``sim_options`` recorded with every *other* virtual device go into the
    dataset ``sim`` (vocabulary and pretraining); ``new_subjects`` other people (the next
    seed; default as many) recorded with ``device`` alone into :data:`NEW_DEVICE_DATASET`,
    which a transfer run evaluates LOSO on every one of them. ConfigError for an unknown
    device or one that leaves no other, and when the lake already holds recordings of
    ``device`` in another dataset (a plain ``quickstart`` records every simulated device
    into ``sim``): the vocabulary and pretraining, which read every other dataset, would
    have seen the "new" device.
    """
    if device not in DEVICES:
        raise ConfigError(f"unknown simulated device {device!r}: expected one of {list(DEVICES)}")
    others = [d for d in DEVICES if d != device]
    if not others:
        raise ConfigError(f"holding out {device!r} leaves no simulated device to pretrain on")
    lake = lake_location(lake)
    recs = _recordings_in(lake)
    if recs is not None:
        held = recs.filter(recs["device"] == sim_lake_device(device))
        leaked = sorted(set(held["dataset"].to_list()) - {NEW_DEVICE_DATASET})
        if leaked:
            raise ConfigError(
                f"{lake} already holds recordings of device {sim_lake_device(device)!r} in "
                f"dataset(s) {leaked} (an earlier quickstart records every simulated "
                "device): the vocabulary and pretraining would see the device this run "
                "holds out. Give the run a lake of its own, e.g. "
                f"emgcorpus --lake emg-lake-{device} quickstart --new-device {device}"
            )
    seen = {**sim_options, "devices": ",".join(others)}
    new = {
        **sim_options,
        "devices": device,
        "seed": int(sim_options.get("seed", 0)) + 1,
        "subjects": int(new_subjects or sim_options.get("subjects", 8)),
        "dataset": NEW_DEVICE_DATASET,
    }
    ingests = (IngestSpec(lake, "sim", "builtin", seen), IngestSpec(lake, "sim", "builtin", new))
    return DataPlan(lake, lake, ingests, None, transfer=True)


def target(name: str) -> Target:
    """The experiment ``name`` of TARGETS (ConfigError if unknown)."""
    if name not in TARGETS:
        raise ConfigError(f"unknown experiment {name!r}: expected one of {sorted(TARGETS)}")
    return TARGETS[name]


def experiment_plan(
    target_name: str,
    data_root: str | Path,
    out_dir: str | Path,
    sim_options: dict[str, Any] | None = None,
) -> DataPlan:
    """The two-lake run of experiment ``target_name`` on the sets below ``data_root``.

    ``sim_options``: the built-in simulated corpus (adapter ``sim``, dataset ``sim``) is
    ingested into the pretrain lake too, beside the real sets (vocabulary and pretraining;
    never the target lake). SourceError when the target's folder is missing or no other set
    is there to pretrain on (the simulated corpus alone does not count).
    """
    folders = experiment_folders(target_name, out_dir)
    tgt, data = folders.target, Path(data_root)
    assert tgt is not None
    if not (data / tgt.folder).is_dir():
        raise SourceError(data / tgt.folder, "target data folder not found")
    ingests = [
        IngestSpec(folders.pretrain_lake, adapter, str(data / folder))
        for adapter, folder, dataset in SOURCES
        if dataset != tgt.dataset and (data / folder).exists()
    ]
    if not ingests:
        raise SourceError(data, "no pretraining dataset found beside the target")
    if sim_options:
        ingests.append(IngestSpec(folders.pretrain_lake, "sim", "builtin", dict(sim_options)))
    elif SIM_DATASET in _datasets_in(Path(folders.pretrain_lake)):
        raise ConfigError(
            f"{folders.pretrain_lake} holds the simulated corpus of an earlier run with it "
            "(--sim-subjects); give that option again, or another run folder (--out)"
        )
    ingests.append(IngestSpec(folders.eval_lake, tgt.adapter, str(data / tgt.folder)))
    return replace(folders, ingests=tuple(ingests))


#: Dataset name of the built-in simulated corpus (adapter ``sim``'s default).
SIM_DATASET = "sim"


def _recordings_in(lake: Path | str) -> Any:
    """The recordings table of the lake at ``lake`` (a folder); None when there is no lake
    there yet or ``lake`` is a URL (object stores are not looked into before a run)."""
    if isinstance(lake, str) or not (lake / META_DIR / "snapshot.json").is_file():
        return None
    return Lake.open(lake).recordings()


def _datasets_in(lake: Path) -> set[str]:
    """Datasets of the lake at ``lake``; empty when there is no lake there yet."""
    recs = _recordings_in(lake)
    return set() if recs is None else set(recs["dataset"].to_list())


def experiment_folders(target_name: str, out_dir: str | Path) -> DataPlan:
    """The lakes and shard folders of experiment ``target_name``'s run folder ``out_dir``,
    without ingests (what a finished run holds; see :func:`experiment_plan`)."""
    tgt, out = target(target_name), Path(out_dir)
    return DataPlan(out / PRETRAIN_LAKE, out / TARGET_LAKE, (), None, out, tgt)


def split_subjects(subjects: list[str], eval_fraction: float) -> tuple[list[str], list[str]]:
    """Sorted ``subjects`` -> (pretraining, evaluation): the last ``eval_fraction`` evaluate.

    At least 3 subjects are evaluated (LOSO needs two to train a probe and one to test) and
    at least one is left for pretraining; ConfigError when that is impossible.
    """
    ordered = sorted(set(subjects))
    if not 0 < eval_fraction < 1:
        raise ConfigError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
    n_eval = max(3, math.ceil(len(ordered) * eval_fraction))
    if len(ordered) - n_eval < 1:
        raise ConfigError(
            f"{len(ordered)} subjects: need at least 4 (3 to evaluate, 1 to pretrain on)"
        )
    return ordered[:-n_eval], ordered[-n_eval:]
