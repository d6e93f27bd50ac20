"""Contract-test source of the ``ninapro`` adapter: two tiny DB2 files."""

from __future__ import annotations

from pathlib import Path

from tests.adapters.fixtures_ninapro import ninapro_variables, write_v5


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "DB2_s1"
    write_v5(root / "S1_E1_A1.mat", ninapro_variables(aux={"acc": 36, "glove": 22}))
    write_v5(root / "S1_E2_A1.mat", ninapro_variables(codes=(18, 19), seed=1))
    return tmp_path, {"database": "2"}
