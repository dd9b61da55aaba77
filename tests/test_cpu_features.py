"""What each processor kind offers, read from recorded ``/proc/cpuinfo`` and ``sysctl`` text."""

from __future__ import annotations

from pathlib import Path

import pytest

from unflat.cpu_features import (
    TorchCpu,
    detect,
    from_torch_capability,
    normal_architecture,
    parse_cpuinfo,
    parse_sysctl,
    torch_cpu,
)

CPUS = Path(__file__).parent / "data" / "cpus"


def recorded(name: str):
    text = (CPUS / name).read_text()
    return parse_sysctl(text) if name.endswith(".sysctl") else parse_cpuinfo(text)


@pytest.mark.parametrize(
    ("name", "architecture", "model", "summary"),
    [
        ("avx2_epyc.cpuinfo", "x86_64", "AMD EPYC", "avx2 fma f16c"),
        (
            "zen4.cpuinfo", "x86_64", "AMD EPYC 9R14 96-Core Processor",
            "avx2 fma f16c avx512f avx512bw avx512vl avx512_vnni avx512_bf16",
        ),
        (
            "sapphire_rapids.cpuinfo", "x86_64", "Intel(R) Xeon(R) Platinum 8488C",
            "avx2 fma f16c avx512f avx512bw avx512vl avx512_vnni avx512_bf16 avx512_fp16 "
            "avx_vnni amx_tile amx_bf16 amx_int8",
        ),
        (
            "skylake_avx512.cpuinfo", "x86_64", "Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz",
            "avx2 fma f16c avx512f avx512bw avx512vl",
        ),
        ("graviton3.cpuinfo", "arm64", "implementer 0x41 part 0xd40",
         "neon fp16 dotprod bf16 i8mm sve"),
        ("apple_m2.sysctl", "arm64", "Apple M2", "neon fp16 dotprod bf16 i8mm"),
        ("apple_m4.sysctl", "arm64", "Apple M4", "neon fp16 dotprod bf16 i8mm sme sme2"),
    ],
)  # fmt: skip
def test_recorded_processors(name, architecture, model, summary):
    cpu = recorded(name)
    assert (cpu.architecture, cpu.model, cpu.summary()) == (architecture, model, summary)


def test_first_core_decides_and_fingerprints_differ():
    epyc = recorded("avx2_epyc.cpuinfo")
    # The second core's entry lists only "avx2": the first entry is the one read.
    assert epyc.has("avx2", "fma", "f16c") and not epyc.has("avx512f")
    prints = {
        recorded(path.name).fingerprint() for path in CPUS.glob("*.*") if path.suffix != ".md"
    }
    assert len(prints) == 7
    assert recorded("zen4.cpuinfo").fingerprint() == recorded("zen4.cpuinfo").fingerprint()


def test_sysctl_zeros_are_absent_and_intel_macs_are_x86():
    assert not recorded("apple_m2.sysctl").has("sme")
    intel = parse_sysctl("hw.optional.avx2_0: 1\nhw.optional.avx512f: 0\nhw.optional.fma: 1\n")
    assert intel.architecture == "x86_64" and intel.summary() == "avx2 fma"


def test_empty_and_unknown_text():
    assert parse_cpuinfo("", "aarch64").architecture == "arm64"
    assert parse_cpuinfo("", "riscv64").summary() == "none"
    assert normal_architecture("AMD64") == "x86_64"


def test_torch_capability_stands_in_where_the_system_says_nothing():
    assert from_torch_capability("AVX512", "AMD64").has("avx512f", "avx2")
    assert from_torch_capability("AVX2", "x86_64").summary() == "avx2 fma"
    assert from_torch_capability("SVE256", "aarch64").has("neon", "sve")
    assert from_torch_capability("DEFAULT", "x86_64").summary() == "none"


def test_this_machine_and_this_torch():
    cpu = detect()
    assert cpu.architecture in ("x86_64", "arm64") and cpu.model
    offered = torch_cpu()
    assert offered.capability and offered.version
    assert TorchCpu("2", "AVX2", True, ("qnnpack",)).int8_engine
    assert not TorchCpu("2", "AVX2", True, ()).int8_engine
