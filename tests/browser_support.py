"""Helpers for the browser tests: isolated Jupyter / Voila servers and headless Chromium.

Everything here is bounded (every wait has a timeout) and local (servers listen on 127.0.0.1,
the browser aborts any request that leaves 127.0.0.1). Servers always stop, also when a test fails:
`serve` kills their process group and any kernel they left behind, by process id.

Used by tests/test_browser.py; see "Browser tests" in ../shared/REFERENCE.md (beside the project's root) for the selectors.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts"  # git-ignored; screenshots and server logs
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = ("127.0.0.1",)
VIEWPORT = {"width": 1400, "height": 1000}

# JupyterLab user settings written into the isolated config dir: no "news" toast over the page.
LAB_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # never write outputs back into a notebook (the served copies are temporary anyway)
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # render every cell: JupyterLab 4 leaves cells outside the viewport out of the DOM by default,
    # and the tests look for figures anywhere in the lesson
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return (
            f"{CHROMIUM} not found: install Debian's chromium (`make chromium` as root, or "
            "`apt-get install -y chromium`) to run the browser tests"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python package `playwright` not installed (it is in the [dev] extras)"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(base: Path) -> dict[str, str]:
    """Environment for a server: own Jupyter/IPython/matplotlib/tmp dirs, lessons in fast mode."""
    env = dict(os.environ)
    for name in ("JUPYTER_TOKEN", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "MPLBACKEND"):
        env.pop(name, None)  # MPLBACKEND=Agg (set for pytest) would hide every inline figure
    dirs = {
        "JUPYTER_CONFIG_DIR": "jupyter-config",
        "JUPYTER_DATA_DIR": "jupyter-data",
        "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
        "IPYTHONDIR": "ipython",
        "MPLCONFIGDIR": "matplotlib",
        "TMPDIR": "tmp",
    }
    for name, sub in dirs.items():
        path = base / sub
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    settings = base / "jupyter-config" / "lab" / "user-settings"
    for rel, value in LAB_USER_SETTINGS.items():
        target = settings / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    env["SLOWFAST_LAB_FAST"] = "1"
    # the kernel imports this working tree's slowfast_lab, installed or not
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("OMP_NUM_THREADS", "2")
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    return env


@dataclass
class Server:
    """A running server: where to reach it and what it logged."""

    url: str  # base URL, ends with "/"
    token: str
    proc: subprocess.Popen
    log: Path
    runtime_dir: Path

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def with_token(self, path: str = "") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.url}{path}{sep}token={self.token}" if self.token else f"{self.url}{path}"


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # only ever 127.0.0.1
            return resp.status == 200
    except OSError:
        return False


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _kernels_of(runtime_dir: Path) -> list[int]:
    """Process ids of kernels whose connection file lies in `runtime_dir` (ours, by construction)."""
    pids = []
    marker = str(runtime_dir).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmdline and b"kernel" in cmdline:
            pids.append(int(entry.name))
    return pids


def _stop(proc: subprocess.Popen, runtime_dir: Path) -> None:
    """Stop the server's process group, then any kernel it started in a session of its own."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the group, if any
    for pid in _kernels_of(runtime_dir):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def serve(kind: str, target: Path, base: Path, timeout: float = 90) -> Iterator[Server]:
    """Start `jupyter lab` (kind "lab", target = root dir) or `voila` (kind "voila",
    target = notebook) from this Python environment on 127.0.0.1; stop it on exit, always."""
    env = isolated_env(base)
    runtime_dir = Path(env["JUPYTER_RUNTIME_DIR"])
    token = secrets.token_hex(16)
    root_flag = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    last_error = ""
    for attempt in range(3):  # a port picked as free can be taken before the server binds it
        port = free_port()
        if kind == "lab":
            cmd = [
                sys.executable, "-m", "jupyterlab",
                "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={target}", "--LabApp.expose_app_in_browser=True",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--ServerApp.terminals_enabled=False",
                *root_flag,
            ]  # fmt: skip
            ready = f"http://127.0.0.1:{port}/api/status?token={token}"
        elif kind == "voila":
            # the same command as `make classroom`, bound to 127.0.0.1 with a token
            cmd = [
                sys.executable, "-m", "voila", str(target),
                "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
                "--Voila.port_retries=0", f"--token={token}", "--show_tracebacks=True",
            ]  # fmt: skip
            ready = None
        else:
            raise ValueError(f"kind must be 'lab' or 'voila', not {kind!r}")
        log = base / f"{kind}-server-{attempt}.log"
        with open(log, "wb") as log_file:
            proc = subprocess.Popen(
                cmd,
                cwd=str(target if target.is_dir() else target.parent),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg stops it and its children
            )
        server = Server(f"http://127.0.0.1:{port}/", token, proc, log, runtime_dir)
        try:
            deadline = time.monotonic() + timeout
            up = False
            while time.monotonic() < deadline and proc.poll() is None:
                if _http_ok(ready) if ready else _port_open(port):
                    up = True
                    break
                time.sleep(0.5)
            if not up:
                last_error = (
                    f"{kind} server did not come up in {timeout:.0f} s "
                    f"(exit code {proc.poll()}); log:\n{server.log_tail()}"
                )
                if proc.poll() is not None and "already in use" in server.log_tail():
                    continue
                raise RuntimeError(last_error)
            yield server
            return
        finally:
            _stop(proc, runtime_dir)
    raise RuntimeError(last_error)


