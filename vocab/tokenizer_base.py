"""The interface every tokenizer implements, and the segment table it returns.

A tokenizer works in two stages so that a vocabulary can be compiled across devices:

1. ``segment(x, fs, channels)`` cuts one recording into *segments* (contractions, their
   fixed-length sub-steps, rest periods; or fixed windows for the baseline tokenizer) and
   gives each non-rest segment a device-independent *descriptor* vector;
2. a codebook (see vocab.codebook) maps descriptors to code ids; rest segments become
   rest tokens by duration. Token ids are laid out by emgcorpus.shards.special_tokens.

Units: ``x`` is float physical samples, shape (n_samples, n_channels); ``fs`` in Hz;
segment ``onset_s``/``duration_s`` in seconds from the recording's first sample.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from emgcorpus.errors import ConfigError
from emgcorpus.recording import ChannelInfo

#: Segment kinds.
KIND_ACTIVE = 0  # a contraction (or one fixed sub-step of a long one) / an active window
KIND_REST = 1  # a rest period: tokenized by its duration, carries no descriptor


@dataclass
class Segments:
    """Column arrays, one entry per segment, sorted by (onset_s, channel).

    ``channel`` is the index into the recording's channel list; ``-1`` for segments that
    span all channels (window tokenizer). ``descriptor`` has shape (n_segments, dim);
    rows of rest segments are NaN.
    """

    channel: np.ndarray  # int32
    onset_s: np.ndarray  # float64
    duration_s: np.ndarray  # float32
    kind: np.ndarray  # int8, KIND_ACTIVE or KIND_REST
    descriptor: np.ndarray  # float32 (n, dim)

    def __len__(self) -> int:
        return int(self.channel.shape[0])

    @classmethod
    def empty(cls, dim: int) -> Segments:
        return cls(
            channel=np.zeros(0, np.int32),
            onset_s=np.zeros(0, np.float64),
            duration_s=np.zeros(0, np.float32),
            kind=np.zeros(0, np.int8),
            descriptor=np.zeros((0, dim), np.float32),
        )


#: One recording as a tokenizer reads it: samples (n_samples, n_channels), rate [Hz], channels.
Recorded = tuple[np.ndarray, float, list[ChannelInfo]]


class Tokenizer(ABC):
    """Base class of tokenizers; ``params`` holds every parameter (with its unit in its name)."""

    name: ClassVar[str]
    version: ClassVar[str]

    #: how parameter errors name this tokenizer (e.g. ``NCT``)
    label: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        defaults = self.default_params()
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise ConfigError(
                f"unknown {self.label or self.name} parameter(s) {unknown}: "
                f"expected some of {sorted(defaults)}"
            )
        self.params: dict[str, Any] = {**defaults, **params}

    @classmethod
    @abstractmethod
    def default_params(cls) -> dict[str, Any]:
        """Every parameter with its default; names carry units (``min_duration_ms``)."""

    @property
    @abstractmethod
    def descriptor_dim(self) -> int:
        """Length of one descriptor vector."""

    @abstractmethod
    def segment(
        self,
        x: np.ndarray,
        fs: float,
        channels: list[ChannelInfo],
        noise_floor: np.ndarray | None = None,
    ) -> Segments:
        """Segment one recording and describe its active segments (see module docstring).

        ``noise_floor`` (optional, one value per channel, physical units): a floor computed
        over more than this recording (its session); tokenizers without a floor ignore it.
        """

    def session_levels(
        self, n: int, load: Callable[[int], Recorded]
    ) -> dict[str, list[np.ndarray]] | None:
        """What the ``n`` recordings of (a part of) a session contribute to the session's
        noise floors: per channel name, a list of arrays to pool (see pool_floors).

        ``None`` (the default): the tokenizer has no session floor. The compiler calls
        this for sessions cut over several partitions, pools the parts over the whole
        session and hands the floors to segment_session, so tokens do not depend on how
        the recordings were partitioned.
        """
        return None

    def pool_floors(self, levels: dict[str, list[np.ndarray]]) -> dict[str, float]:
        """The session floors (per channel name) from the merged session_levels of all
        of a session's recordings. The default: no floors."""
        return {}

    def segment_session(
        self,
        n: int,
        load: Callable[[int], Recorded],
        floors: dict[str, float] | None = None,
    ) -> Iterator[Segments]:
        """Segment the ``n`` recordings of one session (same subject, session and device),
        in order; ``load(i)`` returns recording ``i`` as ``(x, fs, channels)``.

        ``floors``: the session's floors per channel name, pooled over the whole session
        by the caller (pool_floors) when the session spans several partitions; ``None``:
        pool them over these ``n`` recordings.

        The default segments them one at a time; a tokenizer with a noise floor overrides
        it to share one floor per channel across the session (vocab.nct).
        """
        for i in range(n):
            x, fs, channels = load(i)
            yield self.segment(x, fs, channels)

    def config(self) -> dict[str, Any]:
        """Name, version and parameters: what a vocabulary records about its tokenizer."""
        return {"name": self.name, "version": self.version, "params": dict(self.params)}
