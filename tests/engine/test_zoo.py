"""The model zoo against a real HTTP server on 127.0.0.1: downloads that succeed, resume, time out,
meet error pages, change, or get cancelled each end in a usable model or a clear error, and never
leave a partial model file in the models folder."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import torch

from translator._fs import PARTIAL_PREFIX
from translator.checkpoint import MODEL_SUFFIX, find_models, load_model
from translator.cli import main
from translator.errors import JobCancelled
from translator.jobs import CancelToken, run_job
from translator.networks import GeneratorSpec, build_generator
from translator.paths import user_models_dir
from translator.reference import import_reference
from translator import zoo
from translator.zoo import (
    DEFAULT_BASE,
    DownloadError,
    DownloadProgress,
    ZooDownload,
    ZooEntry,
    ZooError,
    checksums_path,
    download_limit,
    find_entry,
    get_model,
    list_models,
    partial_path,
)

REF = Path(__file__).parent.parent / "data" / "reference"
UNET_G = REF / "unet_128_ngf8_batch_dropout_net_G.pth"  # reference-layout generators written by the reference
RESNET_G = REF / "resnet_6blocks_ngf8_instance_net_G.pth"
ENDLESS_LIMIT = 256 << 20  # an endless answer stops here, so a client without a size cap fails instead of hanging
SOCKET_BUFFERS = 32 << 20  # what the server may write into the kernel's buffers beyond what the client read
HTML = b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head><body>Try later</body></html>\n"


# --------------------------------------------------------------------------------------------
# a small, scriptable file server


@dataclass
class Plan:
    """How the server answers one request for a file (default: properly, with Range support)."""

    status: int = 200
    body: bytes | None = None  # instead of the file
    content_type: str = "application/octet-stream"
    truncate_at: int | None = None  # close the connection after this many body bytes
    stall_at: int | None = None  # pause after this many body bytes (0: before any byte)
    stall_s: float = 0.0
    ignore_range: bool = False
    endless: bool = False  # no Content-Length; zeros until the client leaves (or ENDLESS_LIMIT)
    trickle_at: int | None = None  # after this many body bytes, one byte every trickle_s
    trickle_s: float = 0.0


@dataclass
class Served:
    path: str
    range: str | None
    status: int


@dataclass
class ZooServer:
    files: dict[str, bytes] = field(default_factory=dict)
    plans: dict[str, list[Plan]] = field(default_factory=dict)
    log: list[Served] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    base: str = ""
    sent: int = 0  # body bytes of endless answers written

    def serve(self, entry: ZooEntry, data: bytes, *plans: Plan) -> ZooEntry:
        """Serve `data` at `entry`'s URL; the first requests follow `plans`, later ones are normal."""
        path = urlparse(entry.url).path
        self.files[path] = data
        self.plans[path] = list(plans)
        return entry


