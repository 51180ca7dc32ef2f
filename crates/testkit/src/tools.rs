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
