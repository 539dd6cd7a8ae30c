"""harness.browsers: which browser the suite drives, and what `ensure` (its CLI) installs when there is none.

Every lookup (Playwright's dry run, PATH, root, installers) is replaced with monkeypatch: these
tests install nothing and do not depend on what this machine happens to have.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from harness import browsers
from harness.browsers import BrowserChoice, BrowserNotFound, PlaywrightBuild
from harness.browsers import __main__ as cli  # the `python -m harness.browsers` CLI (ensure, show)

# Verbatim output of `python -m playwright install --dry-run chromium` with Playwright 1.65 on Linux.
DRY_RUN_CHROMIUM = """\
Chrome for Testing 159.0.8154.6 (playwright chromium v1255)
  Install location:    {root}/chromium-1255
  Download url:        https://cdn.playwright.dev/builds/cft/159.0.8154.6/linux64/chrome-linux64.zip

FFmpeg (playwright ffmpeg v1013)
  Install location:    {root}/ffmpeg-1013
  Download url:        https://cdn.playwright.dev/dbazure/download/playwright/builds/ffmpeg/1013/ffmpeg-linux.zip
  Download fallback 1: https://playwright.download.prss.microsoft.com/dbazure/download/playwright/builds/ffmpeg/1013/ffmpeg-linux.zip

Chrome Headless Shell 159.0.8154.6 (playwright chromium-headless-shell v1255)
  Install location:    {root}/chromium_headless_shell-1255
  Download url:        https://cdn.playwright.dev/builds/cft/159.0.8154.6/linux64/chrome-headless-shell-linux64.zip
"""

BUILD_DIRECTORIES = ("chromium-1255", "ffmpeg-1013", "chromium_headless_shell-1255")


def fake_playwright_cache(root: Path, complete: Sequence[str]) -> list[PlaywrightBuild]:
    """A Playwright cache under `root` in which only the `complete` directories finished installing."""
    for directory in BUILD_DIRECTORIES:
        (root / directory).mkdir(parents=True, exist_ok=True)
        if directory in complete:
            (root / directory / browsers.PLAYWRIGHT_INSTALL_MARKER).write_text("")
    return browsers.parse_playwright_dry_run(DRY_RUN_CHROMIUM.format(root=root))


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Machine:
    return Machine(monkeypatch, tmp_path)


class Machine:
    """A pretend machine: which Playwright builds are complete, what is on PATH, who we are."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        self.monkeypatch = monkeypatch
        self.cache = tmp_path / "ms-playwright"
        self.on_path: dict[str, str] = {}
        self.root = True
        self.builds = fake_playwright_cache(self.cache, complete=())
        self.installer_calls: list[str] = []
        monkeypatch.setattr(browsers, "playwright_builds", lambda name: self.builds)
        monkeypatch.setattr(browsers, "which", lambda command: self.on_path.get(command))
        monkeypatch.setattr(browsers, "running_as_root", lambda: self.root)
        monkeypatch.setattr(browsers, "executable_version", lambda path: "Chromium 156.0.8078.108")

    def complete_playwright_build(self) -> None:
        self.builds = fake_playwright_cache(self.cache, complete=BUILD_DIRECTORIES)

    def install_system_chromium(self) -> None:
        self.on_path["chromium"] = "/usr/bin/chromium"

    def install_headless_shell(self) -> None:
        self.on_path["chromium-headless-shell"] = "/usr/bin/chromium-headless-shell"


# ---------------------------------------------------------------------------------------------
# find_browser
# ---------------------------------------------------------------------------------------------


def test_playwright_build_is_preferred_over_a_system_chromium(machine: Machine) -> None:
    machine.complete_playwright_build()
    machine.install_system_chromium()

    choice = browsers.find_browser("chromium")

    assert choice.executable_path is None, choice
    assert choice.launch_args == (), choice
    assert "Chrome for Testing 159.0.8154.6 (playwright chromium v1255)" in choice.description, choice.description


