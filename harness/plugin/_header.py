"""What the gate says about its run: cheap facts in the header, the browser in the summary.

The plugin loads in every pytest session of an environment it is installed in (entry point), so
nothing here may cost a subprocess: finding the browser runs Playwright's driver and the browser
itself (two subprocesses, 0.4-1 s). The header names only what the options say; the browser binary
is named in the terminal summary, by the processes that launched one (under pytest-xdist the
workers send it to the controller through `workeroutput`).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

from harness.browsers import BrowserChoice
from harness.plugin._options import GateOptions
from harness.redaction import redact_url  # not via `harness.state`, which imports fakeredis

_BROWSER_CHOICES: pytest.StashKey[dict[str, BrowserChoice]] = pytest.StashKey()
_WORKER_BROWSERS: pytest.StashKey[dict[str, str]] = pytest.StashKey()
_WORKEROUTPUT_KEY = "sse_gate_browsers"


def browser_choices(config: pytest.Config) -> dict[str, BrowserChoice]:
    """The browsers this process chose, by name (filled by the launch-args fixture)."""
    return config.stash.setdefault(_BROWSER_CHOICES, {})


def stub_frontend_dir() -> str:
    """Where the stub frontend is, without importing `harness.servers` (Starlette, uvicorn, FastAPI)."""
    shipped = importlib.resources.files("harness") / "servers" / "stub_frontend"  # harness itself is light
    return str(Path(str(shipped)).resolve())


def header_lines(config: pytest.Config) -> list[str]:
    options = GateOptions.from_config(config)
    browser_name = (config.getoption("browser", None) or ["chromium"])[0]
    redis = f"real Redis at {redact_url(options.redis_url)} (one db per worker)" if options.redis_url else "fakeredis"
    backend = options.backend_url or options.backend_app or "drafts_api.app:create_app"
    frontend = options.frontend_url or str(options.frontend_dir or stub_frontend_dir())
    return [
        f"sse-gate: browser {browser_name} (the binary is chosen by the first browser test; named in the summary)",
        f"sse-gate: redis: {redis}; backend: {backend}",
        f"sse-gate: frontend: {frontend}" + (f"; sse client: {options.sse_client}" if options.sse_client else ""),
    ]


def _descriptions(config: pytest.Config) -> dict[str, str]:
    from_workers: dict[str, str] = config.stash.get(_WORKER_BROWSERS, {})
    descriptions = dict(from_workers)
    descriptions.update({name: choice.description for name, choice in browser_choices(config).items()})
    return descriptions


def pytest_report_header(config: pytest.Config) -> list[str]:
    return header_lines(config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: tell the controller
        workeroutput[_WORKEROUTPUT_KEY] = _descriptions(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """pytest-xdist (controller): a worker finished; keep the browsers it chose for the summary."""
    workeroutput = getattr(node, "workeroutput", None) or {}
    config = getattr(node, "config", None)
    if isinstance(config, pytest.Config):
        config.stash.setdefault(_WORKER_BROWSERS, {}).update(workeroutput.get(_WORKEROUTPUT_KEY, {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for name, description in sorted(_descriptions(config).items()):
        terminalreporter.write_line(f"sse-gate: browser {name}: {description}")
