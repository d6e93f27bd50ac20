"""A lake in an S3 object store (``--lake s3://bucket/path``), against moto's S3 server
started by the test on 127.0.0.1 (a free port, its own process) and stopped by it:
ingest, ls, verify, vocab build, tokenize, rm and vacuum through the CLI, reads through ``Lake``,
outside readers through ``deltalake``, and no local folder named after the URL."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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

SIM = [
    *("--option", "subjects=2", "--option", "gestures=1", "--option", "repetitions=1"),
    *("--option", "contraction_s=0.5", "--option", "rest_s=0.5"),
    *("--option", "devices=myo8"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_server() -> Iterator[int]:
    """moto's S3 server on 127.0.0.1 (a free port) for this module; its port.

    The server runs in its own process: ``deltalake`` holds the GIL while it waits for
    some responses, which would stall a server thread of this process."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass(frozen=True)
class Store:
    fs: pafs.S3FileSystem
    bucket: str

    @property
    def lake(self) -> str:
        return f"s3://{self.bucket}/corpora/lake"


@pytest.fixture
def s3(s3_server: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Store:
    """An empty bucket of its own on the server; the AWS_* environment names the server;
    the working folder is ``tmp_path``."""
    fs = pafs.S3FileSystem(
        access_key="test",
        secret_key="test",
        endpoint_override=f"127.0.0.1:{s3_server}",
        scheme="http",
        region="us-east-1",
        allow_bucket_creation=True,
        connect_timeout=1,
    )
    bucket = f"emg-{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + 60
    while True:  # the server takes a moment to start
        try:
            fs.create_dir(bucket)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{s3_server}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_S3_ALLOW_UNSAFE_RENAME", raising=False)
    monkeypatch.setenv("EMGCORPUS_LOCAL_STORE", str(tmp_path / "local"))
    monkeypatch.chdir(tmp_path)
    return Store(fs, bucket)


def _run(lake: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lake", lake, *args], obj={})
    return result.exit_code, result.output


def test_lake_location_normalises() -> None:
    assert lake_location("s3://bucket/a/b/") == "s3://bucket/a/b"
    assert lake_location("file:///tmp/x") == Path("/tmp/x").resolve()
    assert lake_location("rel/lake") == Path("rel/lake").resolve()
    with pytest.raises(LakeError, match="unsupported lake URL scheme 'gs'"):
        lake_location("gs://bucket/lake")
    with pytest.raises(LakeError, match="needs a bucket"):
        lake_location("s3://")


def test_cli_on_an_s3_lake(s3: Store, tmp_path: Path) -> None:
    lake, root = s3.lake, f"{s3.bucket}/corpora/lake"
    code, out = _run(lake, "ingest", "sim", "builtin", *SIM, "--json")
    assert code == 0, out
    assert len(json.loads(out)["added"]) == 2
    assert not any(p.name.startswith("s3") for p in tmp_path.iterdir())  # no local 's3:'
    assert s3.fs.get_file_info(f"{root}/_emgcorpus/snapshot.json").type == pafs.FileType.File
    lock = s3.fs.get_file_info(f"{root}/_emgcorpus/write.lock")
    assert lock.type == pafs.FileType.NotFound  # released

    code, out = _run(lake, "ls", "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["lake"] == lake and summary["total"]["recordings"] == 2
    assert [d["dataset"] for d in summary["datasets"]] == ["sim"]
    code, out = _run(lake, "verify", "--json")
    assert code == 0 and json.loads(out) == {"ok": True, "problems": []}, out

    opened = Lake.open(lake)
    rid = opened.recordings()["recording_id"][0]
    x = opened.read_samples(rid)
    assert x.shape == (int(opened.recording_row(rid)["n_samples"]), 8)
    for table in TABLES:  # outside readers see the snapshot
        dt = DeltaTable(f"{lake}/{table}", storage_options=storage_options())
        assert dt.version() == opened.snapshot()[table], table

    # the vocabulary and the token shards of a remote lake live on the local side
    code, out = _run(lake, "vocab", "build", "--size", "8", "--scheduler", "sync", "--json")
    assert code == 0, out
    vocab_id = json.loads(out)["id"]
    code, out = _run(lake, "tokenize", "--vocab", vocab_id, "--scheduler", "sync", "--json")
    assert code == 0, out
    shards = Path(json.loads(out)["folder"])
    assert shards.is_relative_to(tmp_path / "local") and (shards / "index.json").is_file()
    assert json.loads(out)["datasets"] == ["sim"]

    code, out = _run(lake, "rm", "--dataset", "sim", "--json")
    assert code == 0 and json.loads(out)["rows"]["recordings"] == 2, out
    code, out = _run(lake, "vacuum", "--retention-hours", "0", "--force", "--json")
    assert code == 0, out
    assert any("dataset=sim" in p for p in json.loads(out)["deleted"]["signals"])
    files = s3.fs.get_file_info(pafs.FileSelector(f"{root}/signals", recursive=True))
    assert not [f.path for f in files if f.path.endswith(".parquet")]
    assert Lake.open(lake).recordings().height == 0
    assert Lake.open(lake, snapshot=opened.snapshot()).recordings().height == 2  # the log
    assert local_side(lake) == (tmp_path / "local" / s3.bucket / "corpora" / "lake").resolve()


def test_a_second_writer_on_an_s3_lake_is_refused(s3: Store) -> None:
    Lake.create(s3.lake)
    with LakeWriter(s3.lake), pytest.raises(LakeError, match="another writer holds"):
        LakeWriter(s3.lake).__enter__()
    with LakeWriter(s3.lake) as writer:  # released: a new writer starts
        assert writer.published == Lake.open(s3.lake).snapshot()


def test_a_whole_run_on_an_s3_lake(s3: Store, tmp_path: Path) -> None:
    """``run`` reads an s3:// lake (no local folder named after the URL) and puts its
    vocabulary and shards on the local side; tiny sizes."""
    more = {"subjects=2": "subjects=4", "gestures=1": "gestures=2"}
    more["repetitions=1"] = "repetitions=3"
    sim = [more.get(a, a) for a in SIM]
    code, out = _run(s3.lake, "ingest", "sim", "builtin", *sim)
    assert code == 0, out
    run = tmp_path / "run"
    code, out = _run(
        s3.lake, "run", "--dataset", "sim", "--vocab-size", "8", "--steps", "2",
        "--d-model", "16", "--layers", "1", "--baselines", "td-lda", "--scheduler", "sync",
        "--out", str(run),
    )  # fmt: skip
    assert code == 0, out
    assert not any(p.name.startswith("s3") for p in tmp_path.iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stages"]["tokenize"]["shards"].startswith(str(tmp_path / "local"))
    assert "td-lda" in summary["methods"]
