"""``unflat depth VIDEO`` end to end on a tiny synthetic video with a folder of depth files."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from tests.conftest import shared_path
from unflat.cli import main
from unflat.datasets.depth_clips import Layer, jittered_depth, layered_clip, texture
from unflat.depth.metrics import abs_rel
from unflat.io.depth_files import load_depth
from unflat.io.video import probe_video, read_video, write_video
from unflat.pipelines.video_depth import VideoDepthPipeline, depth_files, is_video

FOCAL = 80.0
FRAMES = 14


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A 96x72 video of a wall and a board seen from a camera moving sideways, its true depth
    and a folder of per-frame depth files jittered in scale, shift and noise."""
    root = tmp_path_factory.mktemp("clip")
    layers = [
        Layer(texture(120, 160, 1), (-4, -3, 4, 3), 6.0),
        Layer(texture(60, 60, 2), (-0.9, -0.6, 0.2, 0.5), 3.0),
    ]
    frames = list(layered_clip(layers, size=(96, 72), focal_px=FOCAL, frames=FRAMES))
    video = write_video(root / "clip.mp4", [frame.rgb for frame in frames], fps=10)
    folder = root / "depth"
    folder.mkdir()
    for index, frame in enumerate(frames):  # f0 ... f13: natural order, not f0, f1, f10 ...
        np.save(folder / f"f{index}.npy", jittered_depth(frame.depth, index, seed=4))
    return {"video": video, "folder": folder, "truth": [frame.depth for frame in frames]}


def run(*args: object) -> int:
    return main(["depth", *(str(arg) for arg in args)])


