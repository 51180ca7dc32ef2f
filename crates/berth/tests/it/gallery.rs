//! The public gallery (issue 24) on the public host: in headless Chromium
//! (`gallery_browser.py`), search finds a repository by its description,
//! its page shows the catalog data (logo, Markdown about text with a
//! script that stays text), its tags and the pull line; over HTTP, the
//! pages carry the console's CSP and exist on the public host only.

use crate::common::*;
use berth_testkit::{image, tools};
use std::process::Command;

/// Publishes `tools/hello` (catalog data with a PNG logo, through boto3:
/// the aws CLI v1 cannot send the logo's bytes) and `other/thing`.
const PUBLISH: &str = r##"
import base64, json, struct, zlib
import boto3

def png(w, h):
    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xffffffff)
    rows = b"".join(b"\x00" + b"\x33\x66\x99" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))

c = boto3.client("ecr-public")
c.create_repository(repositoryName="tools/hello", catalogData={
    "description": "Greets the world, politely",
    "architectures": ["x86-64", "ARM 64"],
    "operatingSystems": ["Linux"],
    "logoImageBlob": png(16, 16),
    "aboutText": "# Hello tool\n\nIt is **bold**.\n\n<script>document.title='pwned';alert('xss')</script>\n\nAnd <img src=x onerror=alert(1)> inline.",
    "usageText": "Run `docker run hello`.",
})
out = {"logoUrl": c.get_repository_catalog_data(repositoryName="tools/hello")["catalogData"]["logoUrl"]}
c.create_repository(repositoryName="other/thing")
alias = c.describe_registries()["registries"][0]["aliases"][0]["name"]
out["alias"] = alias
print(json.dumps(out))
"##;

#[test]
fn the_gallery_finds_a_repository_and_shows_its_catalog_data_inertly() {
    if !tools::require("chromium")
        || !tools::require_python_module("playwright")
        || !tools::require_python_module("boto3")
    {
        return;
    }
    let s = start();
    let published = python_json(&s, PUBLISH, &[]);
    let alias = published["alias"].as_str().unwrap().to_string();
    let host = format!("public.localhost:{}", s.addr.port());
    let base = format!("http://{host}");
    // GetRepositoryCatalogData's logoUrl is where the gallery serves it.
    let logo_url = format!("{base}/-/logo/{alias}/tools/hello");
    assert_eq!(published["logoUrl"], logo_url.as_str());
    let client = reqwest::blocking::Client::builder()
        .resolve("public.localhost", s.addr)
        .build()
        .unwrap();
    // An image under two tags, pushed with the admin's login password.
    let img = image::oci_image(2501, 1, 2, 2_000);
    let push = public_publisher(&s, s.password());
    let repo = format!("{alias}/tools/hello");
    push.push_image(&repo, &img, "v1");
    let r = push.put_manifest(&repo, "latest", image::OCI_MANIFEST, &img.manifest);
    assert_eq!(r.status(), 201);

    // Over HTTP: the console's headers; the script is text; public host only.
    let page = client
        .get(format!("{base}/{alias}/tools/hello"))
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = header(&page, "content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().unwrap();
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(html.contains(&format!("docker pull {host}/{alias}/tools/hello:latest")));
    let logo = client.get(&logo_url).send().unwrap();
    assert_eq!(header(&logo, "content-type"), "image/png");
    for other_host in [s.url() + "/", format!("{}/{alias}/tools/hello", s.url())] {
        let r = s.raw_client().get(&other_host).send().unwrap();
        assert_eq!(r.status(), 404, "{other_host}");
    }
    // The console is not on the public host; its stylesheet is, for the gallery.
    assert_eq!(
        client
            .get(format!("{base}/console/sign-in"))
            .send()
            .unwrap()
            .status(),
        404
    );
    let css = client
        .get(format!("{base}/-/static/console.css"))
        .send()
        .unwrap();
    assert_eq!(header(&css, "content-type"), "text/css; charset=utf-8");
    assert_eq!(
        client
            .get(format!("{base}/{alias}/tools/missing"))
            .send()
            .unwrap()
            .status(),
        404
    );

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/gallery_browser.py");
    let shots = std::env::var("BERTH_CONSOLE_SHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| s.scratch().join("shots"));
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("python3")
        .arg(script)
        .env("GALLERY_URL", &base)
        .env("ALIAS", &alias)
        .env(
            "PULL",
            format!("docker pull {host}/{alias}/tools/hello:latest"),
        )
        .env("SHOTS", &shots)
        .output()
        .expect("running python3");
    assert!(
        out.status.success(),
        "{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
}