def test_half_installed_playwright_build_is_not_used(machine: Machine) -> None:
    # Headless runs use the headless shell: the full browser alone is not enough.
    machine.builds = fake_playwright_cache(machine.cache, complete=("chromium-1255", "ffmpeg-1013"))
    machine.install_system_chromium()

    choice = browsers.find_browser("chromium")

    assert choice.executable_path == "/usr/bin/chromium", choice


def test_system_chromium_as_root_gets_no_sandbox_and_closed_network_flags(machine: Machine) -> None:
    machine.install_system_chromium()

    choice = browsers.find_browser()

    assert choice == BrowserChoice(
        name="chromium",
        executable_path="/usr/bin/chromium",
        launch_args=(
            "--no-sandbox",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ),
        description=choice.description,
    )
    assert "system Chromium 156.0.8078.108 at /usr/bin/chromium" in choice.description, choice.description


def test_system_chromium_as_a_normal_user_keeps_its_sandbox(machine: Machine) -> None:
    machine.install_system_chromium()
    machine.root = False

    choice = browsers.find_browser("chromium")

    assert "--no-sandbox" not in choice.launch_args, choice.launch_args
    assert set(browsers.CLOSED_NETWORK_FLAGS) <= set(choice.launch_args), choice.launch_args


def test_a_headless_run_prefers_the_system_headless_shell(machine: Machine) -> None:
    machine.install_system_chromium()
    machine.install_headless_shell()

    choice = browsers.find_browser("chromium")

    assert choice.executable_path == "/usr/bin/chromium-headless-shell", choice
    assert "--no-sandbox" in choice.launch_args, choice.launch_args


def test_a_headed_run_takes_the_full_browser_over_the_headless_shell(machine: Machine) -> None:
    machine.install_system_chromium()
    machine.install_headless_shell()

    assert browsers.find_browser("chromium", headless=False).executable_path == "/usr/bin/chromium"


def test_a_headed_run_with_only_the_headless_shell_says_what_to_install(machine: Machine) -> None:
    machine.install_headless_shell()

    with pytest.raises(BrowserNotFound) as missing:
        browsers.find_browser("chromium", headless=False)

    message = str(missing.value)
    assert "chromium-headless-shell" not in message.split(" is on PATH")[0], message
    assert "apt-get install -y --no-install-recommends chromium" in message, message


def test_other_system_chromium_names_are_found(machine: Machine) -> None:
    machine.on_path["google-chrome"] = "/opt/google/chrome/google-chrome"

    assert browsers.find_browser("chromium").executable_path == "/opt/google/chrome/google-chrome"


def test_no_chromium_at_all_says_what_to_install(machine: Machine) -> None:
    with pytest.raises(BrowserNotFound) as missing:
        browsers.find_browser("chromium")

    message = str(missing.value)
    assert "-m playwright install --with-deps chromium" in message, message
    assert "apt-get install -y --no-install-recommends chromium" in message, message
    assert str(machine.cache / "chromium_headless_shell-1255") in message, message


@pytest.mark.parametrize("other_browser", ["firefox", "webkit"])
def test_firefox_and_webkit_come_only_from_playwright(machine: Machine, other_browser: str) -> None:
    machine.install_system_chromium()  # must not be taken for another browser

    with pytest.raises(BrowserNotFound) as missing:
        browsers.find_browser(other_browser)

    message = str(missing.value)
    assert f"-m playwright install --with-deps {other_browser}" in message, message
    assert "apt-get" not in message, message


def test_unknown_browser_name_is_refused(machine: Machine) -> None:
    with pytest.raises(BrowserNotFound, match="unknown browser 'edge'"):
        browsers.find_browser("edge")


# ---------------------------------------------------------------------------------------------
# Playwright's dry run
# ---------------------------------------------------------------------------------------------


def test_dry_run_output_is_parsed_into_titles_and_locations() -> None:
    builds = browsers.parse_playwright_dry_run(DRY_RUN_CHROMIUM.format(root="/cache"))

    assert builds == [
        PlaywrightBuild("Chrome for Testing 159.0.8154.6 (playwright chromium v1255)", Path("/cache/chromium-1255")),
        PlaywrightBuild("FFmpeg (playwright ffmpeg v1013)", Path("/cache/ffmpeg-1013")),
        PlaywrightBuild(
            "Chrome Headless Shell 159.0.8154.6 (playwright chromium-headless-shell v1255)",
            Path("/cache/chromium_headless_shell-1255"),
        ),
    ]


