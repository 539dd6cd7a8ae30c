"""Which browser binary the e2e suite drives, and how to get one onto a machine that has none.

Library: `find_browser(name, headless=True)` returns a `BrowserChoice` (Playwright's own build when it
is installed, else, for Chromium only, a system Chromium with the flags this closed network needs: its
headless shell for headless runs where installed) or raises `BrowserNotFound` with the exact command.

CLI: `python -m harness.browsers ensure [--browser chromium]` installs what is missing; it lives in
`harness/browsers/__main__.py`, which only `python -m` runs, so the pytest plugin (which imports
this module) never carries installers.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PLAYWRIGHT_BROWSERS: tuple[str, ...] = ("chromium", "firefox", "webkit")

# Names a system Chromium goes by on Debian/Ubuntu, Fedora, GitHub's runners and Google's packages.
SYSTEM_CHROMIUM_COMMANDS: tuple[str, ...] = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)

# Debian's build of Chromium's headless shell (package `chromium-headless-shell`, Debian 12 and later):
# the same engine without the browser's UI layer. Playwright itself runs headless Chromium in its own
# build of this shell (since 1.49), so a headless run on it is what GitHub's runners run; it also costs
# less: `make e2e`, three alternating runs each on the 2-core machine, median 17.0 s and 20.3 CPU-s
# against the full browser's 19.8 s and 27.1 CPU-s. A headed run needs the full browser.
SYSTEM_HEADLESS_SHELL_COMMANDS: tuple[str, ...] = ("chromium-headless-shell",)

# Chromium phones home at start-up (component updates, sync, field trials). On a network that
# refuses those connections it logs bursts of errors and can slow the first navigation, so a
# system Chromium gets these; Playwright already passes them to its own build.
CLOSED_NETWORK_FLAGS: tuple[str, ...] = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

# Playwright writes this file into a browser's directory once its download is complete; a
# directory without it is a broken or interrupted install (read in playwright-core's registry).
PLAYWRIGHT_INSTALL_MARKER = "INSTALLATION_COMPLETE"

# `playwright install --dry-run` answers in about 0.4 s; a driver that hangs must not hang pytest.
DRY_RUN_TIMEOUT_S = 30.0
VERSION_TIMEOUT_S = 10.0


class BrowserNotFound(RuntimeError):
    """No usable browser binary; the message says what to install."""


@dataclass(frozen=True)
class BrowserChoice:
    """What to hand to Playwright's `browser_type.launch`.

    `executable_path` None means Playwright's own build; `description` is one line for the
    pytest header and the `ensure` output, without the browser's name (the caller has it).
    """

    name: str
    executable_path: str | None
    launch_args: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class PlaywrightBuild:
    """One directory Playwright installs for a browser (the browser, its headless shell, ffmpeg)."""

    title: str
    install_location: Path


# ---------------------------------------------------------------------------------------------
# Lookups (each one small so that tests can replace it with monkeypatch)
# ---------------------------------------------------------------------------------------------


def run_bounded(
    command: Sequence[str], timeout_s: float, capture: bool = True
) -> subprocess.CompletedProcess[str] | None:
    """Run `command`, killing its whole process group after `timeout_s`; None when it timed out.

    Hand-written instead of `subprocess.run(timeout=...)` because that kills only the direct
    child: `python -m playwright install` runs a Node driver that would go on downloading.
    """
    try:
        process = subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
    except OSError as error:  # not found, not executable: a failed command, not a traceback
        return subprocess.CompletedProcess(list(command), 127, f"Error: cannot run {command[0]}: {error}", None)
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None
    return subprocess.CompletedProcess(list(command), process.returncode, output or "", None)


def parse_playwright_dry_run(output: str) -> list[PlaywrightBuild]:
    """Read the blocks of `playwright install --dry-run NAME`: a title line, then `Install location:`."""
    builds: list[PlaywrightBuild] = []
    for block in re.split(r"\n\s*\n", output.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        location = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Install location:")), None)
        if lines and location:
            builds.append(PlaywrightBuild(title=lines[0], install_location=Path(location)))
    return builds


def playwright_builds(browser_name: str) -> list[PlaywrightBuild]:
    """The directories Playwright would install `browser_name` into, asked of Playwright itself.

    Asking the installed driver (rather than recomputing ~/.cache/ms-playwright/NAME-REVISION)
    keeps PLAYWRIGHT_BROWSERS_PATH, per-platform revisions and the headless shell right for every
    Playwright version. An empty list means the driver could not answer.
    """
    result = run_bounded([sys.executable, "-m", "playwright", "install", "--dry-run", browser_name], DRY_RUN_TIMEOUT_S)
    if result is None or result.returncode != 0:
        return []
    return parse_playwright_dry_run(result.stdout)


def is_installed(build: PlaywrightBuild) -> bool:
    return (build.install_location / PLAYWRIGHT_INSTALL_MARKER).is_file()


def which(command: str) -> str | None:
    return shutil.which(command)


def running_as_root() -> bool:
    geteuid = getattr(os, "geteuid", None)  # absent on Windows, where there is no root
    return geteuid is not None and geteuid() == 0


def executable_version(executable_path: str) -> str | None:
    """`chromium --version`, e.g. 'Chromium 156.0.8078.108 built on Debian ...'; None if it fails."""
    result = run_bounded([executable_path, "--version"], VERSION_TIMEOUT_S)
    if result is None or result.returncode != 0:
        return None
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    # Debian's wrapper script can print a shell warning before the version line.
    version_line = next((line for line in reversed(lines) if re.search(r"\d+\.\d+\.\d+", line)), None)
    return version_line.split(" built on ")[0] if version_line else None


# ---------------------------------------------------------------------------------------------
# The choice
# ---------------------------------------------------------------------------------------------


def install_instruction(browser_name: str) -> str:
    playwright_command = f"{sys.executable} -m playwright install --with-deps {browser_name}"
    if browser_name != "chromium":
        return f"install Playwright's {browser_name}: `{playwright_command}` (downloads from Playwright's CDN)"
    return (
        f"install Playwright's Chromium: `{playwright_command}` (downloads from Playwright's CDN), "
        "or a system Chromium: `apt-get install -y --no-install-recommends chromium` as root on Debian/Ubuntu "
        "(any of " + ", ".join(SYSTEM_CHROMIUM_COMMANDS) + " on PATH will do; on Debian 12 and later add "
        "`chromium-headless-shell`, which headless runs prefer)"
    )


def system_chromium_commands(headless: bool) -> tuple[str, ...]:
    """The system Chromium commands to try, best first: the headless shell only for a headless run."""
    return (SYSTEM_HEADLESS_SHELL_COMMANDS if headless else ()) + SYSTEM_CHROMIUM_COMMANDS


def find_browser(browser_name: str = "chromium", headless: bool = True) -> BrowserChoice:
    """Playwright's own build of `browser_name` if installed, else (Chromium only) a system Chromium:
    for a headless run its headless shell where installed, else the full browser."""
    if browser_name not in PLAYWRIGHT_BROWSERS:
        raise BrowserNotFound(f"unknown browser {browser_name!r}: expected one of {', '.join(PLAYWRIGHT_BROWSERS)}")

    builds = playwright_builds(browser_name)
    if builds and all(is_installed(build) for build in builds):
        main_build = next((b for b in builds if f"(playwright {browser_name} v" in b.title), builds[0])
        return BrowserChoice(
            name=browser_name,
            executable_path=None,
            launch_args=(),
            description=f"Playwright's build, {main_build.title} in {main_build.install_location}",
        )

    missing_directories = [str(build.install_location) for build in builds if not is_installed(build)]
    looked_in = ", ".join(missing_directories) or "(Playwright's driver did not answer)"
    if browser_name == "chromium":
        for command in system_chromium_commands(headless):
            executable_path = which(command)
            if executable_path is None:
                continue
            # Chromium's sandbox refuses to start as root; as any other user keep it on.
            sandbox_flags = ("--no-sandbox",) if running_as_root() else ()
            version = executable_version(executable_path) or "version unknown"
            return BrowserChoice(
                name=browser_name,
                executable_path=executable_path,
                launch_args=sandbox_flags + CLOSED_NETWORK_FLAGS,
                description=f"system {version} at {executable_path} (Playwright's build not installed)",
            )
        raise BrowserNotFound(
            f"no Chromium for the e2e suite: Playwright's build is not installed (missing: {looked_in}) and "
            f"none of {', '.join(system_chromium_commands(headless))} is on PATH; {install_instruction(browser_name)}"
        )
    raise BrowserNotFound(
        f"no {browser_name} for the e2e suite: Playwright's build is not installed (missing: {looked_in}); "
        f"{install_instruction(browser_name)}"
    )
