"""collect_inputs: files, folders and patterns to a deduplicated list of image paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from unflat.errors import InputError
from unflat.io.inputs import collect_inputs


@pytest.fixture
def album(tmp_path: Path) -> Path:
    """A folder mixing images (any case), other files, hidden files and a subfolder."""
    names = [
        "a.jpg",
        "B.PNG",
        "c.txt",
        "d.HeIc",
        ".hidden.jpg",
        "._a.jpg",
        ".git/e.jpg",
        "sub/f.tiff",
        "sub/deeper/g.webp",
        "sub/notes.md",
    ]
    for name in names:
        path = tmp_path / "album" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")  # collect_inputs looks at names only
    return tmp_path / "album"


def _names(paths: list[Path], root: Path) -> list[str]:
    return [path.relative_to(root).as_posix() for path in paths]


def test_folder_recursive_sorted_images_only(album: Path) -> None:
    found, problems = collect_inputs([str(album)])
    # sorted by path; upper case sorts before lower case; hidden files and folders skipped
    assert _names(found, album) == ["B.PNG", "a.jpg", "d.HeIc", "sub/deeper/g.webp", "sub/f.tiff"]
    assert problems == []


def test_folder_not_recursive(album: Path) -> None:
    found, _ = collect_inputs([str(album)], recursive=False)
    assert _names(found, album) == ["B.PNG", "a.jpg", "d.HeIc"]


def test_explicit_file_is_taken_whatever_its_extension(album: Path) -> None:
    found, problems = collect_inputs([str(album / "c.txt")])
    assert found == [album / "c.txt"] and problems == []


def test_glob_pattern(album: Path) -> None:
    found, problems = collect_inputs([str(album / "**" / "*.t*")])
    # c.txt matches the pattern but is not an image
    assert _names(found, album) == ["sub/f.tiff"]
    assert problems == []


def test_duplicates_are_removed_keeping_first_order(album: Path) -> None:
    specs = [str(album / "sub" / "f.tiff"), str(album), str(album / "a.jpg"), str(album / "*.jpg")]
    found, _ = collect_inputs(specs)
    assert _names(found, album) == ["sub/f.tiff", "B.PNG", "a.jpg", "d.HeIc", "sub/deeper/g.webp"]


def test_same_file_by_two_spellings_counts_once(album: Path, monkeypatch) -> None:
    monkeypatch.chdir(album)
    found, _ = collect_inputs(["a.jpg", str(album / "a.jpg"), "./sub/../a.jpg"])
    assert found == [Path("a.jpg")]


def test_problems_are_reported_next_to_what_was_found(album: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    specs = [str(album / "a.jpg"), str(tmp_path / "missing.jpg"), str(tmp_path / "empty")]
    specs.append(str(tmp_path / "*.gif"))
    found, problems = collect_inputs(specs)
    assert found == [album / "a.jpg"]
    assert problems == [
        f"{tmp_path / 'missing.jpg'}: no such file or folder",
        f"{tmp_path / 'empty'}: no images in this folder or its subfolders",
        f"{tmp_path / '*.gif'}: the pattern matched no images",
    ]


def test_nothing_found_raises_with_each_problem(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        collect_inputs([str(tmp_path / "missing.jpg"), str(tmp_path / "*.png")])
    message = str(caught.value)
    assert message.startswith("no input images found")
    assert "missing.jpg: no such file or folder" in message
    assert "matched no images" in message
    assert ".jpg" in caught.value.hint


def test_no_specs_raises() -> None:
    with pytest.raises(InputError, match="no inputs given"):
        collect_inputs([])


def _outputs_beside(folder: Path, names: list[str]) -> None:
    """What `unflat depth` writes for each photo, as a second run would find it."""
    for name in names:
        stem = Path(name).stem
        for suffix in (".depth.npy", ".depth_mm.png", ".preview.jpg", ".json"):
            (folder / f"{stem}{suffix}").write_bytes(b"x")


def test_unflats_own_outputs_are_not_taken_for_photos(tmp_path: Path) -> None:
    # issue 15 item 7: `unflat depth .` twice took its own previews and depth PNGs for photos
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.jpg", "b.png"):
        (folder / name).write_bytes(b"x")
    _outputs_beside(folder, ["a.jpg", "b.png"])
    found, problems = collect_inputs([str(folder)], output=folder)
    assert _names(found, folder) == ["a.jpg", "b.png"]
    assert problems == [
        f"{folder}: left out 4 files that unflat wrote (*.depth_mm.png or *.preview.jpg); "
        "name a file explicitly to use it as a photo"
    ]
    # patterns too; a file named explicitly is taken
    found, _ = collect_inputs([str(folder / "*.jpg")])
    assert _names(found, folder) == ["a.jpg"]
    found, problems = collect_inputs([str(folder / "a.preview.jpg")])
    assert _names(found, folder) == ["a.preview.jpg"] and problems == []


def test_the_output_folder_inside_an_input_folder_is_left_out(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "depth").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(b"x")
    _outputs_beside(folder / "depth", ["a.jpg"])
    (folder / "depth" / "stray.jpg").write_bytes(b"x")  # a photo someone put there
    found, problems = collect_inputs([str(folder)], output=folder / "depth")
    assert _names(found, folder) == ["a.jpg"]
    assert problems == [
        f"{folder}: left out 1 images inside the output folder {folder / 'depth'}; "
        "name them explicitly to use them"
    ]
    found, _ = collect_inputs([str(folder / "**" / "*.jpg")], output=folder / "depth")
    assert _names(found, folder) == ["a.jpg"]
    # given as the input folder itself, the output folder's photos count
    found, _ = collect_inputs([str(folder / "depth")], output=folder / "depth")
    assert _names(found, folder) == ["depth/stray.jpg"]
    found, _ = collect_inputs([str(folder)], output=tmp_path / "elsewhere")
    assert _names(found, folder) == ["a.jpg", "depth/stray.jpg"]
