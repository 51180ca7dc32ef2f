"""The console in a real browser (Debian's chromium, driven by Playwright):
one phase per invocation, the Rust test (it/console.rs) pushing images
between them. Every step asserts what a person would see."""

import os
import re
import sys

from playwright.sync_api import expect, sync_playwright

URL = os.environ["BERTH_URL"]
ROOT = (os.environ["ROOT_ID"], os.environ["ROOT_SECRET"])
READER = (os.environ["RO_ID"], os.environ["RO_SECRET"])
SHOTS = os.environ["SHOTS"]
REPO = os.environ["REPO"]


def size(n):
    """As the console writes sizes (view::size)."""
    units = ["B", "kB", "MB", "GB", "TB"]
    v, unit = float(n), 0
    while v >= 1000 and unit < len(units) - 1:
        v /= 1000
        unit += 1
    return f"{n} B" if unit == 0 else f"{v:.1f} {units[unit]}"


def shot(page, name):
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def sign_in(page, key):
    page.goto(URL + "/console/repositories")
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    page.get_by_label("Access key ID").fill(key[0])
    page.get_by_label("Secret access key").fill(key[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/console/repositories$"))


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    page.goto(URL + "/console/repositories")
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))


def create(page):
    page.goto(URL + "/console")
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    shot(page, "sign-in")
    page.get_by_label("Access key ID").fill(ROOT[0])
    page.get_by_label("Secret access key").fill("not-the-secret")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong")
    sign_in(page, ROOT)
    expect(page.get_by_text("No repositories yet")).to_be_visible()
    page.get_by_role("link", name="Create repository").first.click()
    page.get_by_label("Repository name").fill("Bad Name")
    page.get_by_role("button", name="Create repository").click()
    expect(page.get_by_role("alert")).to_contain_text("repositoryName")
    page.get_by_label("Repository name").fill(REPO)
    page.get_by_label("Scan images on push").check()
    page.get_by_role("button", name="Create repository").click()
    expect(page).to_have_url(re.compile(rf"/console/repository/{re.escape(REPO)}$"))
    expect(page.get_by_role("heading", name=REPO)).to_be_visible()
    expect(page.get_by_text("No images yet")).to_be_visible()
    shot(page, "empty-repository")
    # A form posted without the session's CSRF token is refused, and
    # nothing is created (the browser's own cookies go with it).
    forged = page.request.post(
        URL + "/console/repositories/new", form={"name": "forged", "mutability": "MUTABLE"}
    )
    assert forged.status == 403, forged.status
    assert "CSRF" in forged.text()
    page.goto(URL + "/console/repositories?prefix=forged")
    expect(page.get_by_text("No repository name starts with")).to_be_visible()
    sign_out(page)


