"""``io.guard.decoding`` and ``io.limits``: one error path for damaged files, one limit policy."""

from __future__ import annotations

import io
import threading
import zipfile

import numpy as np
import pytest

from unflat.errors import InputError, OutputError
from unflat.io.guard import decoding
from unflat.io.limits import Limits, check_limit, current_limits, use_limits

BAD_NPY_HEADER = b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4',  "


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (
            lambda: np.load(io.BytesIO(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4',  ")),
            "not a valid",
        ),
        (lambda: zipfile.ZipFile(io.BytesIO(b"PK\x03\x04 broken")), "not a valid"),
        (lambda: b"\xff\xfe".decode("utf-8"), "can't decode"),
        (lambda: 1 // 0, "division"),
        (lambda: int(None), "int()"),  # type: ignore[arg-type]
    ],
)
def test_library_errors_become_one_input_error(damage, fragment: str) -> None:
    with pytest.raises(InputError) as caught, decoding("x.npy", "depth map"):
        damage()
    message = str(caught.value.message)
    assert message.startswith("x.npy is not a valid depth map (") and "\n" not in message
    assert fragment in message or fragment == "not a valid"
    assert caught.value.hint


def test_unflat_errors_and_bugs_pass_through() -> None:
    with pytest.raises(OutputError, match="disk"), decoding("x", "thing"):
        raise OutputError("disk full", "free space")
    with pytest.raises(NameError), decoding("x", "thing"):
        undefined_name  # type: ignore[name-defined]  # noqa: B018, F821


def test_parser_errors_lose_their_positions() -> None:
    with pytest.raises(InputError) as caught, decoding("x.npy", "depth map"):
        np.load(io.BytesIO(BAD_NPY_HEADER))
    assert "(2, 0)" not in caught.value.message and "((" not in caught.value.message


def test_memory_error_says_the_file_lies() -> None:
    refused = pytest.raises(InputError, match="more data than this machine can hold")
    with refused, decoding("huge.png", "PNG image"):
        raise MemoryError


def test_limits_are_scoped_and_named_in_the_hint() -> None:
    assert current_limits() == Limits()
    check_limit("a.spz", "Gaussians", 10_000_000, "max_gaussians")  # at the limit: fine
    with pytest.raises(InputError, match=r"a.spz holds 20,000,000 Gaussians; the limit is 10,0"):
        check_limit("a.spz", "Gaussians", 20_000_000, "max_gaussians")
    with use_limits(max_gaussians=30_000_000, max_seconds=None) as limits:
        assert limits.max_gaussians == 30_000_000 and limits.max_seconds == Limits().max_seconds
        check_limit("a.spz", "Gaussians", 20_000_000, "max_gaussians")
    assert current_limits() == Limits()
    try:
        check_limit("a.spz", "Gaussians", 2e7, "max_gaussians")
    except InputError as error:
        assert "--max-gaussians 20000000" in error.hint
    refused = pytest.raises(InputError, match="--max-video-frames must be positive")
    with refused, use_limits(max_frames=0):
        pass


def test_limits_do_not_leak_between_threads() -> None:
    seen = []
    with use_limits(max_pixels=10):
        worker = threading.Thread(target=lambda: seen.append(current_limits().max_pixels))
        worker.start()
        worker.join()
    assert seen == [Limits().max_pixels]
