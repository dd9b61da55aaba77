"""``--precision auto``: the rule table per processor kind, the measured choice and its cache."""

from __future__ import annotations

import json

import pytest
import torch

from tests.test_cpu_features import recorded
from unflat import device
from unflat.cpu_features import TorchCpu
from unflat.device import (
    PrecisionChoice,
    check_precision,
    choose_precision,
    cpu_choice,
    measured_choice,
    probe_key,
    resolve_precision,
)
from unflat.errors import DeviceError

CPU = torch.device("cpu")
FULL_TORCH = TorchCpu("2.13.0", "AVX512", True, ("x86", "fbgemm", "onednn", "qnnpack"))


@pytest.mark.parametrize(
    ("name", "precision", "said"),
    [
        ("avx2_epyc.cpuinfo", "int8-fp32", "AVX2 without VNNI/BF16: int8 matmuls keep tuned"),
        ("zen4.cpuinfo", "int8", "AVX-512 BF16 and VNNI: int8 matmuls"),
        ("sapphire_rapids.cpuinfo", "int8", "AMX: matrix units"),
        ("skylake_avx512.cpuinfo", "int8-fp32", "AVX-512 without BF16: int8 matmuls have fast"),
        ("graviton3.cpuinfo", "fp32", "ARM: no faster path measured"),
        ("apple_m2.sysctl", "fp32", "ARM"),
    ],
)
def test_rule_table_per_processor(name, precision, said):
    choice = cpu_choice(recorded(name), FULL_TORCH)
    assert choice.precision == precision
    assert choice.why.startswith(said)
    assert choice.line().startswith(f"precision auto -> {precision} (")


def test_a_torch_without_the_kernels_keeps_fp32():
    no_onednn = TorchCpu("2.13.0", "AVX512", False, ("fbgemm",))
    choice = cpu_choice(recorded("zen4.cpuinfo"), no_onednn)
    assert choice == PrecisionChoice(
        "fp32", "AVX-512 BF16 and VNNI, but this torch build has no onednn kernels"
    )
    assert cpu_choice(recorded("avx2_epyc.cpuinfo"), TorchCpu("2", "AVX2", False, ())).precision \
        == "fp32"  # fmt: skip


def test_the_table_is_data(monkeypatch):
    rule = device.PrecisionRule("AVX2 without VNNI/BF16", ("avx2",), "int8", "measured faster")
    monkeypatch.setattr(device, "CPU_RULES", (rule,))
    assert cpu_choice(recorded("avx2_epyc.cpuinfo"), FULL_TORCH).precision == "int8"
    assert cpu_choice(recorded("graviton3.cpuinfo"), FULL_TORCH).why.startswith("this processor")


def test_measured_choice_needs_a_clear_margin():
    table = PrecisionChoice("fp32", "table")
    # int8 1.5x faster than fp32: chosen, and the line says the measured speeds.
    picked = measured_choice(table, {"fp32": 3.0, "int8": 2.0, "bf16": 12.0})
    assert picked.precision == "int8"
    assert picked.why == "measured here: int8 1.50x, bf16 0.25x fp32's speed; the table said fp32"
    # 5% faster is noise: the table's choice stays, and the line gives both reasons.
    kept = measured_choice(table, {"fp32": 2.1, "int8": 2.0})
    assert kept == PrecisionChoice("fp32", "table; measured here: int8 1.05x fp32's speed")
    # The table's int8 could not run: the fastest measured path.
    assert measured_choice(PrecisionChoice("int8", "t"), {"fp32": 2.0, "bf16": 4.0}).precision \
        == "fp32"  # fmt: skip
    assert measured_choice(table, {}) is table


class CountingProbe:
    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds, self.calls = seconds, []

    def __call__(self, precision: str) -> float:
        self.calls.append(precision)
        if precision not in self.seconds:
            raise RuntimeError("no kernel")
        return self.seconds[precision]


def test_measured_once_per_machine_and_again_for_another(tmp_path, monkeypatch):
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path))
    monkeypatch.delenv("UNFLAT_PRECISION_PROBE", raising=False)
    monkeypatch.setattr(device, "PRECISION_NAMES", ("fp32", "bf16", "fp16", "int8"))
    epyc, zen4 = recorded("avx2_epyc.cpuinfo"), recorded("zen4.cpuinfo")
    probe = CountingProbe({"fp32": 3.0, "int8": 2.0})  # bf16 fails: left out, no error
    first = choose_precision(CPU, probe, epyc, FULL_TORCH)
    assert first.precision == "int8" and probe.calls == ["fp32", "int8", "bf16"]
    cache = json.loads((tmp_path / "precision.json").read_text())
    assert cache[probe_key(epyc, FULL_TORCH)]["seconds"] == {"fp32": 3.0, "int8": 2.0}
    again = choose_precision(CPU, probe, epyc, FULL_TORCH)
    assert again.precision == "int8" and again.why.endswith("; cached")
    assert len(probe.calls) == 3  # not measured again
    # Another processor, or another torch, is another key: measured again.
    choose_precision(CPU, probe, zen4, FULL_TORCH)
    newer = TorchCpu("2.14.0", "AVX512", True, FULL_TORCH.quantized_engines)
    choose_precision(CPU, probe, epyc, newer)
    assert len(probe.calls) == 9


