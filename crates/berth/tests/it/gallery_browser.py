"""The public gallery in a real browser (Debian's chromium, driven by
Playwright), without signing in: search finds the repository, its page
shows the catalog data, the tags and the pull line, and Markdown with a
script in it runs nothing. The Rust test (it/gallery.rs) publishes first."""

import os
import re
import sys

from playwright.sync_api import expect, sync_playwright

URL = os.environ["GALLERY_URL"]
ALIAS = os.environ["ALIAS"]
PULL = os.environ["PULL"]
SHOTS = os.environ["SHOTS"]


def shot(page, name):
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def browse(page):
    scripts_ran = []
    page.on("dialog", lambda d: (scripts_ran.append(d.message), d.dismiss()))
    page.goto(URL + "/")
    expect(page.get_by_role("heading", name="Public repositories")).to_be_visible()
    expect(page.get_by_role("link", name=f"{ALIAS}/tools/hello")).to_be_visible()
    expect(page.get_by_role("link", name=f"{ALIAS}/other/thing")).to_be_visible()
    shot(page, "gallery-all")

    # Search by a word of the description, in another case.
    page.get_by_label("Search public repositories").fill("GREETS")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/\?q=GREETS$"))
    expect(page.get_by_role("link", name=f"{ALIAS}/tools/hello")).to_be_visible()
    expect(page.get_by_role("link", name=f"{ALIAS}/other/thing")).to_have_count(0)
    page.get_by_label("Search public repositories").fill("no such thing anywhere")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No public repository matches")).to_be_visible()

    page.goto(URL + "/?q=hello")
    page.get_by_role("link", name=f"{ALIAS}/tools/hello").click()
    expect(page).to_have_url(URL + f"/{ALIAS}/tools/hello")
    expect(page.get_by_role("heading", name=f"{ALIAS}/tools/hello")).to_be_visible()
    expect(page.get_by_text("Greets the world, politely")).to_be_visible()
    expect(page.locator("pre.pull")).to_have_text(PULL)
    expect(page.get_by_text("ARM 64")).to_be_visible()
    expect(page.get_by_text("Linux", exact=True)).to_be_visible()
    # The Markdown: a heading and bold text rendered; the script shown as
    # text, never run; no element from it.
    about = page.locator("div.about")
    expect(about.get_by_role("heading", name="Hello tool")).to_be_visible()
    expect(about.locator("strong")).to_have_text("bold")
    expect(about).to_contain_text("<script>")
    assert about.locator("script").count() == 0
    assert page.locator("main img[onerror]").count() == 0
    assert page.title() != "pwned", page.title()
    # Tags with their sizes and dates.
    tags = page.get_by_role("cell", name=re.compile(r"\bv1\b"))
    expect(tags).to_contain_text("latest")
    expect(page.get_by_role("cell", name=re.compile(r"^\d+(\.\d)? kB$"))).to_be_visible()
    # The logo loaded.
    logo = page.locator("h1 img")
    expect(logo).to_be_visible()
    assert page.evaluate("() => document.querySelector('h1 img').naturalWidth") > 0
    shot(page, "gallery-repository")

    page.goto(URL + f"/{ALIAS}/tools/missing")
    expect(page.get_by_text(f"There is no public repository {ALIAS}/tools/missing.")).to_be_visible()
    assert scripts_ran == [], scripts_ran


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=["--no-sandbox", "--disable-gpu"],
        )
        page = browser.new_page(viewport={"width": 1366, "height": 860})
        page.set_default_timeout(15000)
        browse(page)
        browser.close()


if __name__ == "__main__":
    main()
