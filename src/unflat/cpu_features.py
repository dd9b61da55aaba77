"""What the processor offers and what the installed torch can use of it.

The same network runs 2x faster or 4x slower in int8 or bf16 depending on the processor: with
AVX-512 BF16 and VNNI (Zen 4) the int8 path beat fp32 2.27x; on an AVX2-only EPYC it took 4x as
long, its bf16 convolutions falling to slow generic kernels. ``--precision auto`` chooses by
what is read here.

The parsers are pure functions of text (``/proc/cpuinfo``, ``sysctl`` output), so every
processor kind is testable from a recorded string; :func:`detect` reads this machine.
Feature names are Linux's x86 flag names (``avx2``, ``avx512_bf16``, ``amx_int8``...) and, for
ARM, ``neon``, ``fp16``, ``dotprod``, ``bf16``, ``i8mm``, ``sve``, ``sve2``, ``sme``.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: x86 flags that matter for the precision paths (Linux's spelling), in the order said.
X86_FEATURES = (
    "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
    "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8",
)  # fmt: skip
ARM_FEATURES = ("neon", "fp16", "dotprod", "bf16", "i8mm", "sve", "sve2", "sme", "sme2")

#: Linux's ARM ``Features`` words -> our names (the others are read as they are).
_LINUX_ARM_NAMES = {"asimd": "neon", "asimdhp": "fp16", "asimddp": "dotprod"}

#: macOS ``sysctl hw.optional`` keys -> our names (ARM and Intel Macs).
_SYSCTL_NAMES = {
    "hw.optional.neon": "neon",
    "hw.optional.AdvSIMD": "neon",
    "hw.optional.neon_fp16": "fp16",
    "hw.optional.arm.FEAT_FP16": "fp16",
    "hw.optional.arm.FEAT_DotProd": "dotprod",
    "hw.optional.arm.FEAT_BF16": "bf16",
    "hw.optional.arm.FEAT_I8MM": "i8mm",
    "hw.optional.arm.FEAT_SME": "sme",
    "hw.optional.arm.FEAT_SME2": "sme2",
    "hw.optional.avx2_0": "avx2",
    "hw.optional.fma": "fma",
    "hw.optional.f16c": "f16c",
    "hw.optional.avx512f": "avx512f",
    "hw.optional.avx512bw": "avx512bw",
    "hw.optional.avx512vl": "avx512vl",
    "hw.optional.avx512vnni": "avx512_vnni",
}


@dataclass(frozen=True)
class CpuFeatures:
    """A processor: its architecture (``x86_64``, ``arm64`` or another), model name and the
    features of :data:`X86_FEATURES` / :data:`ARM_FEATURES` it has."""

    architecture: str
    model: str
    features: frozenset[str]

    def has(self, *names: str) -> bool:
        """True when the processor has every one of ``names``."""
        return all(name in self.features for name in names)

    def summary(self) -> str:
        """The features that matter, in a fixed order: ``avx2 fma f16c`` ('none' if none)."""
        known = X86_FEATURES if self.architecture == "x86_64" else ARM_FEATURES
        found = [name for name in known if name in self.features]
        return " ".join(found) or "none"

    def fingerprint(self) -> str:
        """A short hash of the model name and every feature: one per processor kind."""
        text = "|".join([self.architecture, self.model, *sorted(self.features)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TorchCpu:
    """What the installed torch can use on this processor."""

    version: str
    capability: str  # ATen's kernel level: "AVX512", "AVX2", "DEFAULT", "SVE256"...
    onednn: bool  # oneDNN (mkldnn): the fast bf16 convolutions and matmuls on x86
    quantized_engines: tuple[str, ...]  # "fbgemm"/"x86" (x86 int8), "qnnpack" (ARM int8)

    @property
    def int8_engine(self) -> bool:
        """True when torch has an int8 engine with fast kernels for this architecture."""
        return bool({"x86", "fbgemm", "qnnpack", "onednn"} & set(self.quantized_engines))


def normal_architecture(machine: str) -> str:
    """``x86_64`` / ``arm64`` from ``platform.machine()``'s many spellings."""
    machine = machine.lower()
    if machine in ("x86_64", "amd64", "x64", "i686", "i386"):
        return "x86_64"
    if machine in ("arm64", "aarch64", "armv8", "armv8l"):
        return "arm64"
    return machine or "unknown"