@contextlib.contextmanager
def chromium(profile_dir: Path) -> Iterator:
    """A fresh headless Chromium context (system browser, own profile) that stays on 127.0.0.1."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport=VIEWPORT,
            timeout=60_000,
        )
        try:
            context.set_default_timeout(30_000)
            context.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/]).*"), _abort_remote)
            yield context
        finally:
            context.close()


def _abort_remote(route) -> None:
    url = route.request.url
    if url.startswith(("data:", "blob:", "about:")):
        route.continue_()
    else:
        route.abort("blockedbyclient")  # never leave 127.0.0.1 (fonts from a CDN, etc.)


def screenshot(page, name: str, full_page: bool = False) -> Path:
    """Save a PNG into test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


# ---------------------------------------------------------------------------------------------
# JupyterLab: open a notebook, run all cells, wait until done, collect errors.

_LAB_PANEL_JS = """
(path) => {
  const app = window.jupyterapp;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path) return w;
  }
  return null;
}
"""

_LAB_STATE_JS = (
    """
(path) => {
  const find = """
    + _LAB_PANEL_JS
    + """;
  const panel = find(path);
  if (!panel || !panel.content || !panel.content.model) return {ready: false};
  const cells = panel.content.model.cells;
  let code = 0, done = 0;
  const errors = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    code += 1;
    if (cell.executionCount !== null && cell.executionCount !== undefined) done += 1;
    const outputs = cell.outputs;
    for (let j = 0; j < outputs.length; j++) {
      const out = outputs.get(j);
      const data = out.toJSON();
      if (out.type === 'error') {
        errors.push(`cell ${i}: ${data.ename}: ${data.evalue}`);
      } else if (out.type === 'stream' && data.name === 'stderr' && /Traceback|Error/.test(data.text)) {
        errors.push(`cell ${i} (stderr): ${String(data.text).slice(0, 500)}`);
      }
    }
  }
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return {ready: true, code, done, errors, kernel: kernel ? kernel.status : 'none',
          pending: panel.sessionContext.hasPendingInput || false};
}
"""
)


def lab_open(page, server: Server, path: str, timeout: float = 120) -> None:
    """Load JupyterLab, open `path` (relative to the root dir) and wait for its kernel to be idle."""
    page.goto(server.with_token("lab"), wait_until="domcontentloaded", timeout=timeout * 1000)
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.started && window.jupyterapp.shell",
        timeout=timeout * 1000,
    )
    page.evaluate("async () => { await window.jupyterapp.restored; }")
    page.evaluate(
        """async (path) => {
          const app = window.jupyterapp;
          const w = await app.commands.execute('docmanager:open',
              {path, factory: 'Notebook', kernel: {name: 'python3'}});
          await w.context.ready;
          await w.sessionContext.ready;
          app.shell.activateById(w.id);
          app.shell.collapseLeft();
          app.shell.collapseRight();
        }""",
        path,
    )
    page.wait_for_function(
        "(path) => (" + _LAB_STATE_JS + ")(path).kernel === 'idle'",
        arg=path,
        timeout=timeout * 1000,
    )