def test_probe_off_and_damaged_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path))
    probe = CountingProbe({"fp32": 3.0, "int8-fp32": 1.0})
    monkeypatch.setenv("UNFLAT_PRECISION_PROBE", "0")
    assert choose_precision(CPU, probe, recorded("avx2_epyc.cpuinfo"), FULL_TORCH).precision \
        == "int8-fp32"  # fmt: skip
    assert probe.calls == []
    monkeypatch.setenv("UNFLAT_PRECISION_PROBE", "1")
    (tmp_path / "precision.json").write_text("{not json")
    assert choose_precision(CPU, probe, recorded("avx2_epyc.cpuinfo"), FULL_TORCH).precision \
        == "int8-fp32"  # fmt: skip
    assert "int8-fp32" in probe.calls  # measured, not just the table's
    assert json.loads((tmp_path / "precision.json").read_text())  # rewritten whole


def test_resolve_says_the_choice_once(capsys, monkeypatch):
    monkeypatch.setattr(device, "_SAID", set())
    assert resolve_precision("auto", CPU) in ("fp32", "int8", "int8-fp32")
    assert resolve_precision("auto", CPU) in ("fp32", "int8", "int8-fp32")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("note: precision auto -> ")
    assert resolve_precision("bf16", CPU) == "bf16"  # an explicit choice is obeyed, silently
    assert capsys.readouterr().err == ""


def test_names_are_checked():
    check_precision("int8", CPU)
    with pytest.raises(DeviceError) as caught:
        resolve_precision("fp64", CPU)
    assert "unknown precision 'fp64'" in str(caught.value)
    assert caught.value.hint.startswith("use one of auto, fp32, bf16, fp16, int8")
    with pytest.raises(DeviceError):
        resolve_precision("fp16", CPU)


def test_gpu_rules(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda _device=None: (8, 0))
    assert choose_precision(torch.device("cuda")).precision == "fp16"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda _device=None: (6, 1))
    assert choose_precision(torch.device("cuda")).precision == "fp32"
    assert choose_precision(torch.device("mps")).line().startswith("precision auto -> fp32 (mps")


def test_a_new_path_is_measured_on_the_next_run(tmp_path, monkeypatch):
    monkeypatch.setenv("UNFLAT_HOME", str(tmp_path))
    monkeypatch.delenv("UNFLAT_PRECISION_PROBE", raising=False)
    monkeypatch.setattr(device, "PRECISION_NAMES", ("fp32", "bf16", "fp16", "int8"))
    monkeypatch.setattr(device, "_bf16_kernels", lambda: True)  # int8 is its own code
    epyc = recorded("avx2_epyc.cpuinfo")
    probe = CountingProbe({"fp32": 3.0, "int8": 4.0, "bf16": 9.0, "int8-fp32": 1.5})
    assert choose_precision(CPU, probe, epyc, FULL_TORCH).precision == "fp32"
    assert probe.calls == ["fp32", "int8", "bf16"]
    monkeypatch.setattr(device, "PRECISION_NAMES", (*device.PRECISION_NAMES, "int8-fp32"))
    choice = choose_precision(CPU, probe, epyc, FULL_TORCH)
    assert probe.calls[3:] == ["fp32", "int8", "int8-fp32", "bf16"]
    assert choice.precision == "int8-fp32"
    # the table's choice now, confirmed by the measurement
    assert choice.why.startswith("AVX2 without VNNI/BF16: int8 matmuls keep tuned kernels")
    assert "; measured here: int8-fp32 2.00x, int8 0.75x, bf16 0.33x fp32's speed" in choice.why


def test_auto_stays_within_the_paths_measured_faithful_for_a_model(capsys, monkeypatch):
    monkeypatch.setattr(device, "_SAID", set())
    zen4 = device.cpu_choice(recorded("zen4.cpuinfo"), FULL_TORCH)
    monkeypatch.setattr(device, "choose_precision", lambda _device, _probe=None: zen4)
    assert resolve_precision("auto", CPU) == "int8"
    assert resolve_precision("auto", CPU, model="SHARP", faithful=("fp32",)) == "fp32"
    assert resolve_precision("int8", CPU, model="SHARP", faithful=("fp32",)) == "int8"
    lines = capsys.readouterr().err.splitlines()
    assert lines[1] == (
        "note: precision auto (SHARP) -> fp32 (SHARP is measured faithful in fp32 only; "
        "here the fastest path is int8)"
    )
    assert len(lines) == 2


def test_int8_is_not_timed_where_it_runs_int8_fp32s_code(monkeypatch):
    monkeypatch.setattr(device, "_bf16_kernels", lambda: False)
    assert device.probe_candidates() == ("fp32", "int8-fp32", "bf16")
    monkeypatch.setattr(device, "_bf16_kernels", lambda: True)
    assert device.probe_candidates() == ("fp32", "int8", "int8-fp32", "bf16")
