"""Where a CPU precision path gains or loses: its parts, timed alone, in process CPU seconds.

Small probes that finish in seconds to minutes where a full-size Depth Pro run takes minutes to
an hour: one ViT-L block on one 384x384 patch (577 tokens), one decoder-sized convolution and
one transformer-sized linear layer, each per candidate path, one thread. CPU time, not wall time,
so that a busy shared machine measures the same work (wall time counts the neighbours too).

    python benchmarks/cpu_path_parts.py                 # every probe
    python benchmarks/cpu_path_parts.py --probes block  # block candidates only
    ONEDNN_VERBOSE=1 python benchmarks/cpu_path_parts.py --probes kernels  # names oneDNN's kernels
    # ONNX Runtime (fp32 and its dynamic int8) for one whole ViT-L pass, from a venv that has
    # torch, onnx and onnxruntime:
    python benchmarks/cpu_path_parts.py --probes onnx --onnx-dir /tmp/onnx
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from unflat.nn.inference import quantize_linears_int8
from unflat.nn.vit import Block, VisionTransformer, ViTConfig


def cpu_ms(step: Callable[[], object], repeats: int = 3) -> float:
    """Least process CPU milliseconds of ``repeats`` calls, after one warm-up call."""
    step()
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        step()
        best = min(best, time.process_time() - start)
    return best * 1000


def fp16_weights(module: nn.Module) -> nn.Module:
    """Linear weights stored fp16 and widened to fp32 at each call (half the weight memory)."""
    module = copy.deepcopy(module)
    for linear in [m for m in module.modules() if isinstance(m, nn.Linear)]:
        half = linear.weight.detach().half()
        del linear.weight
        linear.register_buffer("half_weight", half)
        linear.forward = lambda x, layer=linear: F.linear(x, layer.half_weight.float(), layer.bias)
    return module


def math_attention(module: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """The block with PyTorch's plain (math) attention instead of its fused CPU kernel."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def forward(x: torch.Tensor) -> torch.Tensor:
        with sdpa_kernel(SDPBackend.MATH):
            return module(x)

    return forward


def block_probe() -> None:
    """One ViT-L block, per candidate; x 24 blocks x 37 passes = one Depth Pro image."""
    torch.manual_seed(0)
    block = Block(ViTConfig()).eval().requires_grad_(False)
    x = torch.randn(1, 577, 1024)
    with torch.inference_mode():
        reference = block(x)
    candidates: dict[str, Callable[[], Callable]] = {
        "fp32": lambda: block,
        "fp32, math attention": lambda: math_attention(block),
        "fp16 weights, fp32 compute": lambda: fp16_weights(block),
        "bf16": lambda: copy.deepcopy(block).to(torch.bfloat16),
        "compile fp32 (inductor)": lambda: torch.compile(copy.deepcopy(block)),
    }
    for engine in ("onednn", "x86", "fbgemm"):
        if engine in torch.backends.quantized.supported_engines:
            candidates[f"int8 linears ({engine})"] = lambda engine=engine: quantize_linears_int8(
                copy.deepcopy(block), engine
            )
    for name, make in candidates.items():
        start = time.process_time()
        model = make()
        dtype = torch.bfloat16 if name == "bf16" else torch.float32
        with torch.inference_mode():
            out = model(x.to(dtype)).float()
            setup = time.process_time() - start
            ms = cpu_ms(lambda model=model, dtype=dtype: model(x.to(dtype)))
        error = ((out - reference).abs().max() / reference.abs().max()).item()
        image = ms * 24 * 37 / 1000
        print(
            f"block  {name:28s} {ms:7.1f} ms  (x888 = {image:6.1f} CPU-s / image)  "
            f"set-up + first call {setup:5.1f} CPU-s  rel. error {error:.1e}",
            flush=True,
        )


