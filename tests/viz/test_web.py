"""The browser viewer (``pycrox view``): JSON/PNG endpoints, and the page in a real headless Chromium.

The browser tests use the system's chromium and chromedriver (``apt-get install chromium
chromium-driver``) through selenium; they skip without them, and fail instead when ``CI=true``.
"""

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import numpy as np
import pytest

import pycrox
from pycrox.viz.web import Viewer, start
from pycrox.viz.web._png import encode
from tests.viz._data import spectral_image

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read(), response.headers


def _json(url):
    return json.loads(_get(url)[0])


def _cube(ny=16, nx=12, ne=96, seed=1):
    rng = np.random.default_rng(seed)
    values = rng.random((ny, nx, ne)).astype(np.float32)
    return pycrox.from_array(
        values,
        dims=("y", "x", "energy_loss"),
        coords={
            "y": {"values": np.arange(ny) * 0.25, "units": "nm"},
            "x": {"values": np.arange(nx) * 0.25, "units": "nm"},
            "energy_loss": {"values": 200 + 0.5 * np.arange(ne), "units": "eV"},
        },
        quantity="Intensity",
        units="counts",
        title="SI",
    )


def _stack():
    values = np.stack([np.full((6, 7), float(k)) + np.arange(7) for k in range(5)])
    return pycrox.from_array(
        values,
        dims=("frame", "y", "x"),
        coords={
            "frame": {"values": np.arange(5.0), "units": "s"},
            "y": {"values": np.arange(6.0), "units": "nm"},
            "x": {"values": np.arange(7.0), "units": "nm"},
        },
        data_type="IMAGE_STACK",
        quantity="Intensity",
        units="counts",
    )


# -- without a browser ---------------------------------------------------------------------------------


def test_png_encoder_round_trips_through_pillow():
    import io

    from PIL import Image

    pixels = np.arange(35, dtype=np.uint8).reshape(5, 7) * 7
    image = Image.open(io.BytesIO(encode(pixels)))
    assert image.size == (7, 5)
    np.testing.assert_array_equal(np.asarray(image), pixels)
    rgb = np.random.default_rng(0).integers(0, 256, (4, 3, 3), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encode(rgb)))), rgb)


def test_endpoints_spectrum_image(tmp_path):
    import io

    from PIL import Image

    da = _cube()
    store = tmp_path / "si.zarr"
    pycrox.to_zarr(da, store, chunks={"y": 8, "x": 4, "energy_loss": 32})
    server = start(store)
    try:
        tree = _json(server.url + "api/tree")
        (entry,) = tree["signals"]
        assert entry["kind"] == "spectrum_image"
        assert entry["navigation"] == ["y", "x"]
        assert entry["signal"] == ["energy_loss"]
        assert [d["units"] for d in entry["dims"]] == ["nm", "nm", "eV"]
        assert entry["scale_bar"]["units"] == "nm"
        assert entry["scale_bar"]["length"] == 0.5
        assert entry["window"] == [0, 64]
        body, _ = _get(server.url + f"api/image?signal={entry['path']}&start=10&stop=20")
        picture = np.asarray(Image.open(io.BytesIO(body)), dtype=float)
        assert picture.shape == (16, 12)
        expected = da.isel(energy_loss=slice(10, 20)).sum("energy_loss").values
        assert np.corrcoef(picture.ravel(), expected.ravel())[0, 1] > 0.99  # grey levels follow the sum
        # spectrum windows ending past the data are clipped, not errors
        _get(server.url + f"api/image?signal={entry['path']}&start=90&stop=500")
        spectrum = _json(server.url + f"api/spectrum?signal={entry['path']}&i=3&j=7")
        np.testing.assert_allclose(spectrum["y"], da.isel(y=3, x=7).values, rtol=1e-6)
        np.testing.assert_allclose(spectrum["x"], da.energy_loss.values)
        assert spectrum["xlabel"] == "Energy loss [eV]"
        assert spectrum["ylabel"] == "Intensity [counts]"
        with pytest.raises(urllib.error.HTTPError) as outside:
            _get(server.url + f"api/spectrum?signal={entry['path']}&i=16&j=0")
        assert outside.value.code == 400
        assert "outside" in json.loads(outside.value.read())["error"]
        # 2 x 3 chunks x 1 window chunk, 2 x 3 x 3 (start=90 ends in the last), then 3 along the spectrum
        assert _json(server.url + "api/read")["chunks"] == 6 + 6 + 3
        # a second click in the same tile (rows 0-7, columns 4-7) reads nothing more
        again = _json(server.url + f"api/spectrum?signal={entry['path']}&i=6&j=4")
        np.testing.assert_allclose(again["y"], da.isel(y=6, x=4).values, rtol=1e-6)
        assert _json(server.url + "api/read")["chunks"] == 6 + 6 + 3
    finally:
        server.shutdown()


