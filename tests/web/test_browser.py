"""The web in a real browser (headless Chromium through Selenium) on the real platform, as people use it.

Every page visited is checked with axe-core (no serious or critical violation) and photographed at 360 px (a
cheap phone) and 1280 px wide into WEB_SCREENSHOTS (default .devstack/screenshots/web, outside git).
Chromium and its driver come from Debian: tests/web/install-browser.sh installs them; without them these tests
are skipped, saying so.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_selenium_python import Axe
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from mpp_devstack.platform import Platform
from mpp_kit.phone import normalize_msisdn

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = (360, 1280)


def _browser_paths() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    paths = _browser_paths()
    if paths is None:
        pytest.skip("Chromium and chromedriver are not installed: run tests/web/install-browser.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    options.add_argument("--lang=id")
    driver = webdriver.Chrome(options=options, service=Service(paths[1]))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = Path(os.environ.get("WEB_SCREENSHOTS", ROOT / ".devstack" / "screenshots" / "web"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


Look = Callable[[str], None]


def _one_time_code_only(violation: dict[str, Any]) -> bool:
    """The axe-core bundled with axe-selenium-python (3.1) predates the HTML token `one-time-code` (lets a phone
    fill in the code of the SMS); later axe-core versions accept it."""
    return violation.get("id") == "autocomplete-valid" and all(
        'autocomplete="one-time-code"' in node.get("html", "") for node in violation.get("nodes", [])
    )


@pytest.fixture
def look(browser: WebDriver, screenshots: Path) -> Look:
    """`look(name)`: the current page has no serious or critical accessibility violation; photographed."""

    def check(name: str) -> None:
        axe = Axe(browser)
        axe.inject()
        results = axe.run()
        bad = [
            v
            for v in results["violations"]
            if v.get("impact") in ("serious", "critical") and not _one_time_code_only(v)
        ]
        for width in WIDTHS:
            browser.set_window_size(width, 900)
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(width, min(max(int(height), 600), 4000))
            browser.execute_script("window.scrollTo(0, 0)")
            browser.save_screenshot(str(screenshots / f"{name}-{width}.png"))
        browser.set_window_size(1280, 900)
        assert not bad, f"{name}: " + axe.report(bad)

    return check


def fill(browser: WebDriver, field_id: str, text: str) -> None:
    element = browser.find_element(By.ID, field_id)
    element.clear()
    element.send_keys(text)


def submit(browser: WebDriver, form_css: str = "main form[method=post]") -> None:
    browser.find_element(By.CSS_SELECTOR, f"{form_css} button[type=submit]").click()


def log_in(browser: WebDriver, web: str, username: str, password: str, look: Look | None = None) -> None:
    browser.delete_all_cookies()
    browser.get(f"{web}/masuk")
    if look:
        look("masuk")
    fill(browser, "f-pengguna", username)
    fill(browser, "f-sandi", password)
    submit(browser)
    wait_for(browser, lambda: "/konter" in browser.current_url, "the login")


def phone_number() -> str:
    """A fresh number whose last four digits the sandbox provider delivers (0001)."""
    return f"0812-{uuid.uuid4().int % 10000:04d}-0001"


def wait_for(browser: WebDriver, check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s; page: {browser.page_source[:3000]}")


def login_of(platform: Platform, role: str, site: str) -> tuple[str, str]:
    return next((u, p) for u, p, r, s in platform.web_logins() if r == role and s == site)


def track(browser: WebDriver, web: str, tracking: str, last4: str) -> None:
    """The portal's tracking form, sent; the answer (or the refusal) is on the page."""
    browser.get(f"{web}/lacak?kode={tracking}")
    fill(browser, "f-hp4", last4)
    submit(browser, "main form[action='/lacak']")
    wait_for(browser, lambda: bool(browser.find_elements(By.ID, "hasil")), "the tracking answer", 10)


def survey_responses(browser: WebDriver) -> int:
    """The number of responses the console's satisfaction index (/konter/survei) counts."""
    found = re.search(r"Jumlah responden: (\d+)", browser.find_element(By.TAG_NAME, "main").text)
    assert found, f"no response count on {browser.current_url}"
    return int(found.group(1))


def no_sideways_scrolling(browser: WebDriver, width: int) -> None:
    """At `width` px the page fits: nothing to scroll sideways to (WCAG 1.4.10 reflow)."""
    browser.set_window_size(width, 900)
    try:
        scroll, client = browser.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth]"
        )
        assert scroll <= client, f"{browser.current_url} at {width} px scrolls sideways: {scroll} > {client}"
    finally:
        browser.set_window_size(1280, 900)


# The survey's answers in the test (u1..u9, each 1-4): IKM = 33/9 x 25 = 91,67, mutu A (Sangat Baik).
SURVEY_SCORES = (4, 3, 4, 4, 3, 4, 4, 3, 4)
SURVEY_FORM = "main form[action='/lacak/survei/kirim']"


