"""Faces evaluation: shot choice never leaks the scored frame; scores on real clips are sane."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_path
from unflat.cli import main
from unflat.errors import InputError
from unflat.face.evaluate import (
    CrossOptions,
    contact_sheet,
    cross_reenactment,
    mid_word_start,
    mouth_correlation,
    self_reenactment,
    sheet_picks,
    shot_frames,
)


def test_shot_frames_nest_and_spread() -> None:
    one, four, sixteen = (shot_frames(135, k) for k in (1, 4, 16))
    assert one == [0] and len(four) == 4 and len(sixteen) == 16
    assert set(four) <= set(sixteen) and len(set(sixteen)) == 16
    assert sixteen == sorted(sixteen) and sixteen[-1] < 135
    gaps = np.diff(sixteen)
    assert gaps.max() - gaps.min() <= 1  # evenly spread
    with pytest.raises(InputError, match="needs more than 17"):
        shot_frames(12, 16)


def test_contact_sheet_lays_rows_over_each_other() -> None:
    assert sheet_picks(10, 4) == [0, 3, 6, 9] and sheet_picks(3) == [0, 1, 2]
    top = [np.full((100, 80, 3), i, np.uint8) for i in sheet_picks(10, 4)]
    bottom = [np.full((50, 100, 3), 200, np.uint8) for _ in range(4)]
    sheet = contact_sheet([top, bottom], height=60)
    assert sheet.shape == (120, 4 * 120, 3)
    assert sheet[:60, :48].mean() == 0 and sheet[:60, 3 * 48 : 4 * 48].mean() == 9
    assert sheet[60:, :120].mean() == 200 and sheet[:60, 4 * 48 :].max() == 0  # padded


def test_self_reenactment_scores_a_short_clip() -> None:
    clip = shared_path("data", "faces", "videos", "talk_2.mp4")
    rows, sheets = self_reenactment(clip, (1, 3), max_frames=24)
    assert [r.shots for r in rows] == [1, 3] and set(sheets) == {1, 3}
    for row in rows:
        assert row.frames == 24 - 3  # the first frame and the two extra shots are not scored
        assert 0.0 < row.l1 < 0.05 and row.psnr > 24.0 and row.ssim > 0.85
        assert 0.0 < row.akd < 0.08 and 0.0 < row.pose_error < 4.0
        assert math.isfinite(row.jitter) and math.isfinite(row.jitter_truth)


def test_cross_reenactment_follows_motion_and_keeps_identity() -> None:
    portrait = shared_path("data", "faces", "portraits", "s9.jpg")
    driver = shared_path("data", "faces", "videos", "lp_d0.mp4")
    row, sheet = cross_reenactment(portrait, driver, max_frames=12)
    assert row.frames == 12 and sheet.shape[0] == 2 * 192
    assert row.akd < 0.06  # the output's face is where the retargeted motion puts it
    assert row.identity_neutral < 0.01  # at rest the output is the portrait
    # the rigid shape stays the painting's, far from the driver's own
    assert row.identity_rigid < 0.8 * row.identity_rigid_driver


def test_mouth_correlation_and_the_mid_word_cut() -> None:
    driver = np.array([0.0, 0.1, 0.3, 0.1, 0.0])
    assert mouth_correlation(driver, 2 * driver + 1) == pytest.approx(1.0)
    assert mouth_correlation(driver, -driver) == pytest.approx(-1.0)
    assert math.isnan(mouth_correlation(driver, np.ones(5)))
    # the widest point of the first syllable that opens past OPEN_MOUTH (0.06)
    assert mid_word_start(np.array([0.01, 0.05, 0.07, 0.12, 0.2, 0.1, 0.3])) == 4
    assert mid_word_start(np.full(4, 0.02)) == 0


def test_a_driver_that_starts_mid_word_moves_the_mouth_with_it(tmp_path: Path) -> None:
    portrait = shared_path("data", "faces", "portraits", "s12.jpg")
    driver = shared_path("data", "faces", "videos", "talk_2.mp4")
    options = CrossOptions(mid_word=True, videos=tmp_path)
    row, _ = cross_reenactment(portrait, driver, max_frames=40, options=options)
    start = int(row.driver.split("@")[1])
    assert row.driver.startswith("talk_2@") and row.frames == 40
    assert row.mouth_corr > 0.5  # the portrait's mouth opens and closes with the driver's
    assert row.neutral > 0  # not the first frame, which is mid-word
    assert row.identity_neutral < 0.02  # at the rest frame the output is nearly the portrait
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"s12_talk_2@{start}.mp4",
        f"s12_talk_2@{start}_driver.mp4",
    ]


def test_cli_reenact_writes_rows_and_refuses_to_overwrite(tmp_path: Path) -> None:
    clip = shared_path("data", "faces", "videos", "talk_2.mp4")
    report = tmp_path / "self.json"
    args = ["eval", "reenact", str(clip), "--shots", "1", "--shots", "2", "--max-frames", "20"]
    assert main([*args, "--json", str(report), "--sheets", str(tmp_path / "sheets")]) == 0
    rows = json.loads(report.read_text())
    assert [r["shots"] for r in rows] == [1, 2] and rows[0]["psnr"] > 24.0
    assert sorted(p.name for p in (tmp_path / "sheets").iterdir()) == [
        "talk_2_1shot.jpg",
        "talk_2_2shot.jpg",
    ]
    assert main([*args, "--json", str(report)]) == 2
