"""A lake in an S3 object store (``--lake s3://bucket/path``), against moto's S3 server
started by the test on 127.0.0.1 (a free port, its own process) and stopped by it:
ingest, ls, harmonize, verify, rm and vacuum through the CLI, reads through ``Lake``,
outside readers through ``deltalake``, and no local folder named after the URL."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from click.testing import CliRunner
from deltalake import DeltaTable

from emgcorpus.cli import cli
from emgcorpus.errors import LakeError
from emgcorpus.lake import Lake
from emgcorpus.lake_location import lake_location, local_side, storage_options
from emgcorpus.lake_writer import LakeWriter
from emgcorpus.schema import TABLES

BUCKET = "emg-test"
LAKE = f"s3://{BUCKET}/corpora/lake"
SIM = [
    *("--option", "subjects=2", "--option", "gestures=1", "--option", "repetitions=1"),
    *("--option", "contraction_s=0.5", "--option", "rest_s=0.5"),
    *("--option", "devices=myo8"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pafs.S3FileSystem]:
    """moto's S3 server on 127.0.0.1 with an empty bucket; the AWS_* environment names it.

    The server runs in its own process: ``deltalake`` holds the GIL while it waits for
    some responses, which would stall a server thread of this process."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        fs = pafs.S3FileSystem(
            access_key="test",
            secret_key="test",
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
            region="us-east-1",
            allow_bucket_creation=True,
            connect_timeout=1,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                fs.create_dir(BUCKET)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        for name, value in {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_S3_ALLOW_UNSAFE_RENAME", raising=False)
        monkeypatch.setenv("EMGCORPUS_LOCAL_STORE", str(tmp_path / "local"))
        monkeypatch.chdir(tmp_path)
        yield fs
    finally:
        server.terminate()
        server.wait(timeout=30)


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lake", LAKE, *args], obj={})
    return result.exit_code, result.output


def test_lake_location_normalises() -> None:
    assert lake_location("s3://bucket/a/b/") == "s3://bucket/a/b"
    assert lake_location("file:///tmp/x") == Path("/tmp/x").resolve()
    assert lake_location("rel/lake") == Path("rel/lake").resolve()
    with pytest.raises(LakeError, match="unsupported lake URL scheme 'gs'"):
        lake_location("gs://bucket/lake")
    with pytest.raises(LakeError, match="needs a bucket"):
        lake_location("s3://")


def test_cli_on_an_s3_lake(s3: pafs.S3FileSystem, tmp_path: Path) -> None:
    for name in ("alpha", "beta"):
        code, out = _run("ingest", "sim", "builtin", *SIM, "--dataset", name, "--json")
        assert code == 0, out
        assert len(json.loads(out)["added"]) == 2
    assert not any(p.name.startswith("s3") for p in tmp_path.iterdir())  # no local 's3:'
    meta = s3.get_file_info(f"{BUCKET}/corpora/lake/_emgcorpus/snapshot.json")
    assert meta.type == pafs.FileType.File
    assert s3.get_file_info(f"{BUCKET}/corpora/lake/_emgcorpus/write.lock").type == (
        pafs.FileType.NotFound  # released
    )

    code, out = _run("ls", "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["lake"] == LAKE and summary["total"]["recordings"] == 4
    names = [d["dataset"] for d in summary["datasets"]]
    assert names == ["alpha", "beta"]

    code, out = _run("harmonize", "--fs", "500", "--method", "scipy", "--json")
    assert code == 0 and len(json.loads(out)["added"]) == 4, out
    code, out = _run("verify", "--json")
    assert code == 0 and json.loads(out) == {"ok": True, "problems": []}, out

    lake = Lake.open(LAKE)
    rid = lake.recordings()["recording_id"][0]
    x = lake.read_samples(rid)
    assert x.shape[0] == int(lake.recording_row(rid)["n_samples"]) and x.shape[1] > 0
    assert lake.read_samples(rid, fs=500.0).shape[1] == x.shape[1]
    for table in TABLES:  # outside readers see the snapshot
        dt = DeltaTable(f"{LAKE}/{table}", storage_options=storage_options())
        assert dt.version() == lake.snapshot()[table], table

    code, out = _run("rm", "--dataset", names[0], "--json")
    assert code == 0 and json.loads(out)["rows"]["recordings"] == 2, out
    code, out = _run("ls", "--json")
    assert [d["dataset"] for d in json.loads(out)["datasets"]] == names[1:]
    code, out = _run("vacuum", "--retention-hours", "0", "--force", "--json")
    assert code == 0, out
    assert any(f"dataset={names[0]}" in p for p in json.loads(out)["deleted"]["signals"])
    remaining = DeltaTable(f"{LAKE}/signals", storage_options=storage_options()).count()
    files = s3.get_file_info(pafs.FileSelector(f"{BUCKET}/corpora/lake/signals", recursive=True))
    parquet = [f.path for f in files if f.path.endswith(".parquet")]
    assert not any(f"dataset={names[0]}" in p for p in parquet) and remaining > 0
    code, out = _run("verify", "--json")
    assert code == 0 and json.loads(out)["ok"], out
    assert local_side(LAKE) == (tmp_path / "local" / BUCKET / "corpora" / "lake").resolve()


def test_a_second_writer_on_an_s3_lake_is_refused(s3: pafs.S3FileSystem) -> None:
    Lake.create(LAKE)
    with LakeWriter(LAKE), pytest.raises(LakeError, match="another writer holds"):
        LakeWriter(LAKE).__enter__()
    with LakeWriter(LAKE) as writer:  # released: a new writer starts
        assert writer.published == Lake.open(LAKE).snapshot()