def test_counter_application_at_loa_kulu_to_hand_over_and_survey_and_not_seen_at_tabang(
    platform: Platform, browser: WebDriver, look: Look
) -> None:
    web = platform.url("web")
    log_in(browser, web, *login_of(platform, "operator", "loa-kulu"), look=look)
    look("antrean")
    browser.get(f"{web}/konter/baru")
    fill(browser, "f-q", "akta lahir")
    submit(browser, "main form[role=search]")
    wait_for(browser, lambda: "q=akta" in browser.current_url, "the search")
    look("baru-cari")
    browser.find_element(By.CSS_SELECTOR, "a[href='/konter/baru/DUKCAPIL-AKTA-LAHIR']").click()
    look("baru-formulir")
    for box in browser.find_elements(By.CSS_SELECTOR, "input[name=persyaratan]"):
        if not box.is_selected():
            box.click()
    phone = phone_number()
    fill(browser, "f-nama", "Siti Aminah")
    fill(browser, "f-nik", "6402024101900001")
    fill(browser, "f-hp", phone)
    submit(browser)
    wait_for(browser, lambda: "/konter/permohonan/" in browser.current_url, "the submit")
    ticket = browser.find_element(By.CSS_SELECTOR, ".tiket").text
    tracking = browser.find_element(By.CSS_SELECTOR, ".kode").text
    assert re.fullmatch(r"[A-Z]+-\d{3}", ticket) and re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", tracking)
    look("tanda-terima")
    application_url = browser.current_url.split("?")[0]

    e164 = normalize_msisdn(phone)
    received = platform.wait_for_sms(e164)
    assert tracking in received["body"]

    # Routing's decision reaches intake (routed_local); then the operator marks it ready for pickup.
    def ready_offered() -> bool:
        browser.get(application_url)
        return bool(browser.find_elements(By.ID, "s-ready_for_pickup"))

    wait_for(browser, ready_offered, "ready for pickup offered")
    browser.find_element(By.ID, "s-ready_for_pickup").click()
    browser.find_element(By.CSS_SELECTOR, "form[action$='/status'] button[type=submit]").click()
    wait_for(browser, lambda: "pesan=diubah" in browser.current_url, "the status change")
    assert "Siap diambil" in browser.find_element(By.CSS_SELECTOR, "h2 .status").text
    look("permohonan-siap")
    wait_for(browser, lambda: len(platform.sms_to(e164)) >= 2, "the ready-for-pickup SMS")
    browser.get(f"{web}/konter/siap-diambil")
    assert tracking in browser.page_source
    look("siap-diambil")

    # The site's satisfaction index before this applicant answers (the session's tests share the platform).
    browser.get(f"{web}/konter/survei")
    responses_before = survey_responses(browser)

    # Hand-over: the applicant collects the document, the application is completed.
    browser.get(application_url)
    browser.find_element(By.ID, "s-completed").click()
    browser.find_element(By.CSS_SELECTOR, "form[action$='/status'] button[type=submit]").click()
    wait_for(browser, lambda: "pesan=diubah" in browser.current_url, "the hand-over")
    assert "Selesai" in browser.find_element(By.CSS_SELECTOR, "h2 .status").text

    # The applicant tracks it on the portal and is offered the satisfaction survey (SKM).
    browser.delete_all_cookies()
    track(browser, web, tracking, phone[-4:])
    offer = browser.find_element(By.CSS_SELECTOR, "main form[action='/lacak/survei'] button[type=submit]")
    assert offer.text == "Isi Survei Kepuasan"
    look("lacak-selesai")
    offer.click()
    wait_for(browser, lambda: bool(browser.find_elements(By.CSS_SELECTOR, SURVEY_FORM)), "the survey form")
    assert len(browser.find_elements(By.CSS_SELECTOR, f"{SURVEY_FORM} fieldset")) == len(SURVEY_SCORES)
    no_sideways_scrolling(browser, 360)
    look("survei")
    # Sent unanswered: every question says what is missing, the summary links to it.
    submit(browser, SURVEY_FORM)
    wait_for(browser, lambda: bool(browser.find_elements(By.ID, "g-u1")), "the unanswered survey refused")
    assert "Pilih salah satu jawaban" in browser.find_element(By.ID, "g-u9").text
    no_sideways_scrolling(browser, 360)
    look("survei-galat")
    for number, score in enumerate(SURVEY_SCORES, start=1):
        answer = browser.find_element(
            By.CSS_SELECTOR, f"{SURVEY_FORM} input[name=u{number}][value='{score}']"
        )
        browser.find_element(By.CSS_SELECTOR, f"label[for='{answer.get_attribute('id')}']").click()
        assert answer.is_selected()
    fill(browser, "f-saran", "Ruang tunggu perlu kipas angin.")
    no_sideways_scrolling(browser, 360)
    sent = browser.execute_script(
        "return Array.from(new FormData(document.querySelector(arguments[0])))", SURVEY_FORM
    )
    submit(browser, SURVEY_FORM)
    wait_for(browser, lambda: browser.current_url.endswith("/lacak/survei/terima-kasih"), "the survey sent")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Terima kasih"
    look("survei-terima-kasih")

    # The same answers again (another tab, a reload): taken as answered, not counted twice.
    browser.get(f"{web}/lacak")
    browser.execute_script(
        """const form = Object.assign(document.createElement('form'), {method: 'post', action: arguments[0]});
        for (const [name, value] of arguments[1]) {
          form.append(Object.assign(document.createElement('input'), {type: 'hidden', name, value}));
        }
        document.body.append(form);
        form.submit();""",
        "/lacak/survei/kirim",
        sent,
    )
    wait_for(
        browser, lambda: browser.current_url.endswith("/lacak/survei/terima-kasih"), "the survey sent again"
    )
    # Tracking again: answered already, no survey offered.
    track(browser, web, tracking, phone[-4:])
    tracked = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=hasil]").text
    assert "survei kepuasan untuk permohonan ini sudah diisi" in tracked
    assert not browser.find_elements(By.CSS_SELECTOR, "main form[action='/lacak/survei']")

    # The operator's console counts the one response in the site's IKM.
    log_in(browser, web, *login_of(platform, "operator", "loa-kulu"))
    browser.get(f"{web}/konter/survei")
    assert survey_responses(browser) == responses_before + 1
    summary = browser.find_element(By.TAG_NAME, "main").text
    assert "Nilai IKM:" in summary and "Mutu pelayanan:" in summary
    if responses_before == 0:
        assert "Nilai IKM: 91,67" in summary and "Mutu pelayanan: A (Sangat Baik)" in summary
    look("survei-ringkasan")

    # Tabang's operator: the application does not exist for them.
    log_in(browser, web, *login_of(platform, "operator", "tabang"))
    browser.get(application_url)
    assert "Tidak ditemukan" in browser.find_element(By.TAG_NAME, "h1").text
    browser.get(f"{web}/konter/cari?q={tracking}")
    assert tracking not in browser.find_element(By.TAG_NAME, "main").text
    look("cari-situs-lain")


