"""One run config, composed of the configs of the stages it runs, and its presets.

A :class:`RunConfig` is what a whole run (``emgcorpus quickstart``, ``run``, ``train
reproduce``) needs besides where its data is (emgcorpus.runs.plans): the vocabulary
settings, the model sizes (training.model.ModelConfig), the pretraining parameters
(training.pretrain.PretrainConfig), the evaluation protocol (training.evaluate.EvalConfig)
and the Dask cluster of the vocabulary and tokenize stages.

Every knob has one default, in the config class that owns it. Where a run differs from
those defaults it says so in a preset: :func:`quickstart_preset` (also ``emgcorpus run``)
and :func:`reproduce_preset` (the real-data experiments) state each value they set, and
:func:`with_options` applies command-line options to a preset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from emgcorpus.errors import ConfigError
from emgcorpus.runs.plans import Target
from training.evaluate import EvalConfig
from training.model import DESC_FROM_SHARDS, ModelConfig
from training.pretrain import PretrainConfig
from training.windows import WindowSpec


@dataclass(frozen=True)
class VocabConfig:
    """What the vocabulary stage builds (arguments of vocab.compiler.VocabularyBuilder).

    ``size``/``window_size``: codes of the vocabulary the model reads and of the
    window-tokenizer vocabulary (built only for the ``window`` baseline). ``fs_hz``: rate
    [Hz] the lakes are harmonized to and the vocabularies read (None: native rates).
    ``sample_size``: descriptors that initialise the codebook (at least ``size``).
    ``tokenizer_params``: (name, value) pairs of ``tokenizer``'s parameters where they
    differ from its defaults (vocab.tokenizers; not the window baseline's).
    """

    tokenizer: str
    size: int
    window_size: int
    iterations: int
    sample_size: int
    fs_hz: float | None
    seed: int
    tokenizer_params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        from vocab.tokenizers import get_tokenizer

        get_tokenizer(self.tokenizer, **dict(self.tokenizer_params))  # ConfigError if unknown

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def params_text(self) -> str:
        """``tokenizer_params`` as ``key=value`` words ("" when there are none)."""
        return " ".join(f"{k}={v}" for k, v in self.tokenizer_params)


@dataclass(frozen=True)
class RunConfig:
    """Everything a run's stages are given (module docstring); build it from a preset.

    ``model.vocab_size`` stays VOCAB_FROM_SHARDS: pretraining takes the shards'.
    ``eval`` names what is evaluated (dataset, EMG device, sessions, window spec); a run on
    one lake fills in its ``subjects`` (the held-out ones). ``dask_scheduler``: None for a
    LocalCluster, ``sync`` for in-process, or a scheduler address; ``dask_workers``: the
    LocalCluster's workers (None: one per core).
    """

    vocab: VocabConfig
    model: ModelConfig
    pretrain: PretrainConfig
    eval: EvalConfig
    dask_scheduler: str | None = None
    dask_workers: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "vocab": self.vocab.to_dict(),
            "model": self.model.to_dict(),
            "pretrain": self.pretrain.to_dict(),
            "eval": self.eval.to_dict(),
            "dask_scheduler": self.dask_scheduler,
            "dask_workers": self.dask_workers,
        }


#: The baselines every preset evaluates beside the model (training.baselines.BASELINES).
PRESET_BASELINES = ("td-lda", "strong", "window")


#: the NCT parameters of every preset (training/RESULTS.md rows D2, D3 and D5): contractions
#: on above 2x / off below 1.5x the noise floor (the NCT's defaults: 3 / 2), +2.9 points
#: zero-shot on CIIL (p = 0.019) and +1.2 on Cote-Allard with PRESET_POOLING; each
#: channel's intensity against the recording's median floor (default: its own), +3.1
#: calibration / +1.5-2.1 few-shot on CIIL, level on Cote-Allard
PRESET_TOKENIZER_PARAMS: tuple[tuple[str, Any], ...] = (
    ("intensity_reference", "device"),
    ("off_ratio", 1.5),
    ("on_ratio", 2),
)

#: the probe features of every preset (training.embedding): the encoder's CLS and mean
#: output, and per electrode position the descriptors' levels and their pattern relative
#: to the window; on both real sets 2.5-4.9 points above ``channels-desc`` across people
#: (training/RESULTS.md row D1), on the held-out simulated device +8.4 zero-shot (row
#: D3-new-device); the quick start's seen device -1.3 zero-shot, +3-5 in the regimes that
#: see the person (row D5)
PRESET_POOLING = "cls-mean-desc"


def quickstart_preset(dataset: str = "sim", device: str | None = None) -> RunConfig:
    """The quick start's settings (also ``emgcorpus run``): the whole pipeline in a few
    minutes on 2 CPU cores.

    ``dataset``/``device``: the dataset (and EMG device) evaluated. Closed-form LDA probe
    and 60 boosting iterations keep the evaluation fast; 1000 pretraining steps; the model
    embeds each token's stored descriptor beside its id (issue 10: the largest measured
    lever, training/RESULTS.md); the NCT parameters and probe features are those of the
    real-data presets (PRESET_TOKENIZER_PARAMS, PRESET_POOLING; row D5).
    """
    return RunConfig(
        vocab=VocabConfig(
            tokenizer="nct",
            size=256,
            window_size=128,
            iterations=20,
            sample_size=20000,
            fs_hz=1000.0,
            seed=0,
            tokenizer_params=PRESET_TOKENIZER_PARAMS,
        ),
        model=ModelConfig(d_model=64, n_layers=2, n_heads=4, desc_dim=DESC_FROM_SHARDS),
        pretrain=PretrainConfig(
            steps=1000, batch_size=32, lr=3e-4, max_tokens=64, seed=0, torch_device="auto"
        ),
        eval=EvalConfig(
            dataset=dataset,
            device=device,
            few_shot=0.05,
            baselines=list(PRESET_BASELINES),
            model_window_s=1.0,
            strong_max_iter=60,
            probe="lda",
            pooling=PRESET_POOLING,
            seed=0,
            torch_device="auto",
        ),
    )


def reproduce_preset(target: Target) -> RunConfig:
    """The real-data experiments' settings (< 15 min on 2 CPU cores).

    ``target``: the experiment evaluated (its dataset, sessions, and whether its no-motion
    class is a class). Native rates, 10 codebook iterations, 300 pretraining steps of 64
    sentences at lr 1e-3, 100 boosting iterations, on the CPU with 2 Dask workers and 2
    fold workers (EvalConfig.fold_workers); the model embeds each token's stored descriptor
    beside its id, and its probe sees the encoder's CLS and mean output and per electrode
    position the descriptors' levels and their pattern relative to the window
    (PRESET_POOLING); contractions start above 2x the noise floor and end below 1.5x, and
    intensities are taken against the recording's median floor (PRESET_TOKENIZER_PARAMS,
    rows D2 and D3; the quick start has the same).
    """
    return RunConfig(
        vocab=VocabConfig(
            tokenizer="nct",
            size=256,
            window_size=256,
            iterations=10,
            sample_size=20000,
            fs_hz=None,
            seed=0,
            tokenizer_params=PRESET_TOKENIZER_PARAMS,
        ),
        model=ModelConfig(d_model=64, n_layers=2, n_heads=4, desc_dim=DESC_FROM_SHARDS),
        pretrain=PretrainConfig(
            steps=300, batch_size=64, lr=1e-3, max_tokens=64, seed=0, torch_device="cpu"
        ),
        eval=EvalConfig(
            dataset=target.dataset,
            sessions=list(target.sessions) if target.sessions else None,
            spec=WindowSpec(include_rest=target.include_rest),
            few_shot=0.05,
            baselines=list(PRESET_BASELINES),
            model_window_s=1.0,
            strong_max_iter=100,
            probe="lda",
            pooling=PRESET_POOLING,
            finetune_steps=0,
            seed=0,
            torch_device="cpu",
            fold_workers=2,
        ),
        dask_workers=2,
    )


#: command-line option of a run -> the (part, field) of RunConfig it sets ("" : RunConfig's own)
OPTION_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "fs_hz": (("vocab", "fs_hz"),),
    "vocab_size": (("vocab", "size"),),
    "tokenizer_params": (("vocab", "tokenizer_params"),),
    "d_model": (("model", "d_model"),),
    "n_layers": (("model", "n_layers"),),
    "desc_dim": (("model", "desc_dim"),),
    "pretrain_steps": (("pretrain", "steps"),),
    "baselines": (("eval", "baselines"),),
    "model_window_s": (("eval", "model_window_s"),),
    "finetune_steps": (("eval", "finetune_steps"),),
    "finetune_layers": (("eval", "finetune_layers"),),
    "finetune_lr": (("eval", "finetune_lr"),),
    "finetune_adapt": (("eval", "finetune_adapt"),),
    "pool_max": (("eval", "pool_max"),),
    "spatial_words": (("eval", "spatial_words"),),
    "strong_max_iter": (("eval", "strong_max_iter"),),
    "probe": (("eval", "probe"),),
    "pooling": (("eval", "pooling"),),
    "torch_device": (("pretrain", "torch_device"), ("eval", "torch_device")),
    "seed": (("vocab", "seed"), ("pretrain", "seed"), ("eval", "seed")),
    "dask_scheduler": (("", "dask_scheduler"),),
    "dask_workers": (("", "dask_workers"),),
}


def with_options(config: RunConfig, **options: Any) -> RunConfig:
    """``config`` with the given options of OPTION_FIELDS set (None: keep the preset's).

    ``fs_hz`` 0 means native rates; ``torch_device`` sets pretraining's and evaluation's,
    ``seed`` every stage's. ConfigError for a name OPTION_FIELDS does not have.
    """
    parts: dict[str, Any] = {
        "vocab": config.vocab,
        "model": config.model,
        "pretrain": config.pretrain,
        "eval": config.eval,
    }
    own: dict[str, Any] = {}
    for name, value in options.items():
        if name not in OPTION_FIELDS:
            raise ConfigError(f"unknown run option {name!r}: expected one of {list(OPTION_FIELDS)}")
        if value is None:
            continue
        if name == "fs_hz":
            value = float(value) if value else None
        if name == "baselines":
            value = list(value)
        for part, fld in OPTION_FIELDS[name]:
            if part:
                parts[part] = replace(parts[part], **{fld: value})
            else:
                own[fld] = value
    return replace(config, **parts, **own)
