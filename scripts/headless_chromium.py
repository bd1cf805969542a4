"""A small headless-Chromium driver over the DevTools protocol, with the network cut off.

Used by ``tests/test_browser.py`` (does the built book work offline, in a real browser?) and
``scripts/screenshots.py``. It needs Debian's ``chromium`` (``make chromium`` installs it) and the
``websocket-client`` package. Chromium runs with a proxy that does not exist for everything but
the loopback interface, so a page that asks for anything on the internet gets an error, and every
request a page makes is recorded (``Page.requests``).
"""
from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
OFFLINE_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--no-first-run", "--no-default-browser-check",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider",
    "--mute-audio", "--hide-scrollbars",
    # everything except loopback goes to a proxy that does not exist: no internet
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1;localhost",
)
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "devtools:", "chrome-error:")


def find_chromium() -> str | None:
    """Path of a Chromium binary (``$CHROMIUM`` first), or None."""
    configured = os.environ.get("CHROMIUM")
    if configured and shutil.which(configured):
        return shutil.which(configured)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _no_proxy_opener():
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Page:
    """One browser tab driven over its DevTools websocket."""

    def __init__(self, ws_url: str, timeout: float = 60):
        import websocket  # websocket-client

        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.timeout = timeout
        self._next_id = 0
        self.events: list[dict] = []
        self.requests: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self._request_urls: dict[str, str] = {}
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def _record(self, event: dict) -> None:
        method, params = event.get("method"), event.get("params", {})
        self.events.append(event)
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            self.requests.append(url)
            self._request_urls[params["requestId"]] = url
        elif method == "Network.loadingFailed":
            self.failed.append((self._request_urls.get(params["requestId"], "?"), params.get("errorText", "")))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))

    def send(self, method: str, params: dict | None = None, timeout: float | None = None) -> dict:
        self._next_id += 1
        ident = self._next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._record(message)
        raise TimeoutError(method)

    def wait_for_event(self, method: str, timeout: float | None = None) -> dict:
        """The first event ``method`` since the log was last cleared (it may have arrived already)."""
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            self.ws.settimeout(max(deadline - time.monotonic(), 0.1))
            message = json.loads(self.ws.recv())
            self._record(message)
            if message.get("method") == method:
                self.ws.settimeout(self.timeout)
                return message
        raise TimeoutError(method)

    def evaluate(self, expression: str, await_promise: bool = False, timeout: float | None = None):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": await_promise}, timeout=timeout)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}...: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def open(self, url: str, settle: float = 0.3) -> None:
        """Load ``url`` (fresh request log) and wait for the load event and for MathJax to finish."""
        self.requests, self.failed, self.errors = [], [], []
        self.events = []
        result = self.send("Page.navigate", {"url": url})
        if "errorText" in result and result["errorText"]:
            raise RuntimeError(f"cannot open {url}: {result['errorText']}")
        if result.get("loaderId"):  # a same-document navigation (only the #fragment changed) fires no load event
            self.wait_for_event("Page.loadEventFired")
        self.wait_for_mathjax()
        time.sleep(settle)
        self.evaluate("1")  # drain events that arrived meanwhile

    def wait_for_mathjax(self, timeout: float = 60) -> None:
        self.evaluate(
            "new Promise(function (done) {"
            "  var start = Date.now();"
            "  (function poll() {"
            "    var mj = window.MathJax;"
            "    if (mj && mj.startup && mj.startup.promise) { mj.startup.promise.then(function () { done(true); }); return; }"
            "    if (!document.querySelector('script[src*=\"mathjax\"]') || Date.now() - start > 20000) { done(false); return; }"
            "    setTimeout(poll, 100);"
            "  })();"
            "})", await_promise=True, timeout=timeout)

    def external_requests(self, allowed_origin: str | None = None) -> list[str]:
        """Every request this page made that leaves the machine (not file:, data:, ... or the local server)."""
        def local(url: str) -> bool:
            return url.startswith(LOCAL_SCHEMES) or bool(allowed_origin and url.startswith(allowed_origin))
        return [url for url in self.requests if not local(url)]

    def screenshot(self, path: Path, width: int = 1200, height: int = 800, colors: int | None = 96) -> None:
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False})
        data = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        if colors:
            import io

            from PIL import Image

            image = Image.open(io.BytesIO(data)).convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
            image.save(path, format="PNG", optimize=True)
        else:
            path.write_bytes(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


class Chromium:
    """A headless Chromium process without internet access; ``new_page()`` opens a tab."""

    def __init__(self, binary: str | None = None, width: int = 1280, height: int = 900, timeout: float = 60):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise FileNotFoundError("no Chromium binary found (install Debian's chromium: `make chromium`)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="mfh-chromium-")
        self.port = _free_port()
        command = [self.binary, *OFFLINE_FLAGS, f"--remote-debugging-port={self.port}",
                   "--remote-allow-origins=*", f"--user-data-dir={self.profile}",
                   f"--window-size={width},{height}", "about:blank"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pages: list[Page] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                with _no_proxy_opener().open(f"http://127.0.0.1:{self.port}/json/version", timeout=2) as r:
                    json.loads(r.read())
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"Chromium did not start ({self.binary})")
                time.sleep(0.2)

    def new_page(self) -> Page:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with _no_proxy_opener().open(request, timeout=10) as r:
            target = json.loads(r.read())
        page = Page(target["webSocketDebuggerUrl"], timeout=self.timeout)
        self.pages.append(page)
        return page

    def close(self) -> None:
        for page in self.pages:
            page.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 (a random port) for the duration; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
