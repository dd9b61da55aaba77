"""Device and dtype choice: cuda > mps > cpu, the precision names the CLI accepts, ``auto``'s
choice of precision (see "Precision auto" below), and threads.

Threads: the large models (Depth Pro, SHARP) split each operation across every core. The face
nets' operations are too small to split: their threads spend more time waiting for one another
than working, and when another process holds a core each operation waits for the slowest thread
(measured on 2 cores: face tracking 66 ms per frame with 2 threads, 52 with 1; with a busy
process beside it 161 against 64). Per-frame face work therefore runs with ``small_work``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import torch

from unflat.errors import DeviceError, OutputError
from unflat.progress import note

if TYPE_CHECKING:
    from unflat.cpu_features import CpuFeatures, TorchCpu

PRECISIONS: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def pick_device(name: str = "auto") -> torch.device:
    """Resolve ``auto|cpu|cuda|mps`` (or ``cuda:N``) to an available torch device."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(
            f"device {name!r} was asked for but CUDA is not available",
            "install a CUDA build of PyTorch or pass --device cpu",
        )
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise DeviceError("device 'mps' is not available", "pass --device cpu or --device auto")
    if name not in ("cpu", "mps") and not name.startswith("cuda"):
        raise DeviceError(f"unknown device {name!r}", "use auto, cpu, cuda or mps")
    return torch.device(name)