def test_online_passport_application_at_tabang_is_tracked_to_its_appointment(
    platform: Platform, browser: WebDriver, look: Look
) -> None:
    web = platform.url("web")
    browser.delete_all_cookies()
    browser.get(f"{web}/")
    look("beranda")
    browser.get(f"{web}/layanan?q=paspor")
    look("layanan")
    browser.get(f"{web}/layanan/IMIGRASI-PASPOR-BARU")
    look("standar-pelayanan")
    browser.find_element(By.CSS_SELECTOR, "a[href='/ajukan/IMIGRASI-PASPOR-BARU']").click()
    look("ajukan")
    # First a mistake: the NIK too short. The field says why, and what was typed stays.
    browser.find_element(By.CSS_SELECTOR, "#f-tempat option[value=tabang]").click()
    fill(browser, "f-nama", "Rahmat Hidayat")
    fill(browser, "f-nik", "640202")
    phone = phone_number()
    fill(browser, "f-hp", phone)
    submit(browser)
    wait_for(browser, lambda: bool(browser.find_elements(By.ID, "g-nik")), "the NIK refused")
    assert "NIK harus 16 angka" in browser.find_element(By.ID, "g-nik").text
    assert browser.find_element(By.ID, "f-nama").get_attribute("value") == "Rahmat Hidayat"
    look("ajukan-galat")
    fill(browser, "f-nik", "6402021506900002")
    for box in browser.find_elements(By.CSS_SELECTOR, "input[name=persyaratan]"):
        if not box.is_selected():
            box.click()
    submit(browser)
    wait_for(browser, lambda: "/ajukan/verifikasi" in browser.current_url, "the online submit")
    look("verifikasi")
    # The code texted to the phone (the sandbox provider received it); a wrong one first: the field says why.
    sms = platform.wait_for_sms(normalize_msisdn(phone))
    code = re.search(r"\b([0-9]{6})\b", sms["body"]).group(1)  # type: ignore[union-attr]
    fill(browser, "f-kode", "000000" if code != "000000" else "111111")
    submit(browser)
    wait_for(browser, lambda: bool(browser.find_elements(By.ID, "g-kode")), "the wrong code refused")
    assert "Kode salah" in browser.find_element(By.ID, "g-kode").text
    look("verifikasi-galat")
    fill(browser, "f-kode", code)
    submit(browser)
    wait_for(browser, lambda: "/ajukan/terkirim" in browser.current_url, "the code accepted")
    tracking = browser.find_element(By.CSS_SELECTOR, ".kode").text
    look("terkirim")

    def appointment_shown() -> bool:
        track(browser, web, tracking, phone[-4:])
        return "Jadwal kedatangan" in browser.page_source

    wait_for(browser, appointment_shown, "the central appointment in tracking", timeout=45)
    text = browser.find_element(By.TAG_NAME, "main").text
    assert "Diteruskan ke MPP pusat" in text and "WITA" in text
    look("lacak")
