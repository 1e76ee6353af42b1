"""The report in a real browser: headless Chromium opens it offline, renders and draws it.

Chromium (Debian's ``chromium`` package at /usr/bin/chromium) is required: without it the test
fails, it does not skip (CI installs it). The screenshot is kept under ``test-artifacts/``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.report.pages import Page, png_of

pytestmark = pytest.mark.slow  # a real headless Chromium, about 25 s in all

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0")
#: stderr lines that mean the page failed: console output (the report has no script),
#: uncaught exceptions, failed loads
FAILURES = re.compile(r":CONSOLE|Uncaught|Failed to load|net::ERR_")
#: known harmless Chromium noise in a container: no D-Bus, no GPU, no sandbox, no devices
HARMLESS = tuple(re.compile(p) for p in (
    r"ERROR:dbus/",                      # no system bus in a container
    r"ERROR:.*gpu",                      # GPU process without a GPU (--disable-gpu)
    r"ERROR:.*(?:gl_|egl|angle|viz)",    # software GL fallbacks
    r"ERROR:.*sandbox",                  # --no-sandbox notices
    r"ERROR:.*(?:udev|bluez|upower|screen_?saver)",  # no devices, no power or session daemon
))
PROBE = ('<script>addEventListener("load",()=>document.body.setAttribute("data-probe",'
         '[...document.images].map(i=>i.complete?i.naturalWidth:-1).join(",")))</script>')


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.fail(f"headless Chromium is required at {CHROMIUM} for the report browser test: "
                    f"apt-get install -y chromium (the CI installs it)")
    return CHROMIUM


@pytest.fixture(scope="module")
def report_file(tracking_store) -> Path:
    return tracking_store.report


def browse(chromium: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with a throw-away profile; returns the finished process."""
    return subprocess.run([str(chromium), *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def browser_errors(stderr: str) -> list[str]:
    """Lines of Chromium's log that show a broken page, known harmless noise left out."""
    def noise(line: str) -> bool:
        return any(p.search(line) for p in HARMLESS)

    return [line for line in stderr.splitlines()
            if FAILURES.search(line) or ("ERROR:" in line and not noise(line))]


@pytest.mark.parametrize(("line", "broken"), [
    ("[1:2:1121/061903.355922:ERROR:dbus/bus.cc:405] Failed to connect to the bus", False),
    ("[1:1:1121/061903.695979:WARNING:media/gpu/vaapi/vaapi_wrapper.cc:1655] drm", False),
    ('[1:1:1121/061907.538457:INFO:CONSOLE:1] "Uncaught ReferenceError: foo", source: x', True),
    ('[1:1:1121/061907.544722:INFO:CONSOLE:1] "boom", source: file:///r.html (1)', True),
    ("[1:1:1121/061907.5:ERROR:content/browser/renderer_host/x.cc:1] renderer crashed", True),
])
def test_browser_log_is_classified(line, broken):
    assert bool(browser_errors(line)) is broken


def test_report_renders_offline_in_headless_chromium(chromium, report_file, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    proc = browse(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400",
                  report_file.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not browser_errors(proc.stderr), browser_errors(proc.stderr)
    assert shot.is_file(), f"no screenshot written: {proc.stderr[-2000:]}"
    from PIL import Image

    with Image.open(shot) as im:
        rgb = np.asarray(im.convert("RGB")).reshape(-1, 3).astype(np.int32)
    assert rgb.shape[0] == 1280 * 2400
    _, counts = np.unique(rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2], return_counts=True)
    assert counts.max() / counts.sum() < 0.97, "the screenshot is one colour: a blank page"
    assert counts.size > 50, "the screenshot has almost no colours: nothing was drawn"


def test_every_image_is_an_embedded_png(report_file):
    from io import BytesIO

    from PIL import Image

    images = Page(report_file.read_text(encoding="utf-8")).images
    assert images, "the report has no images"
    for img in images:
        with Image.open(BytesIO(png_of(img["src"]))) as im:
            im.verify()
            assert im.format == "PNG" and im.size[0] > 100 and im.size[1] > 100


def loaded_dom(chromium: Path, text: str, tmp: Path) -> tuple[Page, list[int], str]:
    """The DOM after load and each image's decoded width (0: broken), via a probed copy."""
    probe = tmp / "probe.html"
    probe.write_text(text.replace("</body>", f"{PROBE}</body>"), encoding="utf-8")
    proc = browse(chromium, tmp, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    widths = re.search(r'data-probe="([^"]*)"', proc.stdout)
    assert widths, "the load probe never ran: the page did not finish loading"
    return Page(proc.stdout), [int(w) for w in widths[1].split(",") if w], proc.stderr


def test_every_image_is_in_the_dom_and_decoded(chromium, report_file, tmp_path):
    text = report_file.read_text(encoding="utf-8")
    expected = len(Page(text).images)
    dom, widths, stderr = loaded_dom(chromium, text, tmp_path)
    assert len(dom.images) == expected, f"{len(dom.images)} of {expected} images in the DOM"
    assert all(img["src"].startswith("data:image/png;base64,") for img in dom.images)
    assert len(widths) == expected and all(w > 0 for w in widths), \
        f"image widths after load {widths}: an image failed to decode"
    assert not [e for e in browser_errors(stderr) if "CONSOLE" not in e]


def test_a_broken_image_is_caught(chromium, report_file, tmp_path):
    text = report_file.read_text(encoding="utf-8")
    broken = re.sub(r'src="data:image/png;base64,[^"]+"', 'src="data:image/png;base64,AAAA"',
                    text, count=1)
    _, widths, _ = loaded_dom(chromium, broken, tmp_path)
    assert widths[0] == 0 and all(w > 0 for w in widths[1:])
