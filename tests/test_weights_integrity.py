"""Tampered, damaged and junk weights: downloads checked against the hub's sha256 or the first
download's, cached files checked against their record, hashes kept in the cache, plain messages.

A loopback server plays both a plain download host (``/plain/NAME``) and a Hugging Face hub
(``/org/tiny/resolve/main/NAME``, answered with a redirect to ``/files/NAME`` that carries the
file's sha256 in ``X-Linked-Etag``, as huggingface.co does for LFS files).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tests.test_weights import _cli, _register_tiny, tiny_builder, tiny_state
from unflat import weights
from unflat.errors import WeightsError
from unflat.weights import integrity


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A private cache, a fresh per-process hash memo, and no network beyond 127.0.0.1."""
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("UNFLAT_OFFLINE", raising=False)
    monkeypatch.setattr(integrity, "_DIGESTS", {})
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] in ("127.0.0.1", "localhost"), f"test tried to reach {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


@dataclass
class Hub:
    """The served folder, the base URL and per-file sha256 overrides for the hub's header."""

    folder: Path
    base: str
    published: dict[str, str] = field(default_factory=dict)

    def hub_url(self, name: str) -> str:
        return f"{self.base}/org/tiny/resolve/main/{name}"

    def plain_url(self, name: str) -> str:
        return f"{self.base}/plain/{name}"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    state = Hub(tmp_path / "www", "")
    state.folder.mkdir()

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            parts = self.path.lstrip("/").split("/")
            on_hub = parts[:4] == ["org", "tiny", "resolve", "main"]
            name = "/".join(parts[4:] if on_hub else parts[1:])
            file = state.folder / name
            if not file.is_file():
                self.send_error(404)
                return
            data = file.read_bytes()
            if on_hub:
                sha = state.published.get(name, hashlib.sha256(data).hexdigest())
                self.send_response(302)
                self.send_header("Location", f"/files/{name}")
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _serve_checkpoint(hub: Hub, seed: int = 1) -> None:
    state = {key: value + seed for key, value in tiny_state().items()}
    torch.save(state, hub.folder / "tiny.pt")


def _source(name: str = "tiny") -> dict:
    return json.loads((weights.cache_dir() / name / "source.json").read_text())


