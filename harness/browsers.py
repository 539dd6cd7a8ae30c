"""Which browser binary the e2e suite drives, and how to get one onto a machine that has none.

Library: `find_browser(name)` returns a `BrowserChoice` (Playwright's own build when it is installed,
else, for Chromium only, a system Chromium with the flags this closed network needs) or raises
`BrowserNotFound` with the exact command to run.

CLI: `python -m harness.browsers ensure [--browser chromium]` installs what is missing (Playwright's
download first, then Debian's `chromium` package when root) and prints one line naming the choice;
`python -m harness.browsers show` only reports. Both exit 2, with the instruction, when no browser can
be had.
"""

from __future__ import annotations

import argparse
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
# A real download of one browser takes well under a minute on GitHub's runners; offline it fails
# in about 3 s (DNS error). The bound only matters for a network that drops packets silently.
PLAYWRIGHT_INSTALL_TIMEOUT_S = 600.0
APT_TIMEOUT_S = 1200.0
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
        "(any of " + ", ".join(SYSTEM_CHROMIUM_COMMANDS) + " on PATH will do)"
    )


def find_browser(browser_name: str = "chromium") -> BrowserChoice:
    """Playwright's own build of `browser_name` if installed, else (Chromium only) a system Chromium."""
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
        for command in SYSTEM_CHROMIUM_COMMANDS:
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
            f"none of {', '.join(SYSTEM_CHROMIUM_COMMANDS)} is on PATH; {install_instruction(browser_name)}"
        )
    raise BrowserNotFound(
        f"no {browser_name} for the e2e suite: Playwright's build is not installed (missing: {looked_in}); "
        f"{install_instruction(browser_name)}"
    )


# ---------------------------------------------------------------------------------------------
# ensure: install what is missing
# ---------------------------------------------------------------------------------------------


def log(message: str) -> None:
    """Progress on stderr, so that stdout carries only the one line naming the choice."""
    print(f"harness.browsers: {message}", file=sys.stderr, flush=True)


def first_error_line(output: str) -> str:
    """The line of an installer's output that says what went wrong, without its stack trace."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    error_lines = [line for line in lines if line.startswith(("Error:", "E:", "error:"))]
    if error_lines:
        return error_lines[0]
    return lines[-1] if lines else "no output"


def try_playwright_install(browser_name: str) -> bool:
    log(f"installing Playwright's {browser_name} (`playwright install {browser_name}`) ...")
    result = run_bounded([sys.executable, "-m", "playwright", "install", browser_name], PLAYWRIGHT_INSTALL_TIMEOUT_S)
    if result is None:
        log(f"  gave up after {PLAYWRIGHT_INSTALL_TIMEOUT_S:.0f} s")
        return False
    if result.returncode != 0:
        log(f"  failed (exit {result.returncode}): {first_error_line(result.stdout)}")
        return False
    return True


def try_apt_install_chromium() -> bool:
    if not running_as_root() or which("apt-get") is None:
        return False
    environment_prefix = ["env", "DEBIAN_FRONTEND=noninteractive"]
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
    ):
        log(f"running `{' '.join(command)}` ...")
        # Not captured: apt's own progress is what a person waiting on a fresh machine wants to see.
        result = run_bounded(environment_prefix + command, APT_TIMEOUT_S, capture=False)
        if result is None or result.returncode != 0:
            outcome = "timed out" if result is None else f"exit {result.returncode}"
            log(f"  `{' '.join(command)}` failed ({outcome})")
            return False
    return True


def summary_line(choice: BrowserChoice) -> str:
    arguments = f" [args: {' '.join(choice.launch_args)}]" if choice.launch_args else ""
    return f"browser {choice.name}: {choice.description}{arguments}"


def ensure(browser_name: str) -> int:
    """Find a browser, installing one when there is none: Playwright's download, then apt (Chromium)."""
    try:
        find_browser(browser_name)
    except BrowserNotFound:
        log(f"no usable {browser_name} yet")
        if not try_playwright_install(browser_name) and browser_name == "chromium":
            try_apt_install_chromium()
    return show(browser_name)


def show(browser_name: str) -> int:
    try:
        choice = find_browser(browser_name)
    except BrowserNotFound as missing:
        log(str(missing))
        return 2
    print(summary_line(choice), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.browsers", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command", choices=("ensure", "show"), help="ensure: install what is missing; show: only report"
    )
    parser.add_argument("--browser", default="chromium", choices=PLAYWRIGHT_BROWSERS)
    arguments = parser.parse_args(argv)
    return ensure(arguments.browser) if arguments.command == "ensure" else show(arguments.browser)


if __name__ == "__main__":
    sys.exit(main())