def kernel_probe() -> None:
    """A decoder convolution and a transformer linear layer in fp32, bf16 and int8."""
    torch.manual_seed(0)
    x = torch.relu(torch.randn(1, 256, 192, 192)).contiguous(memory_format=torch.channels_last)
    conv = nn.Conv2d(256, 256, 3, padding=1).eval().requires_grad_(False)
    conv.to(memory_format=torch.channels_last)
    tokens, linear = torch.randn(577, 1024), nn.Linear(1024, 4096).eval().requires_grad_(False)
    print(f"bf16 kernels in oneDNN (mkldnn): {torch.ops.mkldnn._is_mkldnn_bf16_supported()}")
    with torch.inference_mode():
        reference = conv(x)
        for dtype in (torch.float32, torch.bfloat16):
            convolution = copy.deepcopy(conv).to(dtype)
            layer = copy.deepcopy(linear).to(dtype)
            conv_ms = cpu_ms(lambda: convolution(x.to(dtype)))  # noqa: B023 - called at once
            linear_ms = cpu_ms(lambda: layer(tokens.to(dtype)))  # noqa: B023
            print(
                f"conv   3x3 256->256 at 192x192, {dtype!s:15s} {conv_ms:7.1f} ms; "
                f"linear 577x1024->4096 {linear_ms:6.1f} ms",
                flush=True,
            )
        quantized = quantize_linears_int8(copy.deepcopy(nn.Sequential(linear)), "onednn")
        print(f"linear int8 (onednn) {cpu_ms(lambda: quantized(tokens)):6.1f} ms", flush=True)
        int8_convolution(conv, x, reference)


def int8_convolution(conv: nn.Conv2d, x: torch.Tensor, reference: torch.Tensor) -> None:
    """Int8 convolution (weights per channel, input per tensor at run time, output range from
    the fp32 result: a calibrated static scale), quantise and dequantise included."""
    weight = conv.weight.detach()
    scales = weight.abs().amax(dim=(1, 2, 3)) / 127
    zeros = torch.zeros(len(scales), dtype=torch.long)
    for engine in ("onednn", "fbgemm"):
        if engine not in torch.backends.quantized.supported_engines:
            continue
        torch.backends.quantized.engine = engine
        packed_weight = torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8)
        packed = torch.ops.quantized.conv2d_prepack(
            packed_weight, conv.bias.detach(), [1, 1], [1, 1], [1, 1], 1
        )
        out_scale = float(reference.abs().amax()) * 2 / 255

        def run(packed=packed, out_scale=out_scale) -> torch.Tensor:
            qx = torch.quantize_per_tensor(x, float(x.abs().amax()) / 255, 0, torch.quint8)
            return torch.ops.quantized.conv2d(qx, packed, out_scale, 128).dequantize()

        error = ((run() - reference).abs().max() / reference.abs().max()).item()
        print(f"conv   int8 ({engine}) {cpu_ms(run):7.1f} ms  rel. error {error:.4f}", flush=True)


def onnx_probe(folder: Path) -> None:
    """One ViT-L pass (one 384x384 patch) in ONNX Runtime, fp32 and dynamic int8."""
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    torch.manual_seed(0)
    vit = VisionTransformer(ViTConfig()).eval().requires_grad_(False)
    x = torch.randn(1, 3, 384, 384)
    folder.mkdir(parents=True, exist_ok=True)
    fp32, int8 = folder / "vit.onnx", folder / "vit.int8.onnx"
    if not fp32.exists():
        torch.onnx.export(vit, (x,), fp32, dynamo=False, opset_version=17, input_names=["x"])
    if not int8.exists():
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8, per_channel=True)
    with torch.inference_mode():
        print(f"vit    torch fp32 {cpu_ms(lambda: vit(x), 1) / 1000:6.2f} CPU-s", flush=True)
    for model in (fp32, int8):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        seconds = cpu_ms(lambda s=session: s.run(None, {"x": x.numpy()}), 1) / 1000
        print(f"vit    onnxruntime {model.name:14s} {seconds:6.2f} CPU-s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--probes", nargs="+", default=["block", "kernels"], choices=["block", "kernels", "onnx"]
    )
    parser.add_argument("--onnx-dir", type=Path, default=Path("onnx-probe"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # eager quantization's deprecation notes
    if "block" in args.probes:
        block_probe()
    if "kernels" in args.probes:
        kernel_probe()
    if "onnx" in args.probes:
        onnx_probe(args.onnx_dir)


if __name__ == "__main__":
    main()
