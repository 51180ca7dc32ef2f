use std::process::{Command, Output};

/// Whether client `name` is installed. Missing under `CI=true` is a test
/// failure; elsewhere the test is skipped, saying so loudly.
#[must_use]
pub fn require(name: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    present_or_skipped(found, name)
}

/// Whether Python module `name` imports (oras-py, boto3). Missing under
/// `CI=true` is a test failure; elsewhere the test is skipped, loudly.
#[must_use]
pub fn require_python_module(name: &str) -> bool {
    let found = Command::new("python3")
        .args(["-c", &format!("import {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    present_or_skipped(found, &format!("Python module {name}"))
}

/// A missing client fails the test under `CI=true` and skips it, loudly, elsewhere.
fn present_or_skipped(found: bool, what: &str) -> bool {
    if !found {
        assert!(
            !in_ci(),
            "{what} is required in CI but is not installed (scripts/test.sh installs it)"
        );
        eprintln!(
            "SKIPPED: {what} is not installed; run scripts/test.sh to install the test clients"
        );
    }
    found
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Runs a command and returns its output, failing the test with everything
/// it printed if it does not succeed.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A name unique to this test process and call, for shared namespaces such
/// as the Docker daemon's image store.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Makes `host` (an ECR-style account host name such as
/// `111111111111.dkr.ecr.us-east-1.localhost`) resolve to 127.0.0.1 for
/// real clients, which, unlike curl, do not resolve `*.localhost` to
/// loopback themselves: appends it to `/etc/hosts` if it is missing. Needs
/// root (CI runs as root); without it the test is skipped, loudly, or fails
/// under `CI=true`.
#[must_use]
pub fn resolve_to_loopback(host: &str) -> bool {
    use std::io::Write;
    let listed = |text: &str| {
        text.lines().any(|l| {
            let mut f = l.split_whitespace();
            f.next() == Some("127.0.0.1") && f.any(|h| h == host)
        })
    };
    if std::fs::read_to_string("/etc/hosts").is_ok_and(|t| listed(&t)) {
        return true;
    }
    // One short append: concurrent test processes at worst list a name twice.
    let added = std::fs::OpenOptions::new()
        .append(true)
        .open("/etc/hosts")
        .and_then(|mut f| f.write_all(format!("\n127.0.0.1 {host}\n").as_bytes()))
        .is_ok();
    present_or_skipped(
        added,
        &format!("an /etc/hosts entry for {host} (needs root)"),
    )
}