def lab_run_all(page, path: str, timeout: float = 240) -> dict:
    """Run every cell of the open notebook `path`; return its state once all code cells have an
    execution count and the kernel is idle (or as soon as a cell failed and the kernel is idle)."""
    page.evaluate(
        """async (path) => {
          const app = window.jupyterapp;
          const find = """
        + _LAB_PANEL_JS
        + """;
          app.shell.activateById(find(path).id);
          await app.commands.execute('notebook:run-all-cells');
        }""",
        path,
    )
    deadline = time.monotonic() + timeout
    state: dict = {}
    idle_since = None
    while time.monotonic() < deadline:
        state = page.evaluate("(path) => (" + _LAB_STATE_JS + ")(path)", path)
        idle = state.get("kernel") == "idle"
        finished = state.get("ready") and state["done"] == state["code"] and state["code"] > 0
        if idle and (finished or state.get("errors")):
            # idle for a moment: the last outputs (widgets, figures) have arrived
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 1.0:
                return state
        else:
            idle_since = None
        time.sleep(0.5)
    raise TimeoutError(
        f"{path}: cells still running after {timeout:.0f} s: {state.get('done')}/{state.get('code')}"
        f" code cells executed, kernel {state.get('kernel')}"
    )


def lab_error_outputs(page) -> list[str]:
    """Texts of error / stderr outputs shown in the page (what a learner would see in red)."""
    sel = (
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], '
        ".jp-OutputArea-output.jp-mod-error"
    )
    return [t.strip()[:800] for t in page.locator(sel).all_inner_texts()]


def wait_idle(page, path: str, timeout: float = 60) -> None:
    """Wait until the notebook's kernel is idle again (after a widget callback)."""
    page.wait_for_function(
        "(path) => (" + _LAB_STATE_JS + ")(path).kernel === 'idle'",
        arg=path,
        timeout=timeout * 1000,
    )


# ---------------------------------------------------------------------------------------------
# Widgets: find a control by its label, set it like a learner would, read numbers.


def control(scope, label: str):
    """The ipywidgets control (slider, dropdown, toggle buttons, ...) whose description matches
    `label` (a regex, case-insensitive) within `scope` (a page or a locator)."""
    pattern = re.compile(label, re.IGNORECASE)
    boxes = scope.locator(
        ".widget-inline-hbox, .widget-hslider, .widget-dropdown, .widget-toggle-buttons"
    )
    return boxes.filter(has=scope.locator(".widget-label", has_text=pattern)).first


_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*(?:\.\d+)?")


def numbers_in(text: str) -> list[float]:
    """All numbers in a text, '36.1 G' -> [36.1], '34,480,000' -> [34480000.0]."""
    return [float(m.replace(",", "")) for m in _NUMBER.findall(text)]


def scale_of(unit: str) -> float:
    return {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}.get(unit, 1.0)


def quantities(text: str) -> list[float]:
    """Numbers with an SI suffix scaled to plain units: '36.1 G multiply-adds, 34.48M params'
    -> [36.1e9, 34.48e6]."""
    found = []
    for m in re.finditer(r"(-?\d[\d,]*(?:\.\d+)?)\s*([kKMGT]?)(?![a-zA-Z])", text):
        found.append(float(m.group(1).replace(",", "")) * scale_of(m.group(2)))
    return found


def close_to(shown: float, exact: float, digits_shown: int = 3) -> bool:
    """True when `shown` is `exact` rounded for display (relative tolerance from the digits)."""
    if exact == 0:
        return shown == 0
    return abs(shown - exact) / abs(exact) <= 0.5 * 10 ** (1 - digits_shown) + 1e-9
