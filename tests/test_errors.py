"""format_error: one line whatever the message holds."""

from __future__ import annotations

from unflat.errors import InputError, format_error, one_line


def test_control_characters_are_shown_escaped_on_one_line() -> None:
    # issue 15 item 9: a file name with a newline made a two-line error
    error = InputError("photos/new\nline.jpg is empty (0 bytes)", hint="give\tanother\rfile")
    line = format_error(error)
    assert line == ("error: photos/new\\nline.jpg is empty (0 bytes) — give\\tanother\\rfile")
    assert len(line.splitlines()) == 1


def test_escapes_that_could_hide_or_rewrite_text() -> None:
    # a terminal escape, DEL, a C1 control, Unicode line breaks and a right-to-left override
    text = "a\x1b[2Jb\x7fc\x85d\u2028e\u2029f\u202eg\x00"
    assert one_line(text) == "a\\x1b[2Jb\\x7fc\\x85d\\u2028e\\u2029f\\u202eg\\x00"
    assert one_line("café ✓ 写真.jpg") == "café ✓ 写真.jpg"  # printable text is kept
    assert format_error(InputError("plain")) == "error: plain"
