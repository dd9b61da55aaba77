"""Convert MediaPipe's face/selfie TFLite models to the safetensors assets of ``unflat.face.nets``.

Maintenance tool, not part of the package. It fetches the ``mediapipe`` wheel (``pip download
--no-deps``, or ``--wheel PATH``), checks its sha256, reads the four ``.tflite`` files with
``tools/tflite_flatbuffer.py`` (no TFLite or MediaPipe runtime needed), and assigns every weight
to the matching parameter of the PyTorch module, in graph order:

* ``CONV_2D`` weights ``OHWI`` -> ``nn.Conv2d`` ``OIHW``;
* ``DEPTHWISE_CONV_2D`` ``1HWC`` -> grouped ``nn.Conv2d`` ``C1HW``;
* ``PRELU`` alpha ``11C`` -> ``nn.PReLU`` ``C``;
* ``Convolution2DTransposeBias`` (MediaPipe custom op) ``OHWI`` -> ``nn.ConvTranspose2d`` ``IOHW``.

Values are copied unchanged: float16-stored weights stay float16 in the safetensors file (the
modules load them as float32), float32 stay float32. Each layer's stride, kernel and padding
mode are checked against the graph, and every parameter must be assigned exactly once.

Graph order vs module order: where a graph branches into several outputs, the ops are grouped as
trunk first, then the ops that feed only output 0, then only output 1, ...; each group keeps
graph order. The modules register their layers in that order.

Usage::

    python tools/convert_mediapipe.py               # download, convert, write the assets
    python tools/convert_mediapipe.py --wheel mediapipe-0.10.21-...whl
    python tools/convert_mediapipe.py --check       # compare the existing assets, write nothing
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tflite_flatbuffer import Graph, Operator  # noqa: E402

MEDIAPIPE_VERSION = "0.10.21"
WHEEL_NAME = f"mediapipe-{MEDIAPIPE_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"

ASSETS = REPO / "src" / "unflat" / "assets" / "face"

# net name (an architecture in unflat.registry) -> model file inside the wheel
MODELS = {
    "blazeface_short": "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "face_mesh": "mediapipe/modules/face_landmark/face_landmark.tflite",
    "iris": "mediapipe/modules/iris_landmark/iris_landmark.tflite",
    "selfie_segmentation": "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
}

WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "PRELU", "CUSTOM:Convolution2DTransposeBias")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_wheel(dest: Path) -> Path:
    """``pip download`` the pinned wheel into ``dest``."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.11",
        "--platform",
        "manylinux_2_28_x86_64",
        "--dest",
        str(dest),
        f"mediapipe=={MEDIAPIPE_VERSION}",
    ]
    subprocess.run(cmd, check=True)
    wheel = dest / WHEEL_NAME
    if not wheel.is_file():
        raise SystemExit(f"pip did not produce {WHEEL_NAME} in {dest}")
    return wheel


def branch_order(graph: Graph, ops: list[Operator]) -> list[Operator]:
    """``ops`` as trunk first, then each output's own branch (each group in graph order)."""
    producers = {t: op for op in graph.compute_ops() for t in op.outputs}
    reach: dict[int, set[int]] = {op.index: set() for op in graph.compute_ops()}
    for k, out in enumerate(graph.outputs):
        stack = [producers[out]]
        while stack:
            op = stack.pop()
            if k in reach[op.index]:
                continue
            reach[op.index].add(k)
            stack.extend(producers[t] for t in op.inputs if t in producers)
    everything = set(range(len(graph.outputs)))

    def key(op: Operator) -> tuple[int, int]:
        r = reach[op.index]
        return (0 if r == everything else 1 + min(r), op.index)

    return sorted(ops, key=key)


def weight_layers(model):
    """``(name, module)`` of every module that owns parameters, in registration order."""
    return [(name, m) for name, m in model.named_modules() if list(m.parameters(recurse=False))]


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise SystemExit(f"mismatch: {what}")


