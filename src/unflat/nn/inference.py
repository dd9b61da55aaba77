"""Fast inference paths: lower precision, int8 linear layers, channels-last convolutions.

The fp32 model is the reference; these functions turn a loaded model into a faster one whose
error against it is measured (see BENCHMARKS.md). All of them change the model in place.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from unflat.cpu_features import has_bf16_kernels
from unflat.errors import DeviceError
from unflat.nn.memory import release_freed_memory


def _parameter_dtype(module: nn.Module) -> torch.dtype | None:
    for parameter in module.parameters(recurse=False):
        if parameter.is_floating_point():
            return parameter.dtype
    return None


def _cast_hook(dtype: torch.dtype):
    def hook(module: nn.Module, args: tuple) -> tuple:
        return tuple(
            a.to(dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a
            for a in args
        )

    return hook


def cast_inputs_to_weights(model: nn.Module) -> nn.Module:
    """Make every layer cast its floating inputs to its own weights' dtype.

    This lets one model mix precisions (say fp32 transformers with int8 matmuls, and bf16
    convolutions) without touching its forward code: the cast happens only at layers whose
    input dtype differs from their weights'.
    """
    for module in model.modules():
        if isinstance(module, QUANTIZED_LINEAR_TYPES):
            dtype = torch.float32  # dynamic int8 linears take fp32 activations
        else:
            dtype = _parameter_dtype(module)
        if dtype is not None:
            module.register_forward_pre_hook(_cast_hook(dtype))
    return model


def _quantized_linear_types() -> tuple[type, ...]:
    try:
        from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    except ImportError:  # a PyTorch without eager-mode quantization
        return ()
    return (DynamicLinear,)


QUANTIZED_LINEAR_TYPES = _quantized_linear_types()


def quantize_linears_int8(module: nn.Module, engine: str | None = None) -> nn.Module:
    """Replace the ``nn.Linear`` layers of an fp32 ``module`` by dynamic int8 ones (CPU).

    Weights are quantised per output channel ahead of time; activations per tensor at run
    time. On CPUs with VNNI this runs the matmuls about 3x faster than fp32. ``engine`` names
    the quantized backend that packs the weights (``onednn``, ``x86``, ``fbgemm``; None: torch's
    default); the packed weights keep it, so the process-wide setting is restored after.
    """
    if not QUANTIZED_LINEAR_TYPES:
        raise DeviceError(
            "this PyTorch build has no int8 dynamic quantization",
            "use --precision bf16 or fp32",
        )
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    before = torch.backends.quantized.engine
    if engine is not None and engine not in torch.backends.quantized.supported_engines:
        engine = None  # say, an ARM build without oneDNN's int8: torch's default packs them
    with warnings.catch_warnings():
        # Eager-mode quantization is deprecated in favour of torchao, but it is what ships
        # with the CPU wheel; the warning is for library authors, not our users.
        warnings.simplefilter("ignore")
        try:
            if engine is not None:
                torch.backends.quantized.engine = engine
            return quantize_dynamic(
                module, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
            )
        finally:
            torch.backends.quantized.engine = before


def mixed_int8_bf16(
    model: nn.Module, transformer_types: tuple[type, ...], device: torch.device
) -> nn.Module:
    """Transformers in fp32 with int8 linear layers; everything else in bf16, channels-last.

    Transformer matmuls gain most from int8; convolutions from bf16 with channels-last
    layout (oneDNN's preferred one). CPU only. On a CPU without oneDNN bf16 kernels (AVX2
    only), bf16 convolutions fall to a generic kernel 7.6x slower than fp32 (BENCHMARKS.md),
    so there the rest stays fp32: the :func:`int8_fp32` path.
    """
    from unflat.device import check_precision

    check_precision("int8", device)
    if not has_bf16_kernels():
        return int8_fp32(model, transformer_types, device)
    low_precision(model, torch.bfloat16, device, transformer_types)
    for module in _outermost(model, transformer_types):
        module.float()
        quantize_piecewise(module)
    return cast_inputs_to_weights(model)


def int8_fp32(
    model: nn.Module, transformer_types: tuple[type, ...], device: torch.device
) -> nn.Module:
    """Int8 transformer linears (oneDNN's kernels), everything else fp32 with channels-last
    convolutions: the fast path on CPUs without bf16 (AVX2, AVX-512 without BF16).

    There, bf16 convolutions and matmuls fall to slow generic kernels (the ``int8`` path's
    bf16 decoder is ~6x slower than fp32 on AVX2), while int8 matmuls still have tuned ones.
    """
    from unflat.device import check_precision

    check_precision("int8-fp32", device)
    low_precision(model, torch.float32, device, transformer_types)
    for module in _outermost(model, transformer_types):
        quantize_piecewise(module, engine="onednn")
    return model


def _outermost(model: nn.Module, types: tuple[type, ...]) -> list[nn.Module]:
    """The modules of ``types`` in ``model`` that are not inside another one."""
    if isinstance(model, types):
        return [model]
    return [found for child in model.children() for found in _outermost(child, types)]


def quantize_piecewise(module: nn.Module, engine: str | None = None) -> nn.Module:
    """:func:`quantize_linears_int8` one child at a time (a ViT block, say), handing the fp32
    weights it frees back to the OS after each: the process then peaks near the fp32 model's
    size instead of holding both copies (full-size Depth Pro: 6.0 -> 4.1 GB while quantising).
    """
    for child in module.children():
        if isinstance(child, nn.ModuleList | nn.Sequential | nn.ModuleDict):
            quantize_piecewise(child, engine)
        elif not isinstance(child, nn.Linear):
            quantize_linears_int8(child, engine)
            release_freed_memory(collect=False)  # the replaced linears were freed at once
    quantize_linears_int8(module, engine)  # the linears directly under it
    release_freed_memory()
    return module


def channels_last_convolutions(model: nn.Module, skip: tuple[type, ...] = ()) -> nn.Module:
    """Put the convolutions of ``model``, except inside ``skip`` modules, in channels-last.

    Channels-last is oneDNN's preferred layout: Depth Pro's decoder and head run 1.5x (fp32)
    to 1.6x (bf16) faster in it here. Transformers are skipped: their only convolution is the
    patch embedding, whose output is flattened into tokens at once.
    """
    for child in model.children():
        if skip and isinstance(child, skip):
            continue
        if isinstance(child, nn.Conv2d | nn.ConvTranspose2d):
            child.to(memory_format=torch.channels_last)
        else:
            channels_last_convolutions(child, skip)
    return model


def low_precision(
    model: nn.Module, dtype: torch.dtype, device: torch.device, skip: tuple[type, ...] = ()
) -> nn.Module:
    """The whole model in ``dtype``; on the CPU, convolutions outside ``skip`` channels-last."""
    model.to(dtype=dtype)
    if device.type == "cpu":
        channels_last_convolutions(model, skip)
        release_freed_memory()  # the fp32 copies of converted weights
    return model


def apply_precision(
    model: nn.Module,
    precision: str,
    device: torch.device,
    transformer_types: tuple[type, ...] = (),
) -> torch.dtype:
    """Turn an fp32 ``model`` into the ``precision`` path in place; return its input dtype.

    ``fp32`` is the reference; ``bf16``/``fp16`` the whole model in that dtype; ``int8`` the
    :func:`mixed_int8_bf16` CPU path and ``int8-fp32`` the :func:`int8_fp32` one, with
    ``transformer_types`` naming the blocks to quantise.
    """
    from unflat.device import pick_dtype

    if precision == "int8":
        mixed_int8_bf16(model, transformer_types, device)
        return torch.bfloat16 if has_bf16_kernels() else torch.float32
    if precision == "int8-fp32":
        int8_fp32(model, transformer_types, device)
        return torch.float32
    dtype = pick_dtype(precision, device)
    low_precision(model, dtype, device, transformer_types)
    return dtype
