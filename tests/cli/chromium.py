"""Headless Chromium driven over the DevTools protocol, for the tests of ``unflat view``.

Chromium's ``--remote-debugging-pipe`` speaks the protocol over file descriptors 3 (commands
in) and 4 (replies and events out), one JSON message per NUL-terminated chunk: no websocket
library, no browser download, only Debian's ``chromium`` package.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",  # root in a container: the sandbox cannot start
    "--disable-gpu",
    "--use-angle=swiftshader",  # WebGL 2 on the CPU
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class ChromiumError(RuntimeError):
    pass


class Chromium:
    """One headless browser with one page; ``call`` sends a command to that page."""

    def __init__(self, executable: str, width: int, height: int) -> None:
        self.profile = tempfile.mkdtemp(prefix="unflat-chromium-")
        commands_read, commands_write = os.pipe()
        replies_read, replies_write = os.pipe()
        # descriptors above 10, so moving them to 3 and 4 in the child clobbers neither
        high_in = fcntl.fcntl(commands_read, fcntl.F_DUPFD, 10)
        high_out = fcntl.fcntl(replies_write, fcntl.F_DUPFD, 10)

        def to_three_and_four() -> None:
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        self.process = subprocess.Popen(
            [
                executable,
                *FLAGS,
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=to_three_and_four,
            pass_fds=(3, 4),
        )
        for fd in (commands_read, replies_write, high_in, high_out):
            os.close(fd)
        self.commands = os.fdopen(commands_write, "wb", buffering=0)
        self.replies = os.fdopen(replies_read, "rb", buffering=0)
        self.next_id = 0
        self.lock = threading.Lock()
        self.session: str | None = None
        self.console: list[str] = []
        self.stream = self._messages()
        target = self.call("Target.createTarget", url="about:blank", browser=True)["targetId"]
        attached = self.call("Target.attachToTarget", browser=True, targetId=target, flatten=True)
        self.session = attached["sessionId"]
        self.call("Runtime.enable")
        self.call("Page.enable")
        self.resize(width, height)

    def resize(self, width: int, height: int) -> None:
        """The page's viewport, in CSS pixels (one device pixel each)."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip

    def _messages(self) -> Any:
        buffer = b""
        while True:
            while b"\0" in buffer:
                head, _, buffer = buffer.partition(b"\0")
                yield json.loads(head)
            piece = self.replies.read(1 << 16)
            if not piece:
                raise ChromiumError("chromium closed its DevTools pipe")
            buffer += piece

    def call(self, method: str, browser: bool = False, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its reply (events on the way are kept as console lines)."""
        with self.lock:
            self.next_id += 1
            message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
            if self.session and not browser:
                message["sessionId"] = self.session
            self.commands.write(json.dumps(message).encode() + b"\0")
            for reply in self.stream:
                if reply.get("method") == "Runtime.consoleAPICalled":
                    args = reply["params"]["args"]
                    self.console.append(
                        " ".join(str(a.get("value", a.get("description"))) for a in args)
                    )
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise ChromiumError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
        raise ChromiumError("unreachable")

    def evaluate(self, expression: str, timeout_ms: int = 60_000) -> Any:
        """The value of a JavaScript expression (promises awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                           returnByValue=True, timeout=timeout_ms)  # fmt: skip
        if "exceptionDetails" in result:
            raise ChromiumError(f"{expression[:60]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def close(self) -> None:
        with contextlib.suppress(ChromiumError, OSError):
            self.call("Browser.close", browser=True)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.commands.close()
        self.replies.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