def _handler(server: ZooServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

        def do_GET(self) -> None:
            queue = server.plans.get(self.path, [])
            plan = queue.pop(0) if queue else Plan()
            data = plan.body if plan.body is not None else server.files.get(self.path)
            rng = self.headers.get("Range")
            if data is None or plan.status != 200:
                status = 404 if data is None else plan.status
                server.log.append(Served(self.path, rng, status))
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(HTML)))
                self.end_headers()
                self.wfile.write(HTML)
                return
            if plan.endless:  # HTTP/1.0 without Content-Length: the body ends when the connection does
                server.log.append(Served(self.path, rng, 200))
                self.send_response(200)
                self.send_header("Content-Type", plan.content_type)
                self.end_headers()
                block = b"PK\x03\x04" + bytes(64 * 1024 - 4)
                try:
                    while server.sent < ENDLESS_LIMIT and not server.stop.is_set():
                        self.wfile.write(block)
                        server.sent += len(block)
                except OSError:  # the client stopped reading
                    pass
                return
            start = 0
            m = re.fullmatch(r"bytes=(\d+)-", rng or "")
            if m and not plan.ignore_range:
                start = int(m.group(1))
                if start >= len(data):
                    server.log.append(Served(self.path, rng, 416))
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                server.log.append(Served(self.path, rng, 206))
            else:
                self.send_response(200)
                server.log.append(Served(self.path, rng, 200))
            body = data[start:]
            self.send_header("Content-Type", plan.content_type)
            self.send_header("Content-Length", str(len(body)))
            if plan.stall_at == 0:
                server.stop.wait(plan.stall_s)  # headers held back: the client waits for an answer
            self.end_headers()
            if plan.truncate_at is not None:
                body = body[: plan.truncate_at]
            try:
                if plan.stall_at:
                    self.wfile.write(body[: plan.stall_at])
                    self.wfile.flush()
                    server.stop.wait(plan.stall_s)
                    body = body[plan.stall_at :]
                if plan.trickle_at is not None:
                    self.wfile.write(body[: plan.trickle_at])
                    for i in range(plan.trickle_at, len(body)):
                        self.wfile.flush()
                        if server.stop.wait(plan.trickle_s):
                            return
                        self.wfile.write(body[i : i + 1])
                    return
                self.wfile.write(body)
            except OSError:  # the client gave up (timed out) meanwhile
                pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and left is part of the tests


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to 127.0.0.1 must not go through a proxy configured on the machine."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "*")


@pytest.fixture()
def server() -> Iterator[ZooServer]:
    zs = ZooServer()
    httpd = _QuietServer(("127.0.0.1", 0), _handler(zs))
    zs.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield zs
    zs.stop.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _resnet_bytes(seed: int) -> bytes:
    """A CycleGAN-style generator (resnet_6blocks, 8 filters, InstanceNorm) as the reference saves one."""
    net = build_generator(GeneratorSpec("resnet_6blocks", 8, "instance", False), seed=seed)
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _leftovers() -> list[Path]:
    """Model files and atomic-write temporaries in the models folder (partial ones must never be there)."""
    folder = user_models_dir()
    return sorted(p for p in folder.glob("*") if p.suffix == MODEL_SUFFIX or p.name.startswith(PARTIAL_PREFIX)) if folder.exists() else []


def _get(entry: ZooEntry, **kwargs: Any) -> tuple[list[DownloadProgress], ZooDownload]:
    events: list[DownloadProgress] = []
    result = run_job(get_model(entry, **kwargs), events.append)  # type: ignore[arg-type]
    return events, result