def test_video_depth_writes_png_sequence_preview_and_sidecar(clip, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = run(clip["video"], "-o", out, "--depth", clip["folder"], "--focal-px", FOCAL)
    assert code == 0, capsys.readouterr().err
    folder = out / "clip"
    names = sorted(path.name for path in folder.iterdir())
    assert names == [f"{i:06d}.png" for i in range(FRAMES)] + ["depth.json", "preview.mp4"]
    assert sorted(path.name for path in out.iterdir()) == ["clip"]  # nothing else, nothing hidden
    sidecar = json.loads((folder / "depth.json").read_text())
    assert sidecar["frames"] == FRAMES and sidecar["fps"] == pytest.approx(10)
    assert sidecar["focal_px"] == FOCAL and sidecar["focal_source"] == "user"
    assert sidecar["stabilised"] is True
    flicker = sidecar["flicker"]
    assert flicker["output_relative"] < flicker["input_relative"] / 3
    # the PNGs hold millimetres, closer to the truth than the jittered files were
    for index in (4, 9, 13):
        written = load_depth(folder / f"{index:06d}.png")
        given = np.load(clip["folder"] / f"f{index}.npy")
        truth = clip["truth"][index]
        known = np.isfinite(truth)
        assert abs_rel(written, truth, known) < abs_rel(given, truth, known)
    preview = probe_video(folder / "preview.mp4")
    assert (preview.width, preview.height) == (96, 72)
    with read_video(folder / "preview.mp4") as reader:
        assert sum(1 for _ in reader) == FRAMES


def test_rerun_skips_and_overwrite_redoes_without_stabilising(clip, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    options = ["-o", out, "--depth", clip["folder"], "--focal-px", FOCAL]
    assert run(clip["video"], *options, "--no-preview") == 0
    assert run(clip["video"], *options) == 0
    assert "0 written, 1 already done" in capsys.readouterr().err
    assert run(clip["video"], *options, "--overwrite", "--no-stabilise", "--no-preview") == 0
    sidecar = json.loads((out / "clip" / "depth.json").read_text())
    assert sidecar["stabilised"] is False and sidecar["stabiliser"] is None
    assert sidecar["flicker"]["output_relative"] == sidecar["flicker"]["input_relative"]
    written = load_depth(out / "clip" / "000007.png")
    np.testing.assert_allclose(written, np.load(clip["folder"] / "f7.npy"), atol=0.0006)
    assert not (out / "clip" / "preview.mp4").exists()
    assert [p.name for p in out.iterdir()] == ["clip"]


def test_python_api_streams_depth_maps(clip) -> None:
    pipeline = VideoDepthPipeline(depth_folder=clip["folder"], focal_px=FOCAL)
    maps = list(pipeline(clip["video"]))
    assert len(maps) == FRAMES
    assert all(m.focal_px == FOCAL and m.depth.shape == (72, 96) for m in maps)


def test_a_video_is_told_from_a_photo(clip, tmp_path) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photo)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    assert is_video(clip["video"]) and is_video(broken)
    assert not is_video(photo) and not is_video(text)
    assert [p.name for p in depth_files(clip["folder"])][:3] == ["f0.npy", "f1.npy", "f2.npy"]


def empty_video(path: Path) -> Path:
    """A Matroska file whose video stream never got a frame (only sound was written)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 16, 16, "yuv420p"
        audio = container.add_stream("aac", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.float32), format="fltp", layout="mono"
        )
        frame.rate, frame.pts = 8000, 0
        for packet in [*audio.encode(frame), *audio.encode(None)]:
            container.mux(packet)
    return path


def test_bad_videos_fail_in_one_line_and_leave_nothing(clip, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    data = clip["video"].read_bytes()
    cut = tmp_path / "cut.mp4"  # its index promises frames that are gone
    cut.write_bytes(data[: data.find(b"mdat") + 8])
    for video, message in [(empty_video(tmp_path / "empty.mkv"), "has no frames"),
                           (cut, "truncated")]:  # fmt: skip
        assert run(video, "-o", out, "--depth", clip["folder"], "--focal-px", FOCAL) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
        assert not out.exists()


def test_depth_folder_mismatches_fail_and_leave_nothing(clip, tmp_path, capsys) -> None:
    short = tmp_path / "short"
    short.mkdir()
    for path in depth_files(clip["folder"])[:-2]:
        (short / path.name).write_bytes(path.read_bytes())
    out = tmp_path / "out"
    # an mp4 says how many frames it has: refused before any work
    assert run(clip["video"], "-o", out, "--depth", short, "--focal-px", FOCAL) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: {clip['video']} has {FRAMES} frames but {short} holds {FRAMES - 2} depth files "
        "— give one depth file per frame, named in frame order"
    ]
    assert not out.exists()
    # a WebM does not: the run stops when the files run out, and what it wrote goes
    with read_video(clip["video"]) as reader:
        webm = write_video(tmp_path / "clip.webm", reader, fps=10)
    out.mkdir()
    assert run(webm, "-o", out, "--depth", short, "--focal-px", FOCAL) == 2
    assert f"more than {FRAMES - 2} frames" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_depth_folder_is_for_one_video(clip, tmp_path, capsys) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photo)
    other = tmp_path / "other.mp4"
    other.write_bytes(clip["video"].read_bytes())
    for inputs, message in [([photo, clip["video"]], "photos were given"),
                            ([clip["video"], other], "2 videos were given")]:  # fmt: skip
        assert run(*inputs, "-o", tmp_path / "out", "--depth", clip["folder"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "out").exists()


def test_a_folder_with_someone_elses_files_is_not_replaced(clip, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    (out / "clip").mkdir(parents=True)
    (out / "clip" / "notes.txt").write_text("mine")
    assert run(clip["video"], "-o", out, "--depth", clip["folder"], "--focal-px", FOCAL) == 2
    assert "holds files unflat did not write (notes.txt)" in capsys.readouterr().err
    assert [p.name for p in (out / "clip").iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in out.iterdir()) == ["clip"]


def test_photos_and_a_video_in_one_call_with_depth_pro(tmp_path, capsys) -> None:
    # Depth Pro (the tiny test model) for both; the video's focal length is the median of its
    # frames' estimates, and the photo's outputs are those of `unflat depth` as before.
    weights = shared_path("fixtures", "depth_pro_tiny_a")
    layers = [Layer(texture(60, 80, 1), (-4, -3, 4, 3), 6.0)]
    frames = [f.rgb for f in layered_clip(layers, size=(48, 32), focal_px=40, frames=2)]
    video = write_video(tmp_path / "walk.mp4", frames, fps=5)
    photo = tmp_path / "still.png"
    Image.fromarray(frames[0]).save(photo)
    out = tmp_path / "out"
    assert run(photo, video, "-o", out, "--weights", weights) == 0, capsys.readouterr().err
    assert (out / "still.depth_mm.png").is_file() and (out / "still.json").is_file()
    sidecar = json.loads((out / "walk" / "depth.json").read_text())
    assert sidecar["frames"] == 2 and sidecar["focal_source"] == "model (median of 2 frames)"
    assert sidecar["depth"] == str(weights)
    assert load_depth(out / "walk" / "000001.png").shape == (32, 48)


def test_depth_files_without_a_focal_length_ask_for_one(clip, tmp_path, capsys, monkeypatch):
    import unflat.weights

    monkeypatch.setattr(unflat.weights, "is_cached", lambda name: False)  # no Depth Pro to ask
    out = tmp_path / "out"
    assert run(clip["video"], "-o", out, "--depth", clip["folder"]) == 2
    err = capsys.readouterr().err
    assert "no focal length" in err and "--focal-px" in err
    assert not out.exists()
