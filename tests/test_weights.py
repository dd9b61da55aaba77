"""The model registry, cache layout, .pt conversion, model loading and the ``models`` commands."""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from unflat import registry, weights
from unflat.errors import WeightsError
from unflat.weights import checkpoints, fetching, integrity

FIXTURE = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "depth_pro_tiny_a"
TINY_CONFIG = {"architecture": "tiny_mlp", "hidden": 4}


class _Unpicklable:
    """An arbitrary Python object: ``weights_only`` loading must refuse it."""

    def __init__(self) -> None:
        self.payload = "not a tensor"


def tiny_builder(config: dict) -> nn.Module:
    assert config["architecture"] == "tiny_mlp"
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, config["hidden"]), nn.ReLU(), nn.Linear(config["hidden"], 2))
    model.register_buffer("steps", torch.tensor(0, dtype=torch.int64))
    return model


def tiny_state(dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """A state dict for ``tiny_builder`` whose values differ from its random init."""
    generator = torch.Generator().manual_seed(1)
    state = {
        key: torch.randn(value.shape, generator=generator).to(dtype)
        if value.is_floating_point()
        else torch.tensor(7, dtype=torch.int64)
        for key, value in tiny_builder(TINY_CONFIG).state_dict().items()
    }
    return state


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A private cache per test, and no network beyond 127.0.0.1."""
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("UNFLAT_OFFLINE", raising=False)
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] in ("127.0.0.1", "localhost"), f"test tried to reach {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over loopback HTTP: (folder, base URL)."""
    folder = tmp_path / "www"
    folder.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _register_tiny(monkeypatch: pytest.MonkeyPatch, urls: tuple[str, ...] = (), **file_kw) -> None:
    entry = registry.ModelEntry(
        name="tiny",
        task="test",
        architecture=dict(TINY_CONFIG),
        description="a test model",
        files=(registry.WeightFile("tiny.pt", urls, **file_kw),),
        licence="Test Licence",
        licence_url="https://licence.invalid/tiny",
        licence_summary="for tests only",
        commercial_use=True,
        homepage="https://home.invalid/tiny",
        paper="none",
    )
    monkeypatch.setitem(registry._MODELS, "tiny", entry)


# ---------------------------------------------------------------------------------------------
# Registry and cache


def test_registry_holds_depth_pro_and_sharp_as_research_only() -> None:
    names = [entry.name for entry in registry.list_entries()]
    assert {"depth-pro", "sharp"} <= set(names)
    depth = registry.get_entry("depth-pro")
    assert depth.architecture == {"architecture": "depth_pro"}
    assert depth.files[0].filename == "depth_pro.pt"
    assert depth.files[0].urls[0] == "https://ml-site.cdn-apple.com/models/depth-pro/depth_pro.pt"
    assert any("huggingface.co/apple/DepthPro" in url for url in depth.files[0].urls)
    assert depth.commercial_use is False and depth.research_only
    sharp = registry.get_entry("sharp")
    assert sharp.files[0].urls == (
        "https://ml-site.cdn-apple.com/models/sharp/sharp_2572gikvuh.pt",
    )
    assert sharp.commercial_use is False
    for entry in registry.list_entries():
        for file in entry.files:
            # A hash is either absent or a real sha256, never a placeholder.
            assert file.sha256 is None or len(file.sha256) == 64


def test_lookup_accepts_underscores_and_case() -> None:
    assert registry.get_entry("Depth_Pro").name == "depth-pro"


def test_typo_suggests_the_close_name_and_lists_all() -> None:
    with pytest.raises(WeightsError) as caught:
        registry.get_entry("depht-pro")
    assert "did you mean 'depth-pro'" in caught.value.hint
    assert "sharp" in caught.value.hint


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path / "u"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert weights.cache_dir() == tmp_path / "u" / "models"
    monkeypatch.delenv("UNFLAT_HOME")
    assert weights.cache_dir() == tmp_path / "x" / "unflat" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert weights.cache_dir() == tmp_path / "h" / ".cache" / "unflat" / "models"
    assert (
        weights.weights_path("depth-pro") == weights.cache_dir() / "depth-pro" / "model.safetensors"
    )


# ---------------------------------------------------------------------------------------------
# Fetching and conversion


def test_fetch_downloads_converts_once_and_shows_the_licence_once(
    monkeypatch: pytest.MonkeyPatch, served: tuple[Path, str], capsys: pytest.CaptureFixture
) -> None:
    folder, base = served
    state = tiny_state()
    torch.save({"state_dict": state, "epoch": 3}, folder / "tiny.pt")
    _register_tiny(monkeypatch, (f"{base}/tiny.pt",))

    path = weights.fetch("tiny", progress=False)
    assert path == weights.weights_path("tiny")
    loaded = load_file(path)
    assert loaded.keys() == state.keys()
    for key, value in state.items():
        # The on-disk dtype is kept (float16 stays float16); the loader casts.
        assert loaded[key].dtype == value.dtype and torch.equal(loaded[key], value)
    cached = path.parent
    assert not (cached / "tiny.pt").exists(), "the .pt is deleted once converted"
    assert json.loads((cached / "config.json").read_text()) == TINY_CONFIG
    source = json.loads((cached / "source.json").read_text())
    assert source["files"][0]["sha256"] == weights.file_sha256(folder / "tiny.pt")
    assert "https://licence.invalid/tiny" in capsys.readouterr().err

    def no_conversion(*args: object) -> None:
        raise AssertionError("converted twice")

    real_reader = weights.read_checkpoint
    monkeypatch.setattr(fetching, "read_checkpoint", no_conversion)
    assert weights.fetch("tiny", progress=False) == path
    monkeypatch.setattr(fetching, "read_checkpoint", real_reader)
    weights.fetch("tiny", progress=False, force=True)
    assert "licence" not in capsys.readouterr().err.lower(), "the licence is shown only once"


def test_fetch_uses_a_hand_placed_file_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    _register_tiny(monkeypatch, ("http://127.0.0.1:9/never-used",))
    monkeypatch.setenv("UNFLAT_OFFLINE", "1")
    target = weights.cache_dir() / "tiny" / "tiny.pt"
    target.parent.mkdir(parents=True)
    torch.save(tiny_state(), target)
    assert load_file(weights.fetch("tiny", progress=False)).keys() == tiny_state().keys()


def test_fetch_offline_without_the_file_says_where_to_put_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UNFLAT_OFFLINE", "1")
    with pytest.raises(WeightsError) as caught:
        weights.fetch("depth-pro", progress=False)
    expected = weights.cache_dir() / "depth-pro" / "depth_pro.pt"
    assert f"save it as {expected}" in str(caught.value)
    assert "https://ml-site.cdn-apple.com/models/depth-pro/depth_pro.pt" in str(caught.value)


def test_hand_placed_file_of_the_wrong_size_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _register_tiny(monkeypatch, (), size_bytes=10)
    target = weights.cache_dir() / "tiny" / "tiny.pt"
    target.parent.mkdir(parents=True)
    torch.save(tiny_state(), target)
    with pytest.raises(WeightsError, match=r"not the published tiny\.pt"):
        weights.fetch("tiny", progress=False)


def test_pickle_with_python_objects_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _register_tiny(monkeypatch)
    target = weights.cache_dir() / "tiny" / "tiny.pt"
    target.parent.mkdir(parents=True)
    torch.save({"weight": torch.ones(2), "object": _Unpicklable()}, target)
    with pytest.raises(WeightsError, match="not a plain tensor checkpoint") as caught:
        weights.fetch("tiny", progress=False)
    assert "weights_only" in caught.value.hint
    assert not weights.weights_path("tiny").exists()


def test_read_checkpoint_unwraps_model_and_ddp_prefix(tmp_path: Path) -> None:
    path = tmp_path / "ddp.pth"
    torch.save({"model": {"module.a": torch.ones(1), "module.sub": {"b": torch.zeros(2)}}}, path)
    state = weights.read_checkpoint(path)
    assert sorted(state) == ["a", "sub.b"]


def test_shared_storage_tensors_are_saved(tmp_path: Path) -> None:
    tied = torch.randn(3, 3)
    checkpoints.save_safetensors({"a": tied, "b": tied, "c": tied[0]}, tmp_path / "m.safetensors")
    loaded = load_file(tmp_path / "m.safetensors")
    assert torch.equal(loaded["b"], tied) and torch.equal(loaded["c"], tied[0])


# ---------------------------------------------------------------------------------------------
# Loading models


def _model_folder(root: Path, state: dict[str, torch.Tensor], config: dict = TINY_CONFIG) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(config))
    save_file(state, str(root / "model.safetensors"))
    return root