PRECISION_NAMES = (*PRECISIONS, "int8", "int8-fp32")


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse a precision that does not exist or cannot run on ``device``, before any loading.

    ``int8`` (int8 transformer matmuls, bf16 convolutions) is a CPU path; ``fp16`` a GPU one.
    """
    if precision in ("int8", "int8-fp32"):
        if device.type != "cpu":
            raise DeviceError(
                "the int8 path runs on the CPU only", "use --precision fp16 or bf16 on a GPU"
            )
        return
    pick_dtype(precision, device)


def pick_dtype(precision: str, device: torch.device) -> torch.dtype:
    """Resolve a precision name; fp16 on the CPU is refused: its kernels are slow or missing."""
    if precision not in PRECISIONS:
        names = ", ".join((AUTO, *PRECISION_NAMES))
        raise DeviceError(f"unknown precision {precision!r}", f"use one of {names}")
    dtype = PRECISIONS[precision]
    if dtype == torch.float16 and device.type == "cpu":
        raise DeviceError(
            "fp16 is not supported on the CPU", "use --precision bf16 or fp32 on the CPU"
        )
    return dtype


P = ParamSpec("P")
R = TypeVar("R")


def small_work(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` with one intra-op thread (torch), restoring the caller's count after.

    For per-frame work on small networks; see the module docstring for why and the numbers.
    Nested calls keep one thread; setting the count costs well under a microsecond.
    """

    @functools.wraps(function)
    def single_threaded(*args: P.args, **kwargs: P.kwargs) -> R:
        before = torch.get_num_threads()
        if before == 1:
            return function(*args, **kwargs)
        torch.set_num_threads(1)
        try:
            return function(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return single_threaded


class ThreadTuner:
    """Picks, for a step repeated many times (one video frame), the thread count that runs it
    fastest on the machine as it is now.

    A parallel step waits for its slowest thread: on a shared machine where another process
    holds a core, two threads take longer than one. So the tuner times ``trials`` steps with
    each candidate count, keeps the fastest, and tries again every ``every`` steps (the
    neighbour may have gone). It sets torch's, numba's and OpenCV's thread counts.
    """

    def __init__(self, *, trials: int = 2, every: int = 100) -> None:
        most = max(1, min(torch.get_num_threads(), os.cpu_count() or 1))
        self.candidates = sorted({most, 1}, reverse=True)
        self.trials, self.every = trials, every
        self.chosen = most
        self._before = torch.get_num_threads()
        self._before_cv = _cv2_threads()
        self._step = 0
        self._times: dict[int, list[float]] = {}

    def _set(self, count: int) -> None:
        torch.set_num_threads(count)
        _cv2_threads(count)
        try:
            import numba

            numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
        except ImportError:  # pragma: no cover - numba is a dependency
            pass

    def restore(self) -> None:
        """Put the thread counts back as they were before the tuner."""
        self._set(self._before)
        _cv2_threads(self._before_cv)

    def run(self, step: Callable[[], R]) -> R:
        """Run ``step`` with the thread count the tuner picks for it now."""
        import time

        phase = self._step % self.every
        trying = phase < self.trials * len(self.candidates)
        count = self.candidates[phase // self.trials] if trying else self.chosen
        self._set(count)
        start = time.perf_counter()
        result = step()
        if trying:
            self._times.setdefault(count, []).append(time.perf_counter() - start)
            if phase == self.trials * len(self.candidates) - 1:
                self.chosen = min(self._times, key=lambda c: min(self._times[c]))
                self._times.clear()
        self._step += 1
        return result


def _cv2_threads(count: int | None = None) -> int:
    """OpenCV's thread count (set it first when ``count`` is given); 0 without OpenCV."""
    try:
        import cv2
    except ImportError:  # pragma: no cover - opencv is a dependency
        return 0
    if count is not None:
        cv2.setNumThreads(count)
    return int(cv2.getNumThreads())


# --- Precision auto ---------------------------------------------------------------------------
#
# The fastest faithful path depends on the processor: int8 ran Depth Pro 2.27x faster than fp32
# on a Zen 4 (AVX-512 BF16 and VNNI) and 4x slower on an AVX2-only EPYC, where its bf16
# convolutions fall to slow generic kernels. ``auto`` picks by the rule table below (one edit
# to change a choice) and, for a large model on the CPU, by a measurement made once per machine.

#: The precision chosen by the processor; the default of every command that has --precision.
AUTO = "auto"


@dataclass(frozen=True)
class PrecisionRule:
    """Processors with every feature of ``needs`` (:mod:`unflat.cpu_features` names) run
    ``precision`` when torch offers all of ``torch_needs`` (``onednn``, ``int8``)."""

    kind: str
    needs: tuple[str, ...]
    precision: str
    why: str
    torch_needs: tuple[str, ...] = ()


#: The first row whose ``needs`` the processor has decides. Keep a fast path here only where
#: it was measured faster than fp32 (BENCHMARKS.md, docs/precision.md).
CPU_RULES: tuple[PrecisionRule, ...] = (
    PrecisionRule(
        "AMX", ("amx_bf16", "amx_int8"), "int8",
        "matrix units run the int8 matmuls and bf16 convolutions", ("onednn", "int8"),
    ),
    PrecisionRule(
        "AVX-512 BF16 and VNNI", ("avx512_bf16", "avx512_vnni"), "int8",
        "int8 matmuls and bf16 convolutions have fast kernels; measured 2.27x fp32 on Zen 4",
        ("onednn", "int8"),
    ),
    PrecisionRule(
        "AVX-512 without BF16", ("avx512f",), "int8-fp32",
        "int8 matmuls have fast kernels, bf16 convolutions do not, so they stay fp32",
        ("onednn", "int8"),
    ),
    PrecisionRule(
        "AVX2 with AVX-VNNI, without BF16", ("avx2", "avx_vnni"), "int8-fp32",
        "int8 matmuls have VNNI kernels, bf16 convolutions do not, so they stay fp32",
        ("onednn", "int8"),
    ),
    PrecisionRule(
        "AVX2 without VNNI/BF16", ("avx2",), "int8-fp32",
        "int8 matmuls keep tuned kernels (ViT blocks 2.1x fp32), bf16 has none, so "
        "convolutions stay fp32; measured 1.25-1.36x fp32 on full-size Depth Pro",
        ("onednn", "int8"),
    ),
    PrecisionRule("ARM", ("neon",), "fp32", "no faster path measured on ARM yet"),
)  # fmt: skip
OTHER_CPU = PrecisionRule("this processor", (), "fp32", "no faster path known for it")

#: GPU choices by device type: (precision, why).
GPU_RULES: dict[str, tuple[str, str]] = {
    "cuda": ("fp16", "tensor cores; the published Depth Pro runs fp16 on GPUs"),
    "cuda-old": ("fp32", "no tensor cores (compute capability below 7.0)"),
    "mps": ("fp32", "half precision not measured on Apple GPUs yet"),
}

#: The CPU paths a measurement compares; a name not (yet) in PRECISION_NAMES is skipped.
PROBE_CANDIDATES = ("fp32", "int8", "int8-fp32", "bf16")
#: A measured path replaces the table's choice only when this much faster (noise margin).
PROBE_MARGIN = 1.15
PROBE_VARIABLE = "UNFLAT_PRECISION_PROBE"


@dataclass(frozen=True)
class PrecisionChoice:
    """What ``auto`` chose, and why (said in one line)."""

    precision: str
    why: str

    def line(self, model: str | None = None) -> str:
        """``precision auto -> int8 (why)``; ``precision auto (SHARP) -> ...`` for a model."""
        named = f" ({model})" if model else ""
        return f"precision auto{named} -> {self.precision} ({self.why})"


def cpu_choice(features: CpuFeatures, torch_cpu: TorchCpu) -> PrecisionChoice:
    """The :data:`CPU_RULES` choice for a processor and a torch build."""
    rule = next((row for row in CPU_RULES if features.has(*row.needs)), OTHER_CPU)
    offers = {"onednn": torch_cpu.onednn, "int8": torch_cpu.int8_engine}
    missing = [need for need in rule.torch_needs if not offers[need]]
    if missing:
        return PrecisionChoice(
            "fp32", f"{rule.kind}, but this torch build has no {' or '.join(missing)} kernels"
        )
    return PrecisionChoice(rule.precision, f"{rule.kind}: {rule.why}")


def gpu_choice(device: torch.device) -> PrecisionChoice:
    """The :data:`GPU_RULES` choice for a CUDA or MPS device."""
    kind = device.type
    if kind == "cuda" and torch.cuda.get_device_capability(device)[0] < 7:
        kind = "cuda-old"
    precision, why = GPU_RULES.get(kind, ("fp32", f"no faster path known on {device.type}"))
    return PrecisionChoice(precision, f"{device.type}: {why}")


def measured_choice(table: PrecisionChoice, seconds: dict[str, float]) -> PrecisionChoice:
    """The table's choice unless the probe found a path :data:`PROBE_MARGIN` times faster
    (``seconds``: the probe's time per path)."""
    base = seconds.get(table.precision, seconds.get("fp32"))
    if base is None:
        return table  # neither the table's path nor the reference could be measured
    fastest = min(seconds, key=seconds.__getitem__)
    faster = seconds[fastest] * PROBE_MARGIN < base
    precision = fastest if faster or table.precision not in seconds else table.precision
    reference = seconds.get("fp32", base)
    ranked = sorted((name for name in seconds if name != "fp32"), key=seconds.__getitem__)
    speeds = ", ".join(f"{name} {reference / seconds[name]:.2f}x" for name in ranked)
    measured = f"measured here: {speeds} fp32's speed"
    if precision == table.precision:
        return PrecisionChoice(precision, f"{table.why}; {measured}")
    return PrecisionChoice(precision, f"{measured}; the table said {table.precision}")


def probe_cache_file() -> Path:
    """Where measured choices are kept: beside the weights' cache (``UNFLAT_HOME`` etc.)."""
    from unflat.weights.cache import cache_dir

    return cache_dir().parent / "precision.json"


def probe_candidates() -> tuple[str, ...]:
    """The paths a measurement times: :data:`PROBE_CANDIDATES` that exist, less ``int8`` where
    it runs ``int8-fp32``'s code (a CPU without bf16 kernels): timing one code twice only let
    the noise pick a name the table did not (it said "auto -> int8 ... the table said
    int8-fp32" for the same path)."""
    names = tuple(name for name in PROBE_CANDIDATES if name in PRECISION_NAMES)
    if "int8-fp32" in names and not _bf16_kernels():
        names = tuple(name for name in names if name != "int8")
    return names


def _bf16_kernels() -> bool:
    from unflat.cpu_features import has_bf16_kernels

    return has_bf16_kernels()


def probe_key(features: CpuFeatures, torch_cpu: TorchCpu) -> str:
    """One machine kind (its processor's model and features, the torch version) and the paths
    measured: a new path is measured on the next run."""
    machine = features.model or features.architecture
    paths = "+".join(probe_candidates())
    return f"{machine}|{features.fingerprint()}|torch {torch_cpu.version}|{paths}"


def _read_cache(file: Path) -> dict[str, dict]:
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return {}  # none yet, or damaged: measure again
    return data if isinstance(data, dict) else {}


def probed_choice(
    table: PrecisionChoice, key: str, probe: Callable[[str], float], file: Path
) -> PrecisionChoice:
    """The choice measured by ``probe`` (seconds per candidate), cached in ``file`` by ``key``."""
    from unflat.io.atomic import write_json

    cache = _read_cache(file)
    entry = cache.get(key)
    if isinstance(entry, dict) and entry.get("precision") in PRECISION_NAMES:
        return PrecisionChoice(entry["precision"], f"{entry.get('why', 'measured')}; cached")
    seconds = {}
    for name in probe_candidates():
        try:
            seconds[name] = probe(name)
        except (RuntimeError, DeviceError):  # a path this torch cannot run is no candidate
            continue
    choice = measured_choice(table, seconds)
    cache[key] = {"precision": choice.precision, "why": choice.why, "seconds": seconds}
    with contextlib.suppress(OSError, OutputError):  # read-only: measured again next time
        write_json(file, cache)
    return choice


def choose_precision(
    device: torch.device,
    probe: Callable[[str], float] | None = None,
    features: CpuFeatures | None = None,
    torch_cpu: TorchCpu | None = None,
) -> PrecisionChoice:
    """``auto``'s precision on ``device``: the rule tables, or on the CPU with ``probe`` given
    (and ``UNFLAT_PRECISION_PROBE`` not ``0``) the measured choice, cached per machine."""
    if device.type != "cpu":
        return gpu_choice(device)
    from unflat import cpu_features

    features = features or cpu_features.detect()
    torch_cpu = torch_cpu or cpu_features.torch_cpu()
    table = cpu_choice(features, torch_cpu)
    if probe is None or os.environ.get(PROBE_VARIABLE, "1").lower() in ("0", "off", "false", "no"):
        return table
    return probed_choice(table, probe_key(features, torch_cpu), probe, probe_cache_file())


_SAID: set[str] = set()


def resolve_precision(
    precision: str,
    device: torch.device,
    probe: Callable[[str], float] | None = None,
    *,
    model: str | None = None,
    faithful: Collection[str] | None = None,
) -> str:
    """``precision`` checked for ``device``, with ``auto`` replaced by its choice, which is
    said in one line (once per process; naming ``model`` when given).

    ``faithful``: the paths measured faithful for this model (fp32 always is); auto's choice
    outside them gives fp32. An explicit precision is obeyed as it is.
    """
    if precision != AUTO:
        check_precision(precision, device)
        return precision
    choice = choose_precision(device, probe)
    if faithful is not None and choice.precision not in faithful:
        paths = ", ".join(sorted({"fp32", *faithful}))
        why = f"{model or 'this model'} is measured faithful in {paths} only; "
        choice = PrecisionChoice("fp32", f"{why}here the fastest path is {choice.precision}")
    line = choice.line(model)
    if line not in _SAID:
        _SAID.add(line)
        note(line)
    check_precision(choice.precision, device)
    return choice.precision


def frame_workers(cores: int | None = None) -> int:
    """How many threads render video frames side by side: half the cores, 1 to 4.

    Each frame runs single-threaded (see the module docstring); the caller's own thread
    meanwhile consumes finished frames (encodes them). On 2 cores that is one rendering thread
    beside the encoder; on 16 cores four, past which the Python parts of a frame, which hold the
    interpreter's lock, leave more threads idle.
    """
    count = (os.cpu_count() or 1) if cores is None else cores
    return max(1, min(4, count // 2))


T = TypeVar("T")


def pipelined(function: Callable[[T], R], items: Iterable[T], *, workers: int) -> Iterator[R]:
    """``function(item)`` for each item, in order, computed by ``workers`` threads up to twice
    as many items ahead of the consumer (frames overlap: the next ones render while this one
    is encoded). ``items`` is read in the caller's thread, so a decoder need not be shared.
    An error in ``function`` is raised where its item's result is taken.
    """
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    with ThreadPoolExecutor(workers, thread_name_prefix="frame") as pool:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(function, item))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