def browse(page):
    tags, size_bytes = os.environ["TAGS"].split(","), int(os.environ["SIZE"])
    sign_in(page, ROOT)
    page.get_by_role("link", name=REPO, exact=True).click()
    row = page.locator("table.images tbody tr", has_text="latest")
    for tag in tags:
        expect(row).to_contain_text(tag)
    expect(row).to_contain_text(size(size_bytes))
    expect(row).to_contain_text("sha256:")
    shot(page, "repository")

    # The image's page: its layers and the lines to pull it.
    old, new = os.environ["OLD_DIGEST"], os.environ["NEW_DIGEST"]
    page.locator(f"a[href*='{old.split(':')[1]}']").first.click()
    expect(page.get_by_role("heading", name="Layers")).to_be_visible()
    expect(page.locator("table tbody tr")).to_have_count(int(os.environ["LAYERS"]))
    expect(page.get_by_text(f"docker pull")).to_contain_text(old)
    shot(page, "image")

    # The lifecycle editor: a policy that breaks a rule is refused with
    # AWS's message; the preview (the API's) lists the older image only.
    page.goto(f"{URL}/console/lifecycle/{REPO}")
    editor = page.get_by_label("Policy (ECR's lifecycle policy JSON)")
    editor.fill('{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]}')
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("alert")).to_contain_text("tagPrefixList")
    keep_newest = '{"rules": [{"rulePriority": 1, "description": "keep the newest v*", "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]}'
    page.get_by_label("Policy (ECR's lifecycle policy JSON)").fill(keep_newest)
    page.get_by_role("button", name="Preview").click()
    rows = page.locator("table.preview tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(old)
    expect(rows.first).to_contain_text("Expire")
    expect(page.locator("table.preview")).not_to_contain_text(new)
    shot(page, "lifecycle-preview")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")

    # The repository policy editor: an invalid policy is refused with the
    # API's validation message, a valid one saved.
    page.goto(f"{URL}/console/policy/{REPO}")
    policy = page.get_by_label("Policy (an IAM resource policy)")
    policy.fill('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}')
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("alert")).to_be_visible()
    shot(page, "policy-invalid")
    page.get_by_label("Policy (an IAM resource policy)").fill(
        '{"Version": "2012-10-17", "Statement": [{"Sid": "pull", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": ["ecr:BatchGetImage"]}]}'
    )
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")

    # The scanned image's findings, from its row's scan status.
    scanned = os.environ["SCANNED_DIGEST"]
    page.goto(f"{URL}/console/repository/{REPO}")
    page.locator("table.images tbody tr", has_text="scanme").get_by_role("link", name="1 critical").click()
    finding = page.locator("table.findings tbody tr")
    expect(finding).to_have_count(1)
    for text in ["CRITICAL", "BERTH-SYNTHETIC-0101", "bash", "5.2.15-2+b2", "5.2.15-2+b3"]:
        expect(finding).to_contain_text(text)
    shot(page, "findings")

    # Tag immutability and scan on push, saved from the repository page.
    page.goto(f"{URL}/console/repository/{REPO}")
    page.get_by_label("Immutable, except").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert")).to_contain_text("imageTagMutabilityExclusionFilters")
    page.goto(f"{URL}/console/repository/{REPO}")
    page.get_by_label("Immutable, except").check()
    page.get_by_label("Exclusion filters").fill("latest, dev-*")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("dl.facts")).to_contain_text("IMMUTABLE_WITH_EXCLUSION (except latest, dev-*)")

    # IAM users: a user made, a key made whose secret is shown once, that
    # key deactivated (it no longer signs in) and activated (it does, and
    # its user's missing policies show), then both deleted.
    page.get_by_role("link", name="IAM users").click()
    page.get_by_label("New user name").fill("ci-bot")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_contain_text("User ci-bot created")
    page.get_by_role("button", name="Create access key for ci-bot").click()
    key_id = page.locator("#new-key-id").inner_text()
    secret = page.locator("#new-key-secret").inner_text()
    assert key_id.startswith("AKIA") and len(secret) >= 40, (key_id, secret)
    shot(page, "iam")
    page.goto(URL + "/console/iam")
    expect(page.locator("#new-key-secret")).to_have_count(0)
    assert secret not in page.content()
    page.get_by_role("button", name=f"Deactivate {key_id}").click()
    expect(page.get_by_role("status")).to_contain_text("inactive")
    sign_out(page)
    page.goto(URL + "/console/sign-in")
    page.get_by_label("Access key ID").fill(key_id)
    page.get_by_label("Secret access key").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("inactive")
    sign_in(page, ROOT)
    page.goto(URL + "/console/iam")
    page.get_by_role("button", name=f"Activate {key_id}").click()
    expect(page.get_by_role("status")).to_contain_text("active")
    sign_out(page)
    sign_in(page, (key_id, secret))
    expect(page.get_by_role("alert")).to_contain_text("not authorized")
    sign_out(page)
    sign_in(page, ROOT)
    page.goto(URL + "/console/iam")
    page.get_by_role("button", name=f"Delete {key_id}").click()
    expect(page.get_by_role("status")).to_contain_text("deleted")
    page.get_by_role("button", name="Delete user ci-bot").click()
    expect(page.get_by_role("status")).to_contain_text("User ci-bot deleted")

    # Registry settings: an account setting changed; a scanning rule BASIC
    # does not allow refused with the API's message, an allowed one saved.
    page.get_by_role("link", name="Registry settings").click()
    page.get_by_label("BLOB_MOUNTING").select_option("DISABLED")
    page.get_by_role("button", name="Save account settings").click()
    expect(page.get_by_role("status")).to_contain_text("Account settings saved")
    expect(page.get_by_label("BLOB_MOUNTING")).to_have_value("DISABLED")
    scanning = page.get_by_label("Scan type and rules (ECR's registry scanning configuration JSON)")
    scanning.fill('{"scanType": "BASIC", "rules": [{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}]}')
    page.get_by_role("button", name="Save scanning configuration").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Scan type and rules (ECR's registry scanning configuration JSON)").fill(
        '{"scanType": "BASIC", "rules": [{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "team/*", "filterType": "WILDCARD"}]}]}'
    )
    page.get_by_role("button", name="Save scanning configuration").click()
    expect(page.get_by_role("status")).to_contain_text("Scanning configuration saved")
    shot(page, "registry")

    # The list's live image count and sampled size; the usage page's
    # month, its repository line and the chart of stored bytes.
    page.goto(URL + "/console/repositories")
    row = page.locator("table tbody tr", has_text=REPO)
    expect(row.locator("td").nth(2)).to_have_text(os.environ["IMAGES"])
    expect(row.locator("td").nth(3)).to_have_text(size(int(os.environ["STORED"])))
    shot(page, "repositories")
    page.get_by_label("Sort by").select_option("size")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"sort=size"))
    expect(page.locator("table tbody tr", has_text=REPO).locator("td").nth(3)).to_have_text(
        size(int(os.environ["STORED"]))
    )
    expect(page.get_by_text("which also orders this list")).to_be_visible()
    page.locator("header nav").get_by_role("link", name="Usage and cost").click()
    expect(page.get_by_role("heading", name="Usage and cost")).to_be_visible()
    line = page.locator("table tbody tr", has_text=REPO)
    expect(line).to_contain_text(size(int(os.environ["LOGICAL"])))
    expect(line).to_contain_text(size(int(os.environ["STORED"])))
    expect(page.get_by_role("img", name=re.compile("^Stored bytes from"))).to_be_visible()
    expect(page.locator("#estimate")).to_contain_text("$")
    shot(page, "usage")
    page.goto(URL + "/console/usage?month=2026-13")
    expect(page.get_by_role("heading", name="Not a month")).to_be_visible()
    sign_out(page)

    # A read-only user sees the repositories and no button that would
    # fail; a form it builds by hand, with its own valid CSRF token, is
    # refused by the same authorization as the API's.
    sign_in(page, READER)
    expect(page.get_by_role("link", name=REPO, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Create repository")).to_have_count(0)
    page.goto(URL + "/console/repositories/new")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    page.goto(f"{URL}/console/lifecycle/{REPO}")
    expect(page.get_by_role("button", name="Preview")).to_be_visible()
    expect(page.get_by_role("button", name="Save policy")).to_have_count(0)
    page.goto(f"{URL}/console/repository/{REPO}")
    expect(page.get_by_role("button", name="Save settings")).to_have_count(0)
    page.goto(f"{URL}/console/iam")
    expect(page.get_by_role("alert")).to_contain_text("not authorized")
    expect(page.get_by_role("button", name="Create user")).to_have_count(0)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    refused = page.request.post(
        URL + "/console/repositories/new",
        form={"csrf": csrf, "name": "reader-made", "mutability": "MUTABLE", "encryption": "AES256"},
    )
    assert refused.status in (400, 403), refused.status
    assert "not authorized" in refused.text(), refused.text()
    page.goto(URL + "/console/repositories?prefix=reader-made")
    expect(page.get_by_text("No repository name starts with")).to_be_visible()
    sign_out(page)


def main():
    phase = sys.argv[1]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=["--no-sandbox", "--disable-gpu"],
        )
        page = browser.new_page(viewport={"width": 1366, "height": 860})
        page.set_default_timeout(15000)
        {"create": create, "browse": browse}[phase](page)
        browser.close()


if __name__ == "__main__":
    main()
