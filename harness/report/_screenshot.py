"""A PNG of a timeline (or any local HTML file), in headless Chromium as `harness.browsers` finds it."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

from harness.browsers import find_browser


def screenshot(html_file: Path, png: Path, *, width: int = 1200, max_height: int = 1700) -> Path:
    choice = find_browser("chromium")
    png.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=choice.executable_path, args=list(choice.launch_args))
        try:
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.goto(html_file.resolve().as_uri())
            height = min(int(page.evaluate("document.documentElement.scrollHeight")), max_height)
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=str(png), type="png")
        finally:
            browser.close()
    return png