def _field(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip().lower(), value.strip()


def parse_cpuinfo(text: str, machine: str = "") -> CpuFeatures:
    """The processor described by Linux's ``/proc/cpuinfo`` (the first core's entry).

    x86 lists ``flags``, ARM ``Features``; ARM names no model, so its implementer and part
    numbers stand in for it. ``machine`` (``platform.machine()``) settles the architecture when
    the text does not.
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, value = _field(line)
        fields.setdefault(key, value)
    if "flags" in fields:
        words = set(fields["flags"].split())
        model = fields.get("model name", "")
        return CpuFeatures("x86_64", model, frozenset(words & set(X86_FEATURES)))
    words = {_LINUX_ARM_NAMES.get(word, word) for word in fields.get("features", "").split()}
    model = fields.get("model name") or " ".join(
        f"{name} {fields[key]}"
        for name, key in (("implementer", "cpu implementer"), ("part", "cpu part"))
        if key in fields
    )
    architecture = "arm64" if "neon" in words else normal_architecture(machine)
    return CpuFeatures(architecture, model, frozenset(words & set(ARM_FEATURES)))


def parse_sysctl(text: str, machine: str = "") -> CpuFeatures:
    """The processor described by macOS's ``sysctl hw.optional machdep.cpu.brand_string``."""
    features: set[str] = set()
    model = ""
    for line in text.splitlines():
        key, value = line.split(":", 1) if ":" in line else (line, "")
        key, value = key.strip(), value.strip()
        if key == "machdep.cpu.brand_string":
            model = value
        elif key in _SYSCTL_NAMES and value == "1":
            features.add(_SYSCTL_NAMES[key])
    x86 = features & set(X86_FEATURES) or normal_architecture(machine) == "x86_64"
    return CpuFeatures("x86_64" if x86 else "arm64", model, frozenset(features))


def from_torch_capability(capability: str, machine: str, model: str = "") -> CpuFeatures:
    """The little torch's kernel level tells, where the system says nothing (Windows)."""
    levels = {"AVX2": ("avx2", "fma"), "AVX512": ("avx2", "fma", "avx512f", "avx512bw",
                                                  "avx512vl")}  # fmt: skip
    features = set(levels.get(capability.upper(), ()))
    if capability.upper().startswith("SVE"):
        features |= {"neon", "sve"}
    return CpuFeatures(normal_architecture(machine), model, frozenset(features))


def torch_cpu() -> TorchCpu:
    """What the installed torch offers on this processor."""
    import torch

    capability = "DEFAULT"
    backend = getattr(torch.backends, "cpu", None)
    if backend is not None and hasattr(backend, "get_cpu_capability"):
        capability = str(backend.get_cpu_capability())
    engines = tuple(name for name in torch.backends.quantized.supported_engines if name != "none")
    return TorchCpu(torch.__version__, capability, torch.backends.mkldnn.is_available(), engines)


def _sysctl_text() -> str:
    try:
        result = subprocess.run(
            ["sysctl", "hw.optional", "machdep.cpu.brand_string"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout


def detect(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuFeatures:
    """This machine's processor: ``/proc/cpuinfo`` on Linux, ``sysctl`` on macOS, else what
    torch's kernel level says."""
    machine = platform.machine()
    if cpuinfo.is_file():
        try:
            found = parse_cpuinfo(cpuinfo.read_text(errors="replace"), machine)
        except OSError:
            found = None
        if found is not None and found.features:
            return found
    if platform.system() == "Darwin" and (text := _sysctl_text()):
        return parse_sysctl(text, machine)
    return from_torch_capability(torch_cpu().capability, machine, platform.processor())


def has_bf16_kernels() -> bool:
    """Whether this CPU and PyTorch build have oneDNN's bf16 convolutions and matmuls (x86:
    AVX-512, native with AVX512_BF16 or AMX; ARM: bf16 instructions). Without them (AVX2-only
    CPUs) bf16 runs PyTorch's generic code."""
    import torch

    checker = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(checker is not None and torch.backends.mkldnn.is_available() and checker())
