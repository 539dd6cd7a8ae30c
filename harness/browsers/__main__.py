"""`python -m harness.browsers ensure|show`: get a browser onto a machine that has none, or only report.

`ensure [--browser chromium]` installs what is missing (Playwright's download first, then Debian's
`chromium` package when root) and prints one line naming the choice; `show` only reports. Both exit
2, with the instruction, when no browser can be had. Lookups go through the `harness.browsers`
module's attributes (not names imported from it), so a test can replace each one with monkeypatch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness import browsers
from harness.browsers import PLAYWRIGHT_BROWSERS, BrowserChoice, BrowserNotFound

# A real download of one browser takes well under a minute on GitHub's runners; offline it fails
# in about 3 s (DNS error). The bound only matters for a network that drops packets silently.
PLAYWRIGHT_INSTALL_TIMEOUT_S = 600.0
APT_TIMEOUT_S = 1200.0


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
    command = [sys.executable, "-m", "playwright", "install", browser_name]
    result = browsers.run_bounded(command, PLAYWRIGHT_INSTALL_TIMEOUT_S)
    if result is None:
        log(f"  gave up after {PLAYWRIGHT_INSTALL_TIMEOUT_S:.0f} s")
        return False
    if result.returncode != 0:
        log(f"  failed (exit {result.returncode}): {first_error_line(result.stdout)}")
        return False
    return True


def apt_install(packages: Sequence[str], update: bool = True) -> bool:
    """`apt-get [update and] install` as root, its progress shown; False when it could not (not root,
    no apt, a failed step)."""
    if not browsers.running_as_root() or browsers.which("apt-get") is None:
        return False
    environment_prefix = ["env", "DEBIAN_FRONTEND=noninteractive"]
    commands = [["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]]
    if update:
        commands.insert(0, ["apt-get", "update", "-q"])
    for command in commands:
        log(f"running `{' '.join(command)}` ...")
        # Not captured: apt's own progress is what a person waiting on a fresh machine wants to see.
        result = browsers.run_bounded(environment_prefix + command, APT_TIMEOUT_S, capture=False)
        if result is None or result.returncode != 0:
            outcome = "timed out" if result is None else f"exit {result.returncode}"
            log(f"  `{' '.join(command)}` failed ({outcome})")
            return False
    return True


def try_apt_install_chromium() -> bool:
    """Debian's `chromium`, then its headless shell where the distribution has one (Debian 12 and
    later; not Ubuntu, whose `chromium` is a snap): asked for apart, so that its absence cannot
    fail the browser headless runs fall back to."""
    if not apt_install(["chromium"]):
        return False
    try_apt_install_headless_shell(update=False)
    return True


def try_apt_install_headless_shell(update: bool = True) -> bool:
    """The headless shell beside a system Chromium that has none: optional, a failure is only logged."""
    packages = [command for command in browsers.SYSTEM_HEADLESS_SHELL_COMMANDS if browsers.which(command) is None]
    if not packages:
        return True
    if apt_install(packages, update=update):
        return True
    log(f"  could not add {', '.join(packages)}: headless runs use the full browser (slower, the same verdicts)")
    return False


def summary_line(choice: BrowserChoice) -> str:
    arguments = f" [args: {' '.join(choice.launch_args)}]" if choice.launch_args else ""
    return f"browser {choice.name}: {choice.description}{arguments}"


def ensure(browser_name: str) -> int:
    """Find a browser, installing one when there is none: Playwright's download, then apt (Chromium).
    A system full Chromium without its headless shell gets the shell added (as root, with apt)."""
    try:
        if browsers.find_browser(browser_name).executable_path is not None:  # a system Chromium
            try_apt_install_headless_shell()
    except BrowserNotFound:
        log(f"no usable {browser_name} yet")
        if not try_playwright_install(browser_name) and browser_name == "chromium":
            try_apt_install_chromium()
    return show(browser_name)


def show(browser_name: str) -> int:
    try:
        choice = browsers.find_browser(browser_name)
    except BrowserNotFound as missing:
        log(str(missing))
        return 2
    print(summary_line(choice), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.browsers", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "command", choices=("ensure", "show"), help="ensure: install what is missing; show: only report"
    )
    parser.add_argument("--browser", default="chromium", choices=PLAYWRIGHT_BROWSERS)
    arguments = parser.parse_args(argv)
    return ensure(arguments.browser) if arguments.command == "ensure" else show(arguments.browser)


if __name__ == "__main__":
    sys.exit(main())