def _flip_last_byte(path: Path) -> None:
    """Change one byte of the tensor data, keeping the size and the mtime (bit rot, tampering)."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _nothing_fetched() -> bool:
    folder = weights.cache_dir() / "tiny"
    return not any(folder.glob("*.pt*")) and not (folder / "model.safetensors").exists()


# ---------------------------------------------------------------------------------------------
# Downloads: the hub's sha256, else the first download's


def test_fetch_checks_a_hub_download_against_the_hubs_sha256(
    monkeypatch: pytest.MonkeyPatch, hub: Hub
) -> None:
    _serve_checkpoint(hub)
    _register_tiny(monkeypatch, (hub.hub_url("tiny.pt"),))
    weights.fetch("tiny", progress=False)
    record = _source()["files"][0]
    assert record["checked_against"] == "hub"
    assert record["sha256"] == weights.file_sha256(hub.folder / "tiny.pt")
    assert record["url"] == hub.hub_url("tiny.pt")


def test_fetch_refuses_a_download_the_hub_does_not_vouch_for(
    monkeypatch: pytest.MonkeyPatch, hub: Hub
) -> None:
    _serve_checkpoint(hub)
    hub.published["tiny.pt"] = "ab" * 32
    _register_tiny(monkeypatch, (hub.hub_url("tiny.pt"),))
    with pytest.raises(WeightsError) as caught:
        weights.fetch("tiny", progress=False)
    assert "but the Hugging Face hub" in caught.value.message and "ab" * 32 in caught.value.message
    assert "damaged or altered on the way" in caught.value.hint
    assert _nothing_fetched()


def test_the_hubs_sha256_also_checks_the_other_mirror(
    monkeypatch: pytest.MonkeyPatch, hub: Hub
) -> None:
    # The first URL serves something else under the same name; the hub's hash catches it and
    # the hub's own copy is used.
    _serve_checkpoint(hub)
    (hub.folder / "other").mkdir()
    torch.save(tiny_state(), hub.folder / "other" / "tiny.pt")
    mirror = f"{hub.base}/plain/other/tiny.pt"
    _register_tiny(monkeypatch, (mirror, hub.hub_url("tiny.pt")))
    weights.fetch("tiny", progress=False)
    record = _source()["files"][0]
    assert record["url"] == hub.hub_url("tiny.pt") and record["checked_against"] == "hub"


def test_a_later_download_must_match_the_first(monkeypatch: pytest.MonkeyPatch, hub: Hub) -> None:
    _serve_checkpoint(hub)
    _register_tiny(monkeypatch, (hub.plain_url("tiny.pt"),))
    weights.fetch("tiny", progress=False)
    first = _source()["files"][0]
    assert first["checked_against"] == "nothing"  # trust on first use
    weights.fetch("tiny", progress=False, force=True)
    assert _source()["files"][0]["checked_against"] == "first download"

    _serve_checkpoint(hub, seed=2)  # the source now serves another file
    with pytest.raises(WeightsError) as caught:
        weights.fetch("tiny", progress=False, force=True)
    source_json = weights.cache_dir() / "tiny" / "source.json"
    assert "but the first download (recorded in" in caught.value.message
    assert f"delete {source_json}" in caught.value.hint and "--force" in caught.value.hint
    assert _nothing_fetched()
    assert _source()["files"][0]["sha256"] == first["sha256"], "the record outlives --force"

    source_json.unlink()  # the user accepts the new file
    weights.fetch("tiny", progress=False, force=True)
    assert _source()["files"][0]["sha256"] != first["sha256"]


def test_a_hand_placed_file_must_match_the_first_download(
    monkeypatch: pytest.MonkeyPatch, hub: Hub
) -> None:
    _serve_checkpoint(hub)
    _register_tiny(monkeypatch, (hub.plain_url("tiny.pt"),))
    weights.fetch("tiny", progress=False)
    weights.weights_path("tiny").unlink()
    monkeypatch.setenv("UNFLAT_OFFLINE", "1")
    placed = weights.cache_dir() / "tiny" / "tiny.pt"
    torch.save(tiny_state(), placed)
    with pytest.raises(WeightsError, match=r"not the published tiny\.pt: its sha256 differs"):
        weights.fetch("tiny", progress=False)
    placed.unlink()
    _serve_checkpoint(hub)
    (hub.folder / "tiny.pt").rename(placed)  # the same bytes as the first download
    assert weights.fetch("tiny", progress=False).is_file()


def test_models_fetch_offline_hint_names_what_works(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    _register_tiny(monkeypatch, ("https://example.invalid/tiny.pt",))
    monkeypatch.setenv("UNFLAT_OFFLINE", "1")
    assert _cli(["models", "fetch", "tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "then run the same command again" in err
    assert "--weights" not in err, "`unflat models fetch` takes no --weights"


# ---------------------------------------------------------------------------------------------
# The cached model.safetensors


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch, hub: Hub) -> Path:
    _serve_checkpoint(hub)
    _register_tiny(monkeypatch, (hub.plain_url("tiny.pt"),))
    path = weights.fetch("tiny", progress=False)
    assert _source()["safetensors"]["sha256"] == weights.file_sha256(path)
    return path


def test_a_flipped_byte_in_the_cache_is_caught_and_force_repairs_it(
    monkeypatch: pytest.MonkeyPatch, fetched: Path, capsys: pytest.CaptureFixture
) -> None:
    _flip_last_byte(fetched)
    monkeypatch.setattr(integrity, "_DIGESTS", {})  # a new process
    with pytest.raises(WeightsError) as caught:
        weights.load_model("tiny", builder=tiny_builder, progress=False)
    assert caught.value.message == (
        f"{fetched} is damaged: its sha256 differs from the one recorded when it was made"
    )
    assert "`unflat models fetch tiny --force`" in caught.value.hint
    assert _cli(["models", "fetch", "tiny", "--quiet"]) == 2
    assert "is damaged" in capsys.readouterr().err
    assert _cli(["models", "fetch", "tiny", "--quiet", "--force"]) == 0
    weights.load_model("tiny", builder=tiny_builder, progress=False)


def test_the_cache_is_hashed_once_per_process_and_again_when_it_changes(
    monkeypatch: pytest.MonkeyPatch, fetched: Path
) -> None:
    calls: list[Path] = []
    real = weights.file_sha256

    def counting(path):
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(integrity, "file_sha256", counting)
    weights.load_model("tiny", builder=tiny_builder, progress=False)
    assert calls == [], "fetch hashed it when it made it"
    monkeypatch.setattr(integrity, "_DIGESTS", {})  # a new process
    for _ in range(3):
        weights.load_model("tiny", builder=tiny_builder, progress=False)
        assert weights.weights_id("tiny") == _source()["safetensors"]["sha256"]
    assert calls == [fetched]
    os.utime(fetched)  # a touch: the identity changed, so it is hashed (and still matches)
    weights.load_model("tiny", builder=tiny_builder, progress=False)
    assert calls == [fetched, fetched]


def test_a_size_change_is_caught_without_hashing(
    monkeypatch: pytest.MonkeyPatch, fetched: Path
) -> None:
    with fetched.open("ab") as handle:
        handle.write(b"\0")
    monkeypatch.setattr(integrity, "file_sha256", lambda path: pytest.fail("hashed"))
    with pytest.raises(WeightsError, match=r"is damaged: it has \d+ bytes, but \d+ were recorded"):
        weights.fetch("tiny", progress=False)


def test_a_cache_without_a_recorded_hash_is_recorded_on_first_use(fetched: Path) -> None:
    source = fetched.parent / "source.json"
    record = json.loads(source.read_text())
    digest = record.pop("safetensors")["sha256"]
    source.write_text(json.dumps(record))
    weights.load_model("tiny", builder=tiny_builder, progress=False)
    assert json.loads(source.read_text())["safetensors"]["sha256"] == digest


def test_a_damaged_source_json_is_an_error_that_force_repairs(fetched: Path) -> None:
    (fetched.parent / "source.json").write_text('{"model": "tiny", "files": [')
    with pytest.raises(WeightsError, match=r"source\.json is damaged") as caught:
        weights.load_model("tiny", builder=tiny_builder, progress=False)
    assert "`unflat models fetch tiny --force`" in caught.value.hint
    weights.fetch("tiny", progress=False, force=True)
    weights.load_model("tiny", builder=tiny_builder, progress=False)


def test_a_converted_checkpoint_is_checked_and_older_conversions_go(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _register_tiny(monkeypatch)
    checkpoint = tmp_path / "mine.pt"
    torch.save(tiny_state(), checkpoint)
    weights.load_model(checkpoint, default_architecture="tiny", builder=tiny_builder)
    (converted,) = (weights.cache_dir() / "converted").glob("*/model.safetensors")
    _flip_last_byte(converted)
    monkeypatch.setattr(integrity, "_DIGESTS", {})
    with pytest.raises(WeightsError, match="is damaged") as caught:
        weights.load_model(checkpoint, default_architecture="tiny", builder=tiny_builder)
    assert caught.value.hint == (
        f"delete {converted.parent}; the next run converts {checkpoint.resolve()} again"
    )
    torch.save({k: v * 2 for k, v in tiny_state().items()}, checkpoint)  # the user's new version
    weights.load_model(checkpoint, default_architecture="tiny", builder=tiny_builder)
    (kept,) = (weights.cache_dir() / "converted").glob("*/model.safetensors")
    assert kept != converted and not converted.parent.exists()


# ---------------------------------------------------------------------------------------------
# weights_id: the hash of a user's file is kept in the cache, never beside the file


def test_weights_id_of_a_users_file_writes_nothing_beside_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    file = folder / "model.safetensors"
    save_file(tiny_state(), str(file))
    digest = weights.weights_id(folder)
    assert digest == weights.file_sha256(file)
    assert sorted(p.name for p in folder.iterdir()) == ["model.safetensors"]
    (entry,) = (weights.cache_dir() / "hashes").iterdir()
    assert json.loads(entry.read_text())["path"] == str(file.resolve())

    monkeypatch.setattr(integrity, "_DIGESTS", {})  # a new process reads the cached hash
    real = weights.file_sha256
    monkeypatch.setattr(integrity, "file_sha256", lambda path: pytest.fail("hashed twice"))
    assert weights.weights_id(file) == digest

    # Same size, mtime put back: still noticed (the ctime cannot be put back).
    stat = file.stat()
    save_file({k: v + 1 for k, v in tiny_state().items()}, str(file))
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file.stat().st_size == stat.st_size
    monkeypatch.setattr(integrity, "_DIGESTS", {})
    monkeypatch.setattr(integrity, "file_sha256", real)
    assert weights.weights_id(file) == real(file) != digest
    assert len(list((weights.cache_dir() / "hashes").iterdir())) == 1, "one entry per path"


def test_weights_id_of_a_cached_model_is_its_recorded_hash(fetched: Path) -> None:
    assert weights.weights_id("tiny") == _source()["safetensors"]["sha256"]
    assert not (weights.cache_dir() / "hashes").exists()


# ---------------------------------------------------------------------------------------------
# Junk given as --weights: plain messages, no library numbers


def _junk(tmp_path: Path, kind: str) -> Path:
    good_pt, good_st = tmp_path / "good.pt", tmp_path / "good.safetensors"
    torch.save(tiny_state(), good_pt)
    save_file(tiny_state(), str(good_st))
    junk = {
        "text.safetensors": b"these are my notes, not weights\n",
        "random.safetensors": bytes(range(256)) * 20,
        "empty.safetensors": b"",
        "cut.safetensors": good_st.read_bytes()[:-40],
        "text.pt": b"hello, a text file renamed .pt\n",
        "random.pt": b"\x13" + os.urandom(4000),
        "random-pickle.pt": b"\x80\x02" + os.urandom(4000),
        "cut.pt": good_pt.read_bytes()[: good_pt.stat().st_size // 2],
        "empty.pt": b"",
    }[kind]
    path = tmp_path / kind
    path.write_bytes(junk)
    return path


JUNK = {
    "text.safetensors": "does not begin with a safetensors header",
    "random.safetensors": "does not begin with a safetensors header",
    "empty.safetensors": "is empty (0 bytes)",
    "cut.safetensors": "ends before its last tensor",
    "text.pt": "is not a PyTorch checkpoint",
    "random.pt": "is not a PyTorch checkpoint",
    "random-pickle.pt": "is a damaged PyTorch checkpoint",
    "cut.pt": "is a damaged PyTorch checkpoint",
    "empty.pt": "is empty (0 bytes)",
}


@pytest.mark.parametrize("kind", sorted(JUNK))
def test_junk_weights_get_a_plain_message(tmp_path: Path, kind: str) -> None:
    path = _junk(tmp_path, kind)
    with pytest.raises(WeightsError) as caught:
        weights.load_model(path, default_architecture="depth-pro", builder=tiny_builder)
    message = caught.value.message
    assert message.startswith(str(path)) and JUNK[kind] in message
    rest = message.removeprefix(str(path)).replace("0 bytes", "")
    assert not re.search(r"\d", rest), f"an unexplained number in {message!r}"
    for library_text in ("PyTorch 2.6", "weights_only` argument", "deserializing", "pop from"):
        assert library_text not in str(caught.value)
    assert "\n" not in str(caught.value) and caught.value.hint


# ---------------------------------------------------------------------------------------------
# check_finite: what models produce


def test_check_finite_passes_finite_outputs_and_names_the_first_bad_one() -> None:
    good = torch.ones(4)
    weights.check_finite({"depth": good, "focal length": torch.tensor(500.0)}, "depth-pro")
    bad = torch.tensor([1.0, float("nan"), float("-inf"), 2.0])
    with pytest.raises(WeightsError) as caught:
        weights.check_finite({"depth": good, "opacities": bad}, None)
    assert caught.value.message == "the model produced NaN or infinite opacities (2 of 4 values)"
    assert caught.value.hint == (
        "the weights are damaged or not made for this model: pass other --weights"
    )
    with pytest.raises(WeightsError) as caught:
        weights.check_finite({"depth": bad}, "sharp", torch.float16)
    assert caught.value.hint == (
        "try --precision fp32 (half precision can overflow); if that fails too, the weights are "
        "damaged: download them again (`unflat models fetch sharp --force`)"
    )


def test_check_finite_weights_counts_bad_values_and_names_the_first_tensor() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    weights.check_finite_weights(model, "depth-pro")  # all finite: nothing happens
    with torch.no_grad():
        model[0].bias[1] = float("inf")
        model[1].running_var[:] = float("nan")  # a buffer counts too
    with pytest.raises(WeightsError) as caught:
        weights.check_finite_weights(model, "/w/x.pt")
    assert caught.value.message == (
        "the model with weights /w/x.pt has NaN or infinite weights (3 values in 2 tensors, "
        "the first 0.bias)"
    )
    assert "pass other --weights" in caught.value.hint
