"""fetch against a real HTTP server on 127.0.0.1: resume, retries, HTML, checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from emgcorpus.catalog.entries import get_entry
from emgcorpus.catalog.fetch import fetch, fetched_state, verify_local
from emgcorpus.catalog.http import DownloadError, RetryPolicy, download
from emgcorpus.errors import ChecksumError
from tests.catalog.catalog_factory import entry, write_catalog
from tests.catalog.http_fixture import HTML_PAGE, Route, closed_port, serve

FAST = RetryPolicy(retries=2, backoff_s=0.01, timeout_s=5.0)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _payload(n: int, seed: int) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(n))


def test_fetch_downloads_files_and_skips_complete_ones(tmp_path: Path) -> None:
    a, b = _payload(200_000, 1), _payload(3_000, 2)
    with serve() as srv:
        srv.routes["/a.bin"] = Route(a)
        srv.routes["/sub/b.csv"] = Route(b)
        files = [
            {"url": srv.url("/a.bin"), "path": "a.bin", "sha256": _sha(a), "size": len(a)},
            {"url": srv.url("/sub/b.csv"), "path": "sub/b.csv", "sha256": None, "size": None},
        ]
        cat = write_catalog(tmp_path / "catalog.yaml", [entry("tiny", files=files)])
        out = tmp_path / "data"
        report = fetch("tiny", out, catalog_path=cat, policy=FAST, progress=False)
        assert [f.state for f in report.files] == ["downloaded", "downloaded"]
        assert (out / "a.bin").read_bytes() == a
        assert (out / "sub" / "b.csv").read_bytes() == b
        assert not list(out.rglob("*.part"))
        again = fetch("tiny", out, catalog_path=cat, policy=FAST, progress=False)
        assert [f.state for f in again.files] == ["ok", "present"]
        assert srv.hits("/a.bin") == 1 and srv.hits("/sub/b.csv") == 1
    assert fetched_state(get_entry("tiny", cat), out) == "yes"
    assert fetched_state(get_entry("tiny", cat), tmp_path / "elsewhere") == "no"


def test_cut_transfer_is_resumed_with_a_range_request(tmp_path: Path) -> None:
    data = _payload(150_001, 3)
    with serve() as srv:
        srv.routes["/big.bin"] = Route(data, mode="truncate-once")
        dest = download(
            srv.url("/big.bin"),
            tmp_path / "big.bin",
            sha256=_sha(data),
            policy=FAST,
            progress=False,
        )
        ranges = [r for p, r in srv.log if p == "/big.bin"]
    assert dest.read_bytes() == data
    assert ranges[0] is None
    assert ranges[1] == f"bytes={len(data) // 2}-"


def test_existing_part_file_is_continued(tmp_path: Path) -> None:
    data = _payload(10_000, 4)
    (tmp_path / "f.bin.part").write_bytes(data[:4_000])
    with serve() as srv:
        srv.routes["/f.bin"] = Route(data)
        download(srv.url("/f.bin"), tmp_path / "f.bin", sha256=_sha(data), policy=FAST)
        assert srv.log == [("/f.bin", "bytes=4000-")]
    assert (tmp_path / "f.bin").read_bytes() == data


def test_always_cut_transfer_fails_after_bounded_retries(tmp_path: Path) -> None:
    data = _payload(50_000, 5)
    with serve() as srv:
        srv.routes["/cut.bin"] = Route(data, mode="truncate-always")
        with pytest.raises(DownloadError, match="failed after 3 attempts") as err:
            download(srv.url("/cut.bin"), tmp_path / "cut.bin", policy=FAST, progress=False)
        assert srv.hits("/cut.bin") == 3
    assert srv.url("/cut.bin") in str(err.value)
    assert not (tmp_path / "cut.bin").exists()


@pytest.mark.parametrize("mode", ["html", "html-octet"])
def test_html_page_instead_of_data_is_never_kept(tmp_path: Path, mode: str) -> None:
    with serve() as srv:
        srv.routes["/data.zip"] = Route(b"", mode=mode)
        with pytest.raises(DownloadError, match="HTML page instead of the data file"):
            download(srv.url("/data.zip"), tmp_path / "data.zip", policy=FAST, progress=False)
    assert not (tmp_path / "data.zip").exists()
    assert not (tmp_path / "data.zip.part").exists()


def test_html_file_listed_as_html_is_allowed(tmp_path: Path) -> None:
    with serve() as srv:
        srv.routes["/index.html"] = Route(HTML_PAGE)
        dest = download(srv.url("/index.html"), tmp_path / "index.html", policy=FAST)
    assert dest.read_bytes() == HTML_PAGE


def test_wrong_checksum_removes_the_file(tmp_path: Path) -> None:
    data = _payload(5_000, 6)
    wrong = _sha(b"something else")
    with serve() as srv:
        srv.routes["/x.bin"] = Route(data)
        files = [{"url": srv.url("/x.bin"), "path": "x.bin", "sha256": wrong, "size": None}]
        cat = write_catalog(tmp_path / "catalog.yaml", [entry("bad", files=files)])
        with pytest.raises(ChecksumError) as err:
            fetch("bad", tmp_path / "d", catalog_path=cat, policy=FAST, progress=False)
    assert err.value.expected == wrong and err.value.found == _sha(data)
    assert "x.bin" in str(err.value)
    assert list((tmp_path / "d").iterdir()) == []


def test_corrupt_local_file_is_downloaded_again(tmp_path: Path) -> None:
    data = _payload(5_000, 7)
    out = tmp_path / "d"
    out.mkdir()
    (out / "x.bin").write_bytes(b"garbage")
    with serve() as srv:
        srv.routes["/x.bin"] = Route(data)
        files = [{"url": srv.url("/x.bin"), "path": "x.bin", "sha256": _sha(data), "size": None}]
        cat = write_catalog(tmp_path / "catalog.yaml", [entry("redo", files=files)])
        report = fetch("redo", out, catalog_path=cat, policy=FAST, progress=False)
    assert report.files[0].state == "downloaded"
    assert (out / "x.bin").read_bytes() == data


def test_unreachable_host_names_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/nothing.bin"
    with pytest.raises(DownloadError, match="cannot reach host") as err:
        download(url, tmp_path / "nothing.bin", policy=FAST, progress=False)
    assert err.value.url == url and url in str(err.value)


def test_http_404_is_not_retried(tmp_path: Path) -> None:
    with serve() as srv:
        with pytest.raises(DownloadError, match="HTTP 404"):
            download(srv.url("/missing"), tmp_path / "m.bin", policy=FAST, progress=False)
        assert srv.hits("/missing") == 1


def test_login_dataset_gives_steps_and_verifies_placed_files(tmp_path: Path) -> None:
    good = b"subject one"
    files = [
        {"url": "https://example.org/s1.bin", "path": "s1.bin", "sha256": _sha(good), "size": None},
        {"url": "https://example.org/s2.bin", "path": "s2.bin", "sha256": None, "size": 4},
    ]
    steps = "1. Log in.\n2. Put the files in {dir}.\n"
    cat = write_catalog(
        tmp_path / "catalog.yaml",
        [entry("locked", access="login", manual_steps=steps, files=files)],
    )
    out = tmp_path / "locked"
    report = fetch("locked", out, catalog_path=cat)
    assert report.manual_steps == f"1. Log in.\n2. Put the files in {out}.\n"
    assert [(f.path, f.state) for f in report.problems] == [
        ("s1.bin", "missing"),
        ("s2.bin", "missing"),
    ]
    out.mkdir()
    (out / "s1.bin").write_bytes(b"not subject one")
    (out / "s2.bin").write_bytes(b"12345")
    states = {f.path: f.state for f in fetch("locked", out, catalog_path=cat).files}
    assert states == {"s1.bin": "bad-checksum", "s2.bin": "wrong-size"}
    (out / "s1.bin").write_bytes(good)
    (out / "s2.bin").write_bytes(b"1234")
    final = fetch("locked", out, catalog_path=cat)
    assert final.complete and [f.state for f in final.files] == ["ok", "ok"]


def test_glob_only_manual_dataset_counts_matching_files(tmp_path: Path) -> None:
    cat = write_catalog(
        tmp_path / "catalog.yaml",
        [entry("globbed", access="login", manual_steps="get it", expect_glob="**/*.mat")],
    )
    e = get_entry("globbed", cat)
    assert not verify_local(e, tmp_path / "g").complete
    (tmp_path / "g" / "s1").mkdir(parents=True)
    (tmp_path / "g" / "s1" / "S1_A1_E1.mat").write_bytes(b"x")
    report = verify_local(e, tmp_path / "g")
    assert report.complete and report.glob_matches == 1
    assert fetched_state(e, tmp_path / "g") == "yes"


def test_login_dataset_unzips_archives_the_user_placed(tmp_path: Path) -> None:
    import zipfile

    from emgcorpus.catalog.archive import ArchiveError

    cat = write_catalog(
        tmp_path / "catalog.yaml",
        [
            entry(
                "hand",
                access="login",
                manual_steps="Log in; put the zips in {dir}.",
                expect_glob="**/S*_E*_A1.mat",
                extract_glob="*.zip",
            )
        ],
    )
    out = tmp_path / "hand"
    out.mkdir()
    with zipfile.ZipFile(out / "s1.zip", "w") as zf:
        zf.writestr("s1/S1_E1_A1.mat", b"mat bytes")
    with zipfile.ZipFile(out / "s2.zip", "w") as zf:
        zf.writestr("s2/S2_E1_A1.mat", b"mat bytes")
    (out / "s2").mkdir()  # the user unzipped s2 by hand already: kept, not an error
    (out / "s2" / "S2_E1_A1.mat").write_bytes(b"user copy")
    lines: list[str] = []
    report = fetch("hand", out, catalog_path=cat, echo=lines.append)
    assert report.complete and report.glob_matches == 2
    assert [r.archive.name for r in report.extracted] == ["s1.zip"]
    assert (out / "s1" / "S1_E1_A1.mat").read_bytes() == b"mat bytes"
    assert (out / "s2" / "S2_E1_A1.mat").read_bytes() == b"user copy"
    assert any(line.startswith("s2.zip: not extracted:") for line in lines)
    again = fetch("hand", out, catalog_path=cat)
    assert [r.skipped for r in again.extracted] == [True]
    with zipfile.ZipFile(out / "s3.zip", "w") as zf:
        zf.writestr("../../S3_E1_A1.mat", b"escape")
    with pytest.raises(ArchiveError, match="s3.zip.*leaves the target folder"):
        fetch("hand", out, catalog_path=cat)
    assert not list(tmp_path.rglob("S3_E1_A1.mat"))
