"""The web app's jobs and command without a browser (and without Gradio): the same one-line
messages as the CLI, fresh output folders, and a clear line when Gradio is missing."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from unflat.app.jobs import Workspace, depth_job, dub_job, measure_job
from unflat.cli import main
from unflat.errors import UnflatError, format_error
from unflat.pipelines.animate import bundled_portrait
from unflat.progress import note


def message(error: pytest.ExceptionInfo[UnflatError]) -> str:
    return format_error(error.value)


def test_a_missing_upload_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(UnflatError) as error:
        depth_job(Workspace(tmp_path), None)
    assert message(error) == "error: no photo given — upload a photo first"


def test_a_bad_point_is_refused_before_any_depth(tmp_path: Path) -> None:
    with pytest.raises(UnflatError) as error:
        measure_job(bundled_portrait(), "12", "3,4")
    assert message(error) == "error: first point '12' is not a pixel X,Y — e.g. first point 640,360"


def test_dubbing_needs_words(tmp_path: Path) -> None:
    with pytest.raises(UnflatError) as error:
        dub_job(Workspace(tmp_path), bundled_portrait(), "  ", "en-us", keep_sound=False)
    assert message(error) == "error: no words given — type what the person says"


def test_each_run_gets_a_new_folder(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    first, second = workspace.folder("depth"), workspace.folder("depth")
    assert (first.name, second.name) == ("0001-depth", "0002-depth")
    assert first.is_dir() and not any(first.iterdir())


def test_without_gradio_the_command_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio raises ImportError
    assert main(["app"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: the web app needs Gradio, which is not installed — pip install 'unflat[app]' "
        "(Gradio), then run unflat app again"
    )


def test_a_port_out_of_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["app", "--port", "70000"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --port 70000 is not a port — give 1 to 65535, or leave it out"
    )


def test_notes_are_caught_per_thread() -> None:
    from unflat.app.notes import caught_notes

    others: list[list[str]] = []

    def other_job() -> None:
        with caught_notes() as notes:
            note("from the other job")
        others.append(notes)

    with caught_notes() as notes:
        note("depth is a portrait estimate")
        thread = threading.Thread(target=other_job)
        thread.start()
        thread.join()
        print("not a note", file=sys.stderr)
    assert notes == ["depth is a portrait estimate"]
    assert others == [["from the other job"]]
