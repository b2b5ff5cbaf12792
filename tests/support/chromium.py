"""A headless Debian `chromium` driven over the Chrome DevTools Protocol (websocket-client, no webdriver).

Enough of CDP for the site tests: open a file:// page and wait for its load event, evaluate JavaScript, type,
set the viewport width, take a full-page screenshot, and collect everything the page reports as an error
(console errors, uncaught exceptions, CSP violations and failed resource loads arrive as Log/Runtime events).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class CDPError(RuntimeError):
    pass


class Browser:
    """One headless chromium process with one page target. Use as a context manager."""

    def __init__(self, executable: str, *, timeout_s: float = 30.0):
        self.timeout_s = timeout_s
        self.profile = tempfile.mkdtemp(prefix="dissect-chromium-")
        args = [executable, "--headless=new", "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
                "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
                "--disable-background-networking", "--disable-sync", "--disable-dev-shm-usage",
                "--hide-scrollbars", "--mute-audio", "--window-size=1280,900", "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # chromium refuses to run its sandbox as root (CI containers)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.errors: list[str] = []
        self._next_id = 0
        self._events: list[dict] = []
        try:
            port = self._devtools_port()
            self.ws = websocket.create_connection(self._page_ws_url(port), timeout=timeout_s,
                                                  suppress_origin=True)
            for domain in ("Page", "Runtime", "Log"):
                self.send(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    # -- plumbing ------------------------------------------------------------------------------------

    def _devtools_port(self) -> int:
        marker = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CDPError(f"chromium exited with {self.proc.returncode}: "
                               f"{self.proc.stderr.read().decode(errors='replace')[-2000:]}")
            if marker.exists():
                first = marker.read_text().split("\n", 1)[0].strip()
                if first.isdigit():
                    return int(first)
            time.sleep(0.05)
        raise CDPError("chromium did not open its DevTools port")

    def _page_ws_url(self, port: int) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=self.timeout_s) as resp:
            targets = json.load(resp)
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise CDPError("chromium has no page target")
        return pages[0]["webSocketDebuggerUrl"]

    def send(self, method: str, **params: Any) -> dict:
        self._next_id += 1
        msg_id = self._next_id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)
        raise CDPError(f"{method}: no reply in {self.timeout_s} s")

    def _event(self, msg: dict) -> None:
        method, params = msg.get("method", ""), msg.get("params", {})
        self._events.append(msg)
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                      for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())

    def _wait_event(self, method: str) -> dict:
        for i, msg in enumerate(self._events):
            if msg.get("method") == method:
                del self._events[: i + 1]
                return msg
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if "id" not in msg:
                self._event(msg)
                if msg.get("method") == method:
                    self._events.clear()
                    return msg
        raise CDPError(f"no {method} in {self.timeout_s} s")

    # -- what tests use ------------------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Navigate and wait for the load event (scripts have run, stylesheets are applied)."""
        self._events.clear()
        reply = self.send("Page.navigate", url=url)
        if reply.get("errorText"):
            raise CDPError(f"cannot open {url}: {reply['errorText']}")
        self._wait_event("Page.loadEventFired")

    def eval(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise CDPError(f"evaluation failed: {reply['exceptionDetails'].get('text')}: {expression[:200]}")
        return reply.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout_s: float = 10.0) -> Any:
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CDPError(f"timed out waiting for: {expression[:200]}")
            time.sleep(0.05)

    def type_text(self, text: str) -> None:
        self.send("Input.insertText", text=text)

    def press_enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13,
                      **({"text": "\r"} if kind == "keyDown" else {}))

    def wait_for_load(self) -> None:
        self._wait_event("Page.loadEventFired")

    def set_width(self, width: int, height: int = 900) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=width < 600)

    def screenshot(self, path: Path) -> Path:
        """A full-page PNG at the current width."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        reply = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(reply["data"]))
        return path

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            try:
                ws.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
