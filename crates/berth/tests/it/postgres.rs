//! `berth serve --metadata postgres://...`: what is pushed survives a
//! restart, a second node with a server key of its own is refused (every
//! node of a deployment needs the same), and a database that cannot be reached
//! stops the start with an error that names it and hides its password.
//! Needs `BERTH_TEST_POSTGRES` (scripts/test.sh starts a cluster); fails
//! without it.

use crate::common::*;
use berth_testkit::postgres::Database;
use std::process::Command;

fn serve(data_dir: &std::path::Path, metadata: &str) -> std::process::Output {
    Command::new(berth_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(["--metadata", metadata])
        .output()
        .expect("running berth")
}

#[test]
fn images_survive_a_restart_and_a_node_with_another_server_key_is_refused() {
    let db = Database::create();
    let mut s = start_with(&["--metadata", &db.url]);
    assert!(
        s.log().contains("metadata in postgres://"),
        "the start line names the metadata store:\n{}",
        s.log()
    );
    let api = Api::new(&s);
    let img = image::oci_image(41, 2, 2, 3_000);
    api.push_image("pg/app", &img, "v1");
    s.restart();
    let api = Api::new(&s);
    let got = api.get("/v2/pg/app/manifests/v1");
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().unwrap().as_ref(), img.manifest.as_slice());

    let other = tempfile::tempdir().unwrap();
    let out = serve(&other.path().join("data"), &db.url);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a node with another key started:\n{stderr}"
    );
    assert!(
        stderr.contains("is not the one the other nodes of this deployment use"),
        "{stderr}"
    );
    // The first node is unaffected.
    assert_eq!(api.get("/v2/pg/app/manifests/v1").status(), 200);
}

#[test]
fn an_unreachable_database_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens there.
    let out = serve(
        &dir.path().join("data"),
        "postgres://berth:hunter2@127.0.0.1:1/berth",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "berth started:\n{stderr}");
    assert!(
        stderr.contains(
            "connecting to the PostgreSQL metadata store postgres://berth:***@127.0.0.1:1/berth"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the password is printed:\n{stderr}"
    );
}

/// `berth rotate-root` needs every node stopped: on PostgreSQL it counts
/// the nodes that serve (their LISTEN connections) and refuses while one
/// does, and goes ahead once it has stopped.
#[test]
fn rotate_root_refuses_while_a_node_serves_the_database() {
    let db = Database::create();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::start_in(berth_bin(), Some(&data), &["--metadata", &db.url]);
    let rotate = || {
        Command::new(berth_bin())
            .args(["rotate-root", "--data-dir"])
            .arg(&data)
            .args(["--metadata", &db.url, "--blobs"])
            .arg(format!("file:{}", data.display()))
            .arg("--server-key-file")
            .arg(data.join("server.key"))
            .output()
            .expect("running berth")
    };
    let refused = rotate();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "rotated under a serving node:\n{stderr}"
    );
    assert!(stderr.contains("1 berth node(s) still serve"), "{stderr}");
    s.stop();
    // The stopped node's backend leaves pg_stat_activity as soon as
    // PostgreSQL sees its socket close: a moment, at most.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let done = rotate();
        if done.status.success() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