def test_unreadable_dry_run_output_counts_as_not_installed(machine: Machine) -> None:
    machine.builds = browsers.parse_playwright_dry_run("something Playwright never printed\n")
    machine.install_system_chromium()

    assert machine.builds == []
    assert browsers.find_browser("chromium").executable_path == "/usr/bin/chromium"


# ---------------------------------------------------------------------------------------------
# ensure
# ---------------------------------------------------------------------------------------------


def test_ensure_installs_nothing_when_a_browser_is_there(machine: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    machine.install_system_chromium()
    machine.install_headless_shell()
    machine.monkeypatch.setattr(cli, "try_playwright_install", lambda name: pytest.fail("tried to install"))
    machine.monkeypatch.setattr(cli, "apt_install", lambda *args, **kwargs: pytest.fail(f"apt {args}"))

    assert cli.main(["ensure"]) == 0

    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("browser chromium: system Chromium"), out
    assert "at /usr/bin/chromium-headless-shell" in out, out


def test_ensure_adds_the_headless_shell_beside_a_system_chromium(
    machine: Machine, capsys: pytest.CaptureFixture[str]
) -> None:
    machine.install_system_chromium()

    def apt_install(packages: Sequence[str], update: bool = True) -> bool:
        machine.installer_calls.append(f"apt {' '.join(packages)} (update: {update})")
        machine.install_headless_shell()
        return True

    machine.monkeypatch.setattr(cli, "apt_install", apt_install)

    assert cli.main(["ensure"]) == 0

    assert machine.installer_calls == ["apt chromium-headless-shell (update: True)"]
    assert "at /usr/bin/chromium-headless-shell" in capsys.readouterr().out


def test_ensure_without_the_headless_shell_keeps_the_full_browser(
    machine: Machine, capsys: pytest.CaptureFixture[str]
) -> None:
    machine.install_system_chromium()
    machine.monkeypatch.setattr(cli, "apt_install", lambda packages, update=True: False)  # e.g. Ubuntu, or not root

    assert cli.main(["ensure"]) == 0

    captured = capsys.readouterr()
    assert "at /usr/bin/chromium " in captured.out, captured.out
    assert "could not add chromium-headless-shell" in captured.err, captured.err


def test_ensure_falls_back_to_apt_when_playwright_download_fails(
    machine: Machine, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing_playwright_install(name: str) -> bool:
        machine.installer_calls.append(f"playwright {name}")
        return False

    def apt_install() -> bool:
        machine.installer_calls.append("apt chromium")
        machine.install_system_chromium()
        return True

    machine.monkeypatch.setattr(cli, "try_playwright_install", failing_playwright_install)
    machine.monkeypatch.setattr(cli, "try_apt_install_chromium", apt_install)

    assert cli.main(["ensure", "--browser", "chromium"]) == 0

    assert machine.installer_calls == ["playwright chromium", "apt chromium"]
    assert "system Chromium 156.0.8078.108 at /usr/bin/chromium" in capsys.readouterr().out


def test_ensure_prefers_playwright_download_when_it_works(machine: Machine) -> None:
    def playwright_install(name: str) -> bool:
        machine.installer_calls.append(f"playwright {name}")
        machine.complete_playwright_build()
        return True

    machine.monkeypatch.setattr(cli, "try_playwright_install", playwright_install)
    machine.monkeypatch.setattr(cli, "try_apt_install_chromium", lambda: pytest.fail("apt after a good download"))

    assert cli.main(["ensure"]) == 0
    assert machine.installer_calls == ["playwright chromium"]


def test_ensure_exits_2_with_the_instruction_when_nothing_can_be_installed(
    machine: Machine, capsys: pytest.CaptureFixture[str]
) -> None:
    machine.monkeypatch.setattr(cli, "try_playwright_install", lambda name: False)
    machine.monkeypatch.setattr(cli, "try_apt_install_chromium", lambda: False)

    assert cli.main(["ensure"]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "apt-get install -y --no-install-recommends chromium" in captured.err, captured.err
    assert "Traceback" not in captured.err


def test_ensure_never_uses_apt_for_firefox(machine: Machine) -> None:
    machine.monkeypatch.setattr(cli, "try_playwright_install", lambda name: False)
    machine.monkeypatch.setattr(cli, "try_apt_install_chromium", lambda: pytest.fail("apt for firefox"))

    assert cli.main(["ensure", "--browser", "firefox"]) == 2


def test_apt_is_not_tried_without_root(machine: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine.root = False
    machine.on_path["apt-get"] = "/usr/bin/apt-get"
    monkeypatch.setattr(browsers, "run_bounded", lambda *args, **kwargs: pytest.fail(f"ran {args}"))

    assert cli.try_apt_install_chromium() is False


def test_apt_runs_update_then_install_noninteractively(machine: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine.on_path["apt-get"] = "/usr/bin/apt-get"
    commands: list[list[str]] = []

    def record(command: Sequence[str], timeout_s: float, capture: bool = True) -> subprocess.CompletedProcess[str]:
        commands.append(list(command))
        return subprocess.CompletedProcess(list(command), 0, "", None)

    monkeypatch.setattr(browsers, "run_bounded", record)

    assert cli.try_apt_install_chromium() is True
    # The headless shell is asked for apart: a distribution without it still gets the browser.
    assert commands == [
        ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update", "-q"],
        ["env", "DEBIAN_FRONTEND=noninteractive"]
        + ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
        ["env", "DEBIAN_FRONTEND=noninteractive"]
        + ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium-headless-shell"],
    ]


def test_apt_without_a_headless_shell_package_still_installs_chromium(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine.on_path["apt-get"] = "/usr/bin/apt-get"

    def record(command: Sequence[str], timeout_s: float, capture: bool = True) -> subprocess.CompletedProcess[str]:
        unknown = "chromium-headless-shell" in command  # "E: Unable to locate package" on Ubuntu
        return subprocess.CompletedProcess(list(command), 100 if unknown else 0, "", None)

    monkeypatch.setattr(browsers, "run_bounded", record)

    assert cli.try_apt_install_chromium() is True


def test_failed_playwright_download_is_reported_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Shape of what `playwright install chromium` prints offline: a Node stack trace.
    offline_output = (
        "Downloading Chrome for Testing 159.0.8154.6\n"
        "Error: getaddrinfo ENOTFOUND cdn.playwright.dev\n"
        "    at GetAddrInfoReqWrap.onlookupall (node:internal/dns/promises:101:17)\n"
        "Failed to install browsers\n"
    )
    monkeypatch.setattr(
        browsers,
        "run_bounded",
        lambda command, timeout_s, capture=True: subprocess.CompletedProcess(command, 1, offline_output, None),
    )

    assert cli.try_playwright_install("chromium") is False

    err = capsys.readouterr().err
    assert "failed (exit 1): Error: getaddrinfo ENOTFOUND cdn.playwright.dev" in err, err
    assert "GetAddrInfoReqWrap" not in err, err


# ---------------------------------------------------------------------------------------------
# run_bounded (real processes: the point is that the whole group dies on time)
# ---------------------------------------------------------------------------------------------


def test_run_bounded_kills_the_whole_process_group_on_timeout() -> None:
    # The child starts a grandchild that would outlive a plain subprocess.run(timeout=...).
    child = (
        "import subprocess, sys; "
        "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print(grandchild.pid, flush=True); grandchild.wait()"
    )
    started = time.monotonic()

    result = browsers.run_bounded([sys.executable, "-c", child], timeout_s=1.0)

    assert result is None
    assert time.monotonic() - started < 10, "run_bounded did not return soon after its timeout"


def test_run_bounded_returns_output_and_exit_code() -> None:
    result = browsers.run_bounded([sys.executable, "-c", "print('hello'); raise SystemExit(3)"], timeout_s=30)

    assert result is not None
    assert (result.returncode, result.stdout) == (3, "hello\n")