def convert(graph: Graph, model) -> dict[str, np.ndarray]:
    """State dict for ``model`` (numpy, stored dtypes) from ``graph``'s weights."""
    from torch import nn

    ops = branch_order(graph, [op for op in graph.compute_ops() if op.op in WEIGHT_OPS])
    layers = weight_layers(model)
    _check(len(ops) == len(layers), f"{len(ops)} weight ops in the graph, {len(layers)} layers")
    state: dict[str, np.ndarray] = {}
    for op, (name, layer) in zip(ops, layers, strict=True):
        where = f"{name} <- op {op.index} {op.op}"
        w = graph.const(op.inputs[1])
        b = graph.const(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        opts = op.options
        if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            _check(isinstance(layer, nn.Conv2d), f"{where}: expected a Conv2d")
            _check(opts["dilation"] == (1, 1) and opts["activation"] == "NONE", where)
            _check(layer.stride == opts["stride"], f"{where}: stride {layer.stride}")
            k = layer.kernel_size[0]
            same = type(layer).__name__ == "Conv2dSame" or (
                layer.stride == (1, 1) and k % 2 == 1 and layer.padding == (k // 2, k // 2)
            )
            if k > 1 or opts["stride"] != (1, 1):
                want_same = opts["padding"] == "SAME"
                _check(
                    same == want_same and (want_same or layer.padding == (0, 0)),
                    f"{where}: padding {opts['padding']}",
                )
            if op.op == "CONV_2D":
                _check(layer.groups == 1, f"{where}: groups {layer.groups}")
                weight = w.transpose(0, 3, 1, 2)  # OHWI -> OIHW
            else:
                _check(opts["depth_multiplier"] == 1, f"{where}: depth multiplier")
                _check(layer.groups == layer.in_channels, f"{where}: not depthwise")
                weight = w.transpose(3, 0, 1, 2)  # 1HWC -> C1HW
            params = {"weight": weight, "bias": b}
        elif op.op == "PRELU":
            _check(isinstance(layer, nn.PReLU), f"{where}: expected a PReLU")
            params = {"weight": w.reshape(-1)}
        else:  # MediaPipe's Convolution2DTransposeBias: int32 {padding, stride_w, stride_h}
            _check(isinstance(layer, nn.ConvTranspose2d), f"{where}: expected a ConvTranspose2d")
            padding, stride_w, stride_h = np.frombuffer(op.custom_options, "<i4")
            _check(layer.stride == (stride_h, stride_w), f"{where}: stride")
            # TfLitePadding SAME == 1; with kernel == stride it pads nothing.
            _check(padding == 1 and layer.kernel_size == layer.stride, f"{where}: padding")
            _check(layer.padding == (0, 0) and layer.output_padding == (0, 0), where)
            params = {"weight": w.transpose(3, 0, 1, 2), "bias": b}  # OHWI -> IOHW
        own = dict(layer.named_parameters(recurse=False))
        _check(set(own) == {k for k, v in params.items() if v is not None}, f"{where}: params")
        for pname, value in params.items():
            if value is None:
                continue
            _check(
                tuple(own[pname].shape) == value.shape,
                f"{where}.{pname}: {tuple(own[pname].shape)} vs {value.shape}",
            )
            _check(value.dtype in (np.float16, np.float32), f"{where}.{pname}: {value.dtype}")
            state[f"{name}.{pname}" if name else pname] = np.ascontiguousarray(value)
    expected = set(model.state_dict())
    _check(set(state) == expected, f"unassigned: {sorted(expected - set(state))}")
    return state


def notice(hashes: dict[str, str]) -> str:
    lines = [
        "Face and selfie-segmentation model weights",
        "==========================================",
        "",
        "The *.safetensors files in this folder are weights of MediaPipe models by Google",
        "(https://github.com/google-ai-edge/mediapipe), licensed under the Apache License,",
        "Version 2.0 (see LICENSE in this folder).",
        "",
        f"Source: the mediapipe {MEDIAPIPE_VERSION} wheel from PyPI ({WHEEL_NAME},",
        f"sha256 {WHEEL_SHA256}).",
        "",
    ]
    for name, path in MODELS.items():
        lines += [f"{name}.safetensors", f"    from {path}", f"    sha256 {hashes[name]}"]
    lines += [
        "",
        "The weights were converted unchanged: tensors were only transposed from TFLite's",
        "layouts to PyTorch's (float16-stored weights kept as float16, float32 as float32).",
        "The network code in unflat/face/nets is an independent PyTorch re-implementation of",
        "the models' graphs.",
        "",
        "canonical_face.npz (MediaPipe's canonical face geometry: 468 vertices, 898 triangles,",
        "texture coordinates, 33 pose-fitting landmark weights; Apache-2.0, same LICENSE) comes",
        "from geometry_pipeline_metadata_landmarks.binarypb inside the npm package",
        "@mediapipe/face_mesh@0.4.1657299874; tools/extract_face_geometry.py extracts it",
        "unchanged.",
        "",
    ]
    return "\n".join(lines)


def _filename(name: str) -> str:
    """The asset file of face net ``name``, as unflat's model table names it."""
    from unflat.registry import get_entry

    return get_entry(name).files[0].filename


def check(folder: Path, states: dict[str, dict], notice_text: str, licence: bytes) -> int:
    """0 when ``folder`` holds exactly these tensors, NOTICE and LICENSE; else 1 (printed)."""
    from safetensors.numpy import load_file

    bad = []
    for name, state in states.items():
        path = folder / _filename(name)
        stored = load_file(str(path)) if path.is_file() else {}
        same = set(stored) == set(state) and all(
            stored[k].dtype == v.dtype and np.array_equal(stored[k], v) for k, v in state.items()
        )
        if not same:
            bad.append(path.name)
    for filename, content in (("NOTICE", notice_text.encode()), ("LICENSE", licence)):
        path = folder / filename
        if not path.is_file() or path.read_bytes() != content:
            bad.append(filename)
    print("assets match the wheel" if not bad else f"differ from the wheel: {', '.join(bad)}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> None:
    from safetensors.numpy import save_file

    from unflat.registry import build_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheel", type=Path, help="use this mediapipe wheel instead of pip")
    parser.add_argument("--out", type=Path, default=ASSETS, help="output folder")
    parser.add_argument(
        "--check", action="store_true", help="verify the assets in --out equal a fresh conversion"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        digest = sha256(wheel.read_bytes())
        if digest != WHEEL_SHA256:
            raise SystemExit(f"{wheel}: sha256 {digest}, expected {WHEEL_SHA256}")
        with zipfile.ZipFile(wheel) as z:
            blobs = {name: z.read(path) for name, path in MODELS.items()}
            licence = next(
                (z.read(n) for n in z.namelist() if n.endswith(".dist-info/LICENSE")), None
            )

    if licence is None:
        raise SystemExit("the wheel has no dist-info/LICENSE")
    hashes = {name: sha256(blob) for name, blob in blobs.items()}
    states = {
        name: convert(Graph(blob), build_model({"architecture": name}))
        for name, blob in blobs.items()
    }
    if args.check:
        raise SystemExit(check(args.out, states, notice(hashes), licence))

    args.out.mkdir(parents=True, exist_ok=True)
    for name, state in states.items():
        filename = _filename(name)
        metadata = {
            "source": f"mediapipe=={MEDIAPIPE_VERSION}:{MODELS[name]}",
            "source_sha256": hashes[name],
            "license": "Apache-2.0",
        }
        save_file(state, str(args.out / filename), metadata=metadata)
        (args.out / filename).chmod(0o644)
        n = sum(v.size for v in state.values())
        dtypes = sorted({str(v.dtype) for v in state.values()})
        print(f"{filename}: {len(state)} tensors, {n} values ({', '.join(dtypes)})")
    (args.out / "NOTICE").write_text(notice(hashes))
    (args.out / "LICENSE").write_bytes(licence)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
