"""Writers of tiny Côté-Allard release folders in the original layout and format.

``<part>/<Subject>/<session>/classe_<i>.dat``: headerless little-endian int16, 8 channels
interleaved (``np.fromfile(f, "<i2").reshape(-1, 8)``), i in 0..27; ``<part>/<Subject>/
experiment.csv`` with rows ``Sex,<F|M>,,`` / ``Age,<years>,,`` / ``Circumference,,<cm>,``
as in the public repository (github.com/UlysseCoteAllard/MyoArmbandDataset).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

N_FILES = 28


def write_session(folder: Path, n_samples: int = 24, seed: int = 0) -> dict[int, np.ndarray]:
    """Write ``classe_0.dat`` .. ``classe_27.dat``; return index -> samples (n, 8) int16."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for i in range(N_FILES):
        x = rng.integers(-128, 128, size=(n_samples + i, 8)).astype("<i2")
        x.tofile(folder / f"classe_{i}.dat")
        written[i] = x
    return written


def write_experiment_csv(subject_dir: Path, sex: str, age: int, circumference: int) -> Path:
    path = subject_dir / "experiment.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"Sex,{sex},,\nAge,{age},,\nCircumference,,{circumference},\nDegree,Bachelor,,\n"
        "TimeMyo,,51.87,45.87\n",
        encoding="utf-8",
    )
    return path


#: (part folder, subject, sessions, sex, age, circumference [cm])
LAYOUT = (
    ("EvaluationDataset", "Female1", ("training0", "Test0", "Test1"), "F", 27, 17),
    ("EvaluationDataset", "Male12", ("training0", "Test0", "Test1"), "M", 31, 21),
    ("PreTrainingDataset", "Male4", ("training0",), "M", 22, 20),
)


def write_release(root: Path) -> dict[tuple[str, str, str], dict[int, np.ndarray]]:
    """A release root with both parts (see :data:`LAYOUT`); (part, subject, session) -> data."""
    out = {}
    for k, (part, subject, sessions, sex, age, circ) in enumerate(LAYOUT):
        write_experiment_csv(root / part / subject, sex, age, circ)
        for j, session in enumerate(sessions):
            out[(part, subject, session)] = write_session(
                root / part / subject / session, seed=10 * k + j
            )
    return out