def _assert_ready(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    assert not model.training
    assert all(not p.requires_grad for p in model.parameters())
    for key, value in model.state_dict().items():
        assert torch.equal(
            value, state[key].float() if state[key].is_floating_point() else state[key]
        )
        if value.is_floating_point():
            assert value.dtype == torch.float32


def test_load_model_from_a_folder_with_a_builder(tmp_path: Path) -> None:
    state = tiny_state()
    folder = _model_folder(tmp_path / "tiny_a", state)
    _assert_ready(weights.load_model(folder, builder=tiny_builder), state)


def test_load_model_uses_the_registrys_build_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(registry, "build_model", tiny_builder)
    state = tiny_state()
    folder = _model_folder(tmp_path / "tiny_a", state)
    model = weights.load_model(str(folder), dtype=torch.bfloat16)
    assert next(model.parameters()).dtype == torch.bfloat16


def test_load_model_from_a_registry_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _register_tiny(monkeypatch)
    target = weights.cache_dir() / "tiny" / "tiny.pt"
    target.parent.mkdir(parents=True)
    torch.save(tiny_state(), target)
    _assert_ready(weights.load_model("tiny", builder=tiny_builder, progress=False), tiny_state())


def test_load_model_from_a_pt_file_uses_the_default_architecture(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _register_tiny(monkeypatch)
    checkpoint = tmp_path / "mine.pt"
    torch.save(tiny_state(), checkpoint)
    model = weights.load_model(checkpoint, default_architecture="tiny", builder=tiny_builder)
    _assert_ready(model, tiny_state())
    converted = list((weights.cache_dir() / "converted").glob("*/model.safetensors"))
    assert len(converted) == 1, "a user's .pt is converted once into the cache"
    # The --weights form: a registry name plus a file.
    model = weights.load_model("tiny", weights=str(checkpoint), builder=tiny_builder)
    _assert_ready(model, tiny_state())


def test_weights_folder_config_wins_over_the_registry_config(tmp_path: Path) -> None:
    folder = _model_folder(tmp_path / "tiny_a", tiny_state())
    model = weights.load_model("depth-pro", weights=folder, builder=tiny_builder)
    _assert_ready(model, tiny_state())


def test_mismatching_weights_name_the_keys(tmp_path: Path) -> None:
    state = tiny_state()
    state["extra.weight"] = state.pop("0.bias")
    folder = _model_folder(tmp_path / "bad", state)
    with pytest.raises(WeightsError) as caught:
        weights.load_model(folder, builder=tiny_builder)
    message = str(caught.value)
    assert "does not match the tiny_mlp architecture" in message
    assert "1 missing (0.bias)" in message and "1 unexpected (extra.weight)" in message


def test_mis_shaped_weights_are_reported(tmp_path: Path) -> None:
    state = tiny_state()
    state["2.weight"] = torch.zeros(5, 5, dtype=torch.float16)
    folder = _model_folder(tmp_path / "bad", state)
    with pytest.raises(WeightsError, match=r"1 mis-shaped \(2.weight \(5, 5\) vs \(2, 4\)\)"):
        weights.load_model(folder, builder=tiny_builder)


def test_bad_arguments_are_weights_errors(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="does not exist"):
        weights.load_model(tmp_path / "nowhere.safetensors")
    with pytest.raises(WeightsError, match="did you mean 'sharp'"):
        weights.load_model("sharpp")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError, match=r"has no config\.json"):
        weights.load_model(tmp_path / "empty")
    with pytest.raises(WeightsError, match=r"has no model\.safetensors"):
        weights.resolve_weights(None, tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(WeightsError, match="neither"):
        weights.resolve_weights(None, tmp_path / "notes.txt")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        weights.load_model(tmp_path / "junk.safetensors", builder=tiny_builder)


@pytest.mark.skipif(not FIXTURE.is_dir(), reason="shared fixtures not present")
def test_load_model_builds_the_depth_pro_fixture() -> None:
    model = weights.load_model(FIXTURE)
    reference = load_file(FIXTURE / "model.safetensors")
    loaded = model.state_dict()
    assert loaded.keys() >= reference.keys()
    assert all(torch.equal(loaded[k], v.float()) for k, v in reference.items())


# ---------------------------------------------------------------------------------------------
# Weights identity


def test_weights_id_is_the_sha256_and_is_cached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = _model_folder(tmp_path / "m", tiny_state())
    file = folder / "model.safetensors"
    digest = weights.weights_id(folder)
    assert digest == weights.file_sha256(file)
    assert not (folder / "model.safetensors.sha256").exists(), "nothing is written beside it"
    assert len(list((weights.cache_dir() / "hashes").glob("*.json"))) == 1

    real = weights.file_sha256
    monkeypatch.setattr(integrity, "file_sha256", lambda path: pytest.fail("hashed twice"))
    assert weights.weights_id(file) == digest
    save_file(tiny_state(torch.float32), str(file))
    os.utime(file, ns=(1, 1))  # a different mtime and size: the sidecar is stale
    monkeypatch.setattr(integrity, "file_sha256", real)
    assert weights.weights_id(file) == real(file) != digest


def test_weights_id_of_a_name_not_downloaded_says_how_to_fetch() -> None:
    with pytest.raises(WeightsError) as caught:
        weights.weights_id("depth-pro")
    assert "unflat models fetch depth-pro" in caught.value.hint


# ---------------------------------------------------------------------------------------------
# The ``unflat models`` commands


def _cli(argv: list[str]) -> int:
    """``unflat.cli.main``; just the models sub-app if sibling command modules are missing."""
    try:
        from unflat.cli import depth, evaluate, main  # noqa: F401
    except ImportError:
        import unflat.cli.models  # noqa: F401 - registers the sub-app
        from unflat.cli.app import app, run

        return run(app, argv)
    return main(argv)


def test_cli_list(capsys: pytest.CaptureFixture) -> None:
    assert _cli(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "depth-pro" in out and "sharp" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("depth-pro"))
    assert "research only" in row and "~1.9 GB" in row
    assert row.split()[-2:] == ["no", "no"]  # commercial use, cached


def test_cli_info(capsys: pytest.CaptureFixture) -> None:
    assert _cli(["models", "info", "depth-pro"]) == 0
    out = capsys.readouterr().out
    assert "https://huggingface.co/apple/DepthPro/blob/main/LICENSE" in out
    assert "research use only" in out
    assert "https://huggingface.co/apple/DepthPro/resolve/main/depth_pro.pt" in out
    assert str(weights.weights_path("depth-pro")) in out


def test_cli_path_fails_with_the_fetch_hint_then_fetch_and_path_work(
    monkeypatch: pytest.MonkeyPatch, served: tuple[Path, str], capsys: pytest.CaptureFixture
) -> None:
    folder, base = served
    torch.save(tiny_state(), folder / "tiny.pt")
    _register_tiny(monkeypatch, (f"{base}/tiny.pt",))

    assert _cli(["models", "path", "tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unflat models fetch tiny" in err

    assert _cli(["models", "fetch", "tiny", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(weights.weights_path("tiny"))
    assert _cli(["models", "path", "tiny"]) == 0
    assert capsys.readouterr().out.strip() == str(weights.weights_path("tiny"))
    assert _cli(["models", "list"]) == 0
    row = next(
        line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("tiny")
    )
    assert row.split()[-2:] == ["yes", "yes"]


def test_cli_unknown_model_is_one_line_and_exit_2(capsys: pytest.CaptureFixture) -> None:
    assert _cli(["models", "info", "depth-prp"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'depth-pro'" in err
