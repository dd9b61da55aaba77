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


def test_eval_fewshot_scores_a_trained_checkpoint(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    train = ["train", "talking-head", "--synthetic", "2", "--config", "tiny", "--out", str(run)]
    assert main([*train, "--steps", "1", "--batch-size", "1", "--shots", "1"]) == 0
    report = tmp_path / "scores.json"
    command = ["eval", "fewshot", str(run), "--shots", "0", "--shots", "1", "--people", "1",
               "--finetune-steps", "1", "--json", str(report)]  # fmt: skip
    assert main(command) == 0
    scores = json.loads(report.read_text())["shots"]
    assert set(scores) == {"0", "1"}
    assert all(0 < row["l1"] < 1 and 0 < row["psnr"] < 60 for row in scores.values())
    assert main(command) == 2  # the report exists: --overwrite to replace it
    assert main(["eval", "fewshot", str(tmp_path / "none")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
