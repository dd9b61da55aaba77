"""``unflat train vssflow`` hands every argument to VSSFlow's own trainer."""

from __future__ import annotations

import json
from pathlib import Path

from unflat.cli import main


def test_help_is_the_trainers_own(capsys) -> None:
    assert main(["train", "vssflow", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--steps" in out and "--resume" in out


def test_trains_resumes_and_refuses_a_bad_config(tmp_path: Path, capsys) -> None:
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"preset": "tiny", "vaflow_params": {"dit_num_layers": 1}}))
    run = tmp_path / "run"
    common = ["train", "vssflow", "--config", str(config), "--out", str(run), "--batch-size", "2"]
    assert main([*common, "--steps", "1", "--device", "cpu"]) == 0
    assert main([*common, "--steps", "2", "--resume"]) == 0
    assert {"config.json", "model.safetensors"} <= {path.name for path in run.iterdir()}
    assert main(["train", "vssflow", "--steps", "1"]) == 2  # --out missing: argparse's refusal
    assert "--out" in capsys.readouterr().err


def test_talking_head_trains_through_the_cli(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    command = ["train", "talking-head", "--synthetic", "2", "--config", "tiny", "--out", str(run)]
    assert main([*command, "--steps", "1", "--batch-size", "1", "--shots", "1"]) == 0
    assert (run / "checkpoint.pt").is_file()
    assert main(["train", "talking-head", "--steps", "1", "--out", str(tmp_path / "r")]) == 2
    assert "--synthetic" in capsys.readouterr().err