def test_endpoints_stack_and_4d():
    stack = _stack()
    rng = np.random.default_rng(2)
    four = pycrox.from_array(
        rng.random((3, 4, 5, 6)),
        dims=("y", "x", "ky", "kx"),
        data_type="IMAGE_4D",
        coords={
            "y": {"values": np.arange(3.0), "units": "nm"},
            "x": {"values": np.arange(4.0), "units": "nm"},
            "ky": {"values": np.arange(5.0), "units": "1/nm"},
            "kx": {"values": np.arange(6.0), "units": "1/nm"},
        },
    )
    viewer = Viewer({"stack": stack, "4d": four})
    assert viewer.roles["stack"].kind == "stack"
    assert viewer.roles["4d"].kind == "4d"
    frame, _ = viewer.picture("stack", {"frame": "3"})
    np.testing.assert_array_equal(frame, stack.isel(frame=3).values)
    pattern, what = viewer.picture("4d", {"i": "2", "j": "1"})
    np.testing.assert_array_equal(pattern, four.isel(y=2, x=1).values)
    assert "y=2" in what
    assert "x=1" in what
    navigator, _ = viewer.picture("4d", {})
    np.testing.assert_allclose(navigator, four.sum(("ky", "kx")).values)


def test_cli_view_prints_url_first(tmp_path):
    store = tmp_path / "si.zarr"
    pycrox.to_zarr(spectral_image(), store)
    process = subprocess.Popen(
        [sys.executable, "-m", "pycrox.cli", "view", str(store), "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/")
        tree = _json(url + "api/tree")
        assert tree["signals"][0]["kind"] == "spectrum_image"
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- in a real browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless system Chromium driven by selenium; skips without it (fails when CI=true)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    try:
        from selenium import webdriver
    except ImportError:
        missing.append("the selenium package")
    if missing:
        reason = f"the browser tests need {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _open_page(driver, url):
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script(
            "return document.body.dataset.state === 'ready' && window.pycroxView.signal !== null"
        )
    )
    driver.get_log("browser")  # (loading errors are checked by the caller through console_errors)


def _wait_ready(driver):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return document.body.dataset.state === 'ready'")
    )


def _console_errors(driver):
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _picture_spread(driver):
    """Standard deviation of the grey levels of the picture as the browser decoded it."""
    return driver.execute_script(
        """const img = document.getElementById('picture');
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
        const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data; let s = 0, s2 = 0, n = 0;
        for (let k = 0; k < d.length; k += 4) { s += d[k]; s2 += d[k] * d[k]; n++; }
        return Math.sqrt(s2 / n - (s / n) ** 2);"""
    )


def _click_pixel(driver, i, j):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    img = driver.find_element(By.ID, "picture")
    size = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height, arguments[0].naturalWidth, arguments[0].naturalHeight];",
        img,
    )
    width, height, columns, rows = size
    dx = (j + 0.5) * width / columns - width / 2
    dy = (i + 0.5) * height / rows - height / 2
    ActionChains(driver).move_to_element_with_offset(img, round(dx), round(dy)).click().perform()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script(
            "const s = window.pycroxView.spectrum; return s && s.i === arguments[0] && s.j === arguments[1] && document.body.dataset.state === 'ready';",
            i,
            j,
        )
    )