@torch.inference_mode()
def _output(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net.eval()(x)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# catalogue


def test_catalogue_lists_every_published_model_with_unambiguous_names(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = list_models()
    assert len(entries) == 5 + 18 and len({e.name for e in entries}) == len(entries)
    p2p = [e for e in entries if e.kind == "pix2pix"]
    assert {e.arch for e in p2p} == {"unet_256"} and {e.arch for e in entries if e.kind == "cyclegan"} == {"resnet_9blocks"}
    h2z = find_entry("horse2zebra")
    assert (h2z.kind, h2z.task, h2z.domains) == ("cyclegan", "horse → zebra", ("horse", "zebra"))
    assert h2z.url == f"{DEFAULT_BASE}/cyclegan/pretrained_models/horse2zebra.pth"
    assert find_entry("edges2shoes").url == f"{DEFAULT_BASE}/pix2pix/models-pytorch/edges2shoes.pth"
    for clash in ("sat2map", "map2sat", "facades_label2photo"):
        with pytest.raises(ZooError, match=f"pix2pix/{clash} and cyclegan/{clash}"):
            find_entry(clash)
        assert find_entry(f"pix2pix/{clash}").kind == "pix2pix" and find_entry(f"cyclegan/{clash}").kind == "cyclegan"
    assert find_entry("cyclegan/horse2zebra") == h2z  # <kind>/<name> works for every entry
    with pytest.raises(ZooError, match="did you mean horse2zebra"):
        find_entry("horse2zebr")
    monkeypatch.setenv("TRANSLATOR_ZOO_BASE", "http://mirror.example/models/")
    assert find_entry("horse2zebra").url == "http://mirror.example/models/cyclegan/pretrained_models/horse2zebra.pth"
    monkeypatch.setenv("TRANSLATOR_ZOO_BASE", "ftp://mirror.example")
    with pytest.raises(ZooError, match="TRANSLATOR_ZOO_BASE"):
        list_models()


# --------------------------------------------------------------------------------------------
# downloads


def test_download_saves_a_model_the_app_finds_with_the_outputs_of_a_direct_import(server: ZooServer) -> None:
    data = RESNET_G.read_bytes()  # written by the reference implementation itself
    entry = server.serve(find_entry("horse2zebra", base=server.base), data)
    events, result = _get(entry, chunk_size=64 * 1024)
    path = result.path
    assert path == user_models_dir() / "horse2zebra.safetensors"
    assert [p for p, _card in find_models([user_models_dir()])] == [path] and _leftovers() == [path]
    assert not partial_path(entry).exists()
    downloads = [e for e in events if e.stage == "download"]
    assert len(downloads) > 1 and [e.done for e in downloads] == sorted(e.done for e in downloads)
    assert downloads[-1].done == len(data) and all(e.total == len(data) for e in downloads)

    model = load_model(path)
    card = model.card
    assert (card.kind, card.directions(), card.task, card.domains) == ("cyclegan", ["AtoB"], "horse → zebra", ("horse", "zebra"))
    assert entry.url in card.source and result.sha256 in card.source
    x = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(0)) * 2 - 1
    direct = import_reference(RESNET_G, kind="cyclegan", name="direct")
    assert torch.equal(_output(model.nets["g_ab"], x), _output(direct.nets["g_ab"], x))

    record = json.loads(checksums_path().read_text())
    assert record["cyclegan/horse2zebra"]["sha256"] == _sha(data) == result.sha256
    assert [s.status for s in server.log] == [200]


def test_pix2pix_download_under_its_own_name_holds_the_file_s_weights(server: ZooServer) -> None:
    entry = server.serve(find_entry("pix2pix/facades_label2photo", base=server.base), UNET_G.read_bytes())
    assert entry.local_name == "pix2pix-facades_label2photo"
    _events, result = _get(entry, local_name="facades")
    model = load_model(result.path)
    assert result.path.name == "facades.safetensors" and model.card.name == "facades"
    assert (model.card.kind, model.card.task) == ("pix2pix", "facade label map → facade photo")
    assert set(model.nets) == {"g"} and model.card.generators["g"].arch == "unet_128"
    direct = import_reference(UNET_G, kind="pix2pix", name="direct").nets["g"].state_dict()
    got = model.nets["g"].state_dict()
    assert list(got) == list(direct) and all(torch.equal(got[k], direct[k]) for k in got)


def test_missing_file_is_a_clear_error_and_not_retried(server: ZooServer) -> None:
    entry = find_entry("day2night", base=server.base)  # nothing served: 404
    with pytest.raises(DownloadError) as err:
        _get(entry, backoff_s=0.01)
    msg = str(err.value)
    assert "day2night" in msg and entry.url in msg and "not found (HTTP 404)" in msg and "\n" not in msg
    assert len(server.log) == 1 and _leftovers() == [] and not partial_path(entry).exists()


def test_truncated_body_is_resumed_with_a_range_request(server: ZooServer) -> None:
    data = _resnet_bytes(2)
    entry = server.serve(find_entry("zebra2horse", base=server.base), data, Plan(truncate_at=200_000))
    events, result = _get(entry, backoff_s=0.01)
    assert [(s.status, s.range) for s in server.log] == [(200, None), (206, "bytes=200000-")]
    assert result.sha256 == _sha(data) and result.requests == 2
    assert any(e.stage == "retry" and "closed after 200,000" in e.message for e in events)
    assert _leftovers() == [result.path]


def test_a_server_that_ignores_range_makes_the_download_start_over(server: ZooServer) -> None:
    data = _resnet_bytes(3)
    entry = server.serve(find_entry("apple2orange", base=server.base), data, Plan(truncate_at=150_000), Plan(ignore_range=True))
    _events, result = _get(entry, backoff_s=0.01)
    assert [(s.status, s.range) for s in server.log] == [(200, None), (200, "bytes=150000-")]
    assert result.sha256 == _sha(data)


def test_a_stalled_transfer_times_out_and_resumes(server: ZooServer) -> None:
    data = _resnet_bytes(4)
    entry = server.serve(find_entry("orange2apple", base=server.base), data, Plan(stall_at=100_000, stall_s=5.0))
    timed: list[tuple[float, DownloadProgress]] = []
    job = get_model(entry, timeout_s=0.5, backoff_s=0.01, chunk_size=16 * 1024)
    result = run_job(job, lambda e: timed.append((time.perf_counter(), e)))  # type: ignore[arg-type]
    [retry] = [i for i, (_t, e) in enumerate(timed) if e.stage == "retry"]
    assert "timed out" in timed[retry][1].message
    assert 0.45 < timed[retry][0] - timed[retry - 1][0] < 1.2  # gave up on the stalled read after timeout_s
    assert [s.status for s in server.log] == [200, 206]
    m = re.fullmatch(r"bytes=(\d+)-", server.log[1].range or "")
    assert m and 0 < int(m.group(1)) <= 100_000  # the bytes received before the stall are kept
    assert result.sha256 == _sha(data)


def test_a_silent_server_gives_a_timeout_error_after_the_retries(server: ZooServer) -> None:
    entry = server.serve(find_entry("style_monet", base=server.base), _resnet_bytes(5), *[Plan(stall_at=0, stall_s=5.0)] * 3)
    t0 = time.perf_counter()
    with pytest.raises(DownloadError) as err:
        _get(entry, timeout_s=0.5, retries=1, backoff_s=0.01)
    assert time.perf_counter() - t0 < 1.6
    msg = str(err.value)
    assert "style_monet" in msg and entry.url in msg and "failed 2 time(s) in a row" in msg and "timed out" in msg
    assert len(server.log) == 2 and _leftovers() == []


def test_an_unreachable_server_is_a_clear_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    entry = find_entry("style_cezanne", base=f"http://127.0.0.1:{port}")
    with pytest.raises(DownloadError, match=rf"style_cezanne: downloading {re.escape(entry.url)} failed 2 time\(s\).*cannot reach 127.0.0.1:{port}"):
        _get(entry, retries=1, backoff_s=0.01)
    assert _leftovers() == []


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/octet-stream"])
def test_an_html_page_instead_of_a_checkpoint_is_named_as_such(server: ZooServer, content_type: str) -> None:
    entry = server.serve(find_entry("style_ukiyoe", base=server.base), b"", Plan(body=HTML, content_type=content_type))
    with pytest.raises(DownloadError, match=r"style_ukiyoe: .*style_ukiyoe\.pth returned an HTML page, not a checkpoint"):
        _get(entry)
    assert _leftovers() == [] and not partial_path(entry).exists()


def test_a_damaged_checkpoint_is_refused_without_a_pickle_error(server: ZooServer) -> None:
    data = _resnet_bytes(6)
    entry = server.serve(find_entry("style_vangogh", base=server.base), b"", Plan(body=data[: len(data) // 2]))
    with pytest.raises(DownloadError) as err:
        _get(entry)
    msg = str(err.value)
    assert "is not a usable checkpoint" in msg and "truncated or corrupt" in msg and "it was deleted" in msg
    assert "pickle" not in msg.lower() and _leftovers() == [] and not partial_path(entry).exists()


def test_sha256_is_recorded_and_a_changed_file_is_reported(server: ZooServer, caplog: pytest.LogCaptureFixture) -> None:
    first, second = _resnet_bytes(7), _resnet_bytes(8)
    entry = server.serve(find_entry("monet2photo", base=server.base), first)
    _events, r1 = _get(entry)
    assert r1.previous_sha256 is None and r1.sha256 == _sha(first)
    with pytest.raises(ZooError, match="already exists; pass overwrite"):
        _get(entry)
    assert len(server.log) == 1  # refused before downloading anything
    server.serve(entry, second)
    with caplog.at_level(logging.WARNING, logger="translator.zoo"):
        _events, r2 = _get(entry, overwrite=True)
    assert r2.checksum_changed and r2.previous_sha256 == _sha(first) and r2.sha256 == _sha(second)
    assert any("differs from the first one" in r.getMessage() for r in caplog.records)
    assert json.loads(checksums_path().read_text())["cyclegan/monet2photo"]["sha256"] == _sha(first)  # the first one stays
    assert _leftovers() == [r2.path]


def test_cancel_mid_download_keeps_the_part_and_the_next_try_resumes(server: ZooServer) -> None:
    data = _resnet_bytes(9)
    entry = server.serve(find_entry("cityscapes_photo2label", base=server.base), data)
    token = CancelToken()
    job = get_model(entry, chunk_size=64 * 1024, token=token)
    with pytest.raises(JobCancelled):
        for event in job:
            if event.stage == "download" and event.done >= 128 * 1024:
                token.cancel()
    kept = partial_path(entry).stat().st_size
    assert 128 * 1024 <= kept < len(data) and _leftovers() == [] and find_models([user_models_dir()]) == []
    _events, result = _get(entry)
    assert server.log[-1].range == f"bytes={kept}-" and server.log[-1].status == 206
    assert result.sha256 == _sha(data) and not partial_path(entry).exists()


def test_a_complete_part_file_is_taken_as_is_after_416(server: ZooServer) -> None:
    data = _resnet_bytes(10)
    entry = server.serve(find_entry("facades_photo2label", base=server.base), data)
    token = CancelToken()
    with pytest.raises(JobCancelled):
        for event in get_model(entry, token=token):
            if event.stage == "download" and event.done == len(data):
                token.cancel()  # every byte is in: the job stops before importing
    assert partial_path(entry).stat().st_size == len(data) and _leftovers() == []
    _events, result = _get(entry)
    assert [s.status for s in server.log] == [200, 416]
    assert result.sha256 == _sha(data)


# --------------------------------------------------------------------------------------------
# command line


def test_cli_lists_and_gets_models_and_fails_with_one_line(server: ZooServer, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TRANSLATOR_ZOO_BASE", server.base)
    assert main(["zoo", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"horse2zebra", "pix2pix/sat2map", "cyclegan/sat2map"}
    assert all(r["url"].startswith(server.base) and not r["installed"] for r in rows)

    server.serve(find_entry("horse2zebra"), _resnet_bytes(11))
    assert main(["zoo", "get", "horse2zebra", "--timeout", "5"]) == 0
    out = capsys.readouterr()
    assert "saved horse2zebra as" in out.out and (user_models_dir() / "horse2zebra.safetensors").exists()
    assert main(["zoo", "list"]) == 0
    listing = capsys.readouterr().out
    assert re.match(r"NAME +KIND +TASK +GENERATOR\n", listing)
    assert re.search(r"horse2zebra +cyclegan +horse → zebra +resnet_9blocks +\(installed\)", listing)

    assert main(["zoo", "get", "horse2zebra"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["zoo", "get", "zebra2horse"]) == 2  # not served: 404
    err = capsys.readouterr().err
    last = err.rstrip("\n").splitlines()[-1]
    assert last.startswith("error: zoo model zebra2horse:") and "HTTP 404" in last and "Traceback" not in err


# --------------------------------------------------------------------------------------------
# bounded in size and time


def test_the_size_limit_comes_from_the_catalogue_or_the_first_download(tmp_path: Path) -> None:
    """Each entry knows its file's size (its float32 weights); the size first recorded counts too,
    and 2 GiB bounds a download of a model whose size nothing knows."""
    h2z, facades = find_entry("horse2zebra"), find_entry("pix2pix/facades_label2photo")
    assert h2z.size is not None and 45_000_000 < h2z.size < 46_000_000  # resnet_9blocks: 11.4 M parameters
    assert facades.size is not None and 217_000_000 < facades.size < 218_500_000  # unet_256: 54.4 M
    assert download_limit(h2z) == int(h2z.size * 1.1) + (1 << 20)
    checksums_path().parent.mkdir(parents=True, exist_ok=True)
    checksums_path().write_text(json.dumps({h2z.key: {"sha256": "0" * 64, "size": 60_000_000}}))
    assert download_limit(h2z) == int(60_000_000 * 1.1) + (1 << 20)
    assert download_limit(replace(find_entry("zebra2horse"), size=None)) == zoo.MAX_DOWNLOAD_BYTES == 2 << 30


def test_a_server_streaming_without_end_is_cut_at_the_catalogue_size_and_the_part_deleted(server: ZooServer) -> None:
    """No Content-Length, bytes for ever: the download stops past the limit, is not retried, and
    leaves nothing behind (it used to write until the disk was full)."""
    entry = server.serve(replace(find_entry("horse2zebra", base=server.base), size=100_000), b"", Plan(endless=True))
    limit = download_limit(entry)
    with pytest.raises(DownloadError) as err:
        _get(entry, backoff_s=0.01)
    msg = str(err.value)
    assert f"sent more than {limit:,} bytes" in msg and "stopped and deleted" in msg, msg
    assert server.sent < limit + SOCKET_BUFFERS  # far from ENDLESS_LIMIT: the client stopped reading
    assert len(server.log) == 1 and not partial_path(entry).exists() and not _leftovers()


def test_without_a_known_size_the_absolute_cap_stops_an_endless_stream(server: ZooServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zoo, "MAX_DOWNLOAD_BYTES", 1 << 20)  # 2 GiB in use; 1 MiB to keep the test short
    entry = server.serve(replace(find_entry("horse2zebra", base=server.base), size=None), b"", Plan(endless=True))
    with pytest.raises(DownloadError, match=f"sent more than {1 << 20:,} bytes"):
        _get(entry, backoff_s=0.01)
    assert server.sent < (1 << 20) + SOCKET_BUFFERS and not partial_path(entry).exists()


def test_a_file_announced_larger_than_the_limit_is_refused_before_it_is_read(server: ZooServer) -> None:
    entry = server.serve(replace(find_entry("horse2zebra", base=server.base), size=100_000), bytes(3_000_000))
    with pytest.raises(DownloadError) as err:
        _get(entry, backoff_s=0.01)
    assert f"announces 3,000,000 bytes, more than this model can be ({download_limit(entry):,} bytes at most)" in str(err.value)
    assert len(server.log) == 1 and not partial_path(entry).exists()


def test_a_trickling_server_meets_the_deadline_and_the_next_try_resumes(server: ZooServer) -> None:
    """1 byte every 0.2 s never trips the 5 s read timeout; the 1 s deadline stops it long before
    the 30 trickled bytes are through, keeping what came, and the next try resumes from there."""
    data = _resnet_bytes(5)
    entry = server.serve(find_entry("zebra2horse", base=server.base), data,
                         Plan(trickle_at=2_000, trickle_s=0.2, truncate_at=2_030))
    with pytest.raises(DownloadError) as err:
        _get(entry, timeout_s=5.0, deadline_s=1.0, backoff_s=0.01)
    kept = partial_path(entry).stat().st_size
    assert 2_000 <= kept < 2_030  # stopped by the deadline, not by the end of the trickle
    msg = str(err.value)
    assert "did not finish within 1 s" in msg and f"{kept:,} bytes are kept and the next try resumes" in msg, msg
    _events, result = _get(entry)
    assert server.log[-1].range == f"bytes={kept}-" and result.sha256 == _sha(data)


def test_a_deadline_must_be_positive() -> None:
    with pytest.raises(ValueError, match="deadline_s"):
        next(get_model(find_entry("horse2zebra"), deadline_s=0))
