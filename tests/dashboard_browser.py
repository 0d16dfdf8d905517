"""The live page in a real browser (Debian's chromium and chromedriver, headless), logged in through
the stack's Airflow UI: the browser tests' shared steps (their ``browser`` fixture is in
``tests/dashboard/conftest.py``)."""

from __future__ import annotations

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from logstream.stack.airflow import stack_passwords

CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1100")
WAIT_SECONDS = 90


def start_browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    return driver


def base_url(stack) -> str:
    return stack.service("airflow").url


def log_in(driver, stack, user: str) -> None:
    """Through Airflow's own login page, which the dashboard's nav entry redirects to."""
    driver.get(f"{base_url(stack)}/plugin/live")
    wait = WebDriverWait(driver, WAIT_SECONDS)
    wait.until(lambda d: "/auth/login" in d.current_url and d.find_elements(By.NAME, "username"))
    driver.find_element(By.NAME, "username").send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(stack_passwords(stack.config)[user])
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "/plugin/live" in d.current_url and d.find_elements(By.CSS_SELECTOR, "iframe[src$='/live/']"))
    driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, "iframe[src$='/live/']"))




def save_screenshot(driver, stack, element, name: str, what: str) -> None:
    """``element`` scrolled into view, the whole Airflow UI saved under the stack's screenshots folder."""
    driver.execute_script("arguments[0].scrollIntoView()", element)
    driver.switch_to.default_content()
    screenshot = stack.config.home / "screenshots" / name
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(screenshot))
    print(f"screenshot of {what}: {screenshot}")