def _shown_values(driver):
    from selenium.webdriver.common.by import By

    text = driver.find_element(By.ID, "values").get_attribute("textContent")
    return np.array([[float(v) for v in row.split("\t")] for row in text.strip().splitlines()])


def test_page_spectrum_image(browser, tmp_path):
    from selenium.webdriver.common.by import By

    da = _cube()
    store = tmp_path / "si.zarr"
    pycrox.to_zarr(da, store, chunks={"y": 8, "x": 4, "energy_loss": 32})
    server = start(store)
    try:
        _open_page(browser, server.url)
        assert _console_errors(browser) == []
        assert "si.zarr" in browser.title
        tree_text = browser.find_element(By.ID, "tree").text
        assert "energy_loss 96 [eV]" in tree_text
        assert "spectrum_image" in tree_text
        assert '"title": "SI"' in browser.find_element(By.ID, "attrs").get_attribute("textContent")
        assert browser.find_element(By.ID, "bar-text").text == "0.5 nm"
        assert _picture_spread(browser) > 10  # not blank
        for i, j in [(3, 7), (15, 0)]:
            _click_pixel(browser, i, j)
            shown = _shown_values(browser)
            np.testing.assert_allclose(shown[:, 0], da.energy_loss.values)
            np.testing.assert_allclose(shown[:, 1], da.isel(y=i, x=j).values, rtol=1e-6)
        assert _console_errors(browser) == []
    finally:
        server.shutdown()


def test_page_stack_slider(browser):
    stack = _stack()
    server = start(Viewer({"stack": stack}, name="stack"))
    try:
        _open_page(browser, server.url)
        first = browser.execute_script("return document.getElementById('picture').src")
        browser.execute_script(
            "const s = document.getElementById('control-frame'); s.value = 4; s.dispatchEvent(new Event('change'));"
        )
        _wait_ready(browser)  # the change handler marks the page busy before it returns
        assert browser.execute_script("return document.getElementById('picture').src") != first
        assert "frame 4" in browser.execute_script(
            "return document.getElementById('picture-caption').textContent"
        )
        assert _picture_spread(browser) > 10  # each frame is a ramp across x
        assert _console_errors(browser) == []
    finally:
        server.shutdown()


# -- S3: only the chunks a picture needs ---------------------------------------------------------------


def test_page_reads_only_needed_chunks_from_s3(browser, counting_s3):
    import s3fs

    options, app = counting_s3
    fs = s3fs.S3FileSystem(**options)
    bucket = f"pycrox-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    da = _cube()
    url = f"s3://{bucket}/si.zarr"
    pycrox.to_zarr(da, url, chunks={"y": 8, "x": 4, "energy_loss": 32}, storage_options=options)
    fs.invalidate_cache()
    with app.lock:
        app.paths.clear()
    server = start(url, storage_options=options)
    try:

        def data_chunks():  # GETs of the signal's chunks (the coordinates are read at open)
            return sorted(p for p in app.paths if "/c/" in p and not any(f"/{d}/c/" in p for d in da.dims))

        assert data_chunks() == [], "opening read chunks of the data"
        _open_page(browser, server.url)
        assert _console_errors(browser) == []
        assert _picture_spread(browser) > 10
        _click_pixel(browser, 9, 5)
        np.testing.assert_allclose(_shown_values(browser)[:, 1], da.isel(y=9, x=5).values, rtol=1e-6)
        chunk_gets = data_chunks()
        # navigator over channels [0, 64): 2 x 3 positions x 2 channel chunks; the spectrum at (9, 5): 3 chunks
        assert len(chunk_gets) == 12 + 3, chunk_gets
        navigator = {f"{a}/{b}/{c}" for a in range(2) for b in range(3) for c in range(2)}
        spectrum = {"1/1/0", "1/1/1", "1/1/2"}
        assert {p.rsplit("/c/", 1)[1] for p in chunk_gets} == navigator | spectrum  # never 0/0/2, 1/2/2...
        from selenium.webdriver.common.by import By

        assert browser.find_element(By.ID, "read").get_attribute("data-chunks") == "15"
    finally:
        server.shutdown()
