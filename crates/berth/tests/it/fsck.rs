//! `berth fsck` on data dirs damaged by hand: each kind of damage is found
//! and named, `--repair` fixes exactly what it can without losing data
//! (and fsck is clean afterwards), and what it cannot fix is left alone.

use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `berth fsck` on the data dir: exit code, JSON report (when it
/// printed one), stderr.
fn fsck(data: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(berth_bin())
        .arg("fsck")
        .arg("--data-dir")
        .arg(data)
        .arg("--json")
        .args(args)
        .env("BERTH_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

/// The kinds of the problems a report lists, with their fix status.
fn kinds(report: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap().to_string(),
                p["fix"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn blob_file(data: &Path, digest: &str) -> PathBuf {
    let hex = digest.trim_start_matches("sha256:");
    data.join("blobs").join("sha256").join(&hex[..2]).join(hex)
}

/// Runs SQL on a stopped server's database with foreign keys off (as a
/// hand edit, or a damaged file, would).
fn sql(data: &Path, statements: &[&str]) {
    let db = data.join("metadata.db");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use sqlx::sqlite::SqliteConnectOptions;
            // One connection: `PRAGMA writable_schema` is per connection.
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(
                    SqliteConnectOptions::new()
                        .filename(&db)
                        .foreign_keys(false),
                )
                .await
                .unwrap();
            for s in statements {
                sqlx::query(s).execute(&pool).await.unwrap();
            }
            pool.close().await;
        });
}

fn pull_ok(api: &Api, repo: &str, img: &image::Image, tag: &str) {
    let r = api.get(&format!("/v2/{repo}/manifests/{tag}"));
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().unwrap().as_ref(), img.manifest.as_slice());
    for (digest, bytes) in img
        .layers
        .iter()
        .map(|l| (&l.digest, &l.bytes))
        .chain([(&img.config_digest, &img.config)])
    {
        let r = api.get(&format!("/v2/{repo}/blobs/{digest}"));
        assert_eq!(r.status(), 200, "{repo} {digest}");
        assert_eq!(r.bytes().unwrap().as_ref(), bytes.as_slice());
    }
}

#[test]
fn a_clean_data_dir_is_clean_and_a_held_one_is_refused() {
    let mut s = start();
    let api = Api::new(&s);
    api.push_image("fsck/clean", &image::oci_image(1, 2, 1, 3_000), "v1");
    // A running server holds the data dir: fsck says so and fails.
    let (code, _, err) = fsck(&s.data_dir, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("in use by another berth process") && err.contains("stop the server"),
        "{err}"
    );
    s.stop();
    let (code, report, err) = fsck(&s.data_dir, &["--deep"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(kinds(&report), vec![], "{report:#}");
    assert_eq!(report["checked"]["blobRecords"], 3);
    assert_eq!(report["checked"]["blobFiles"], 3);
    assert_eq!(report["checked"]["manifestBodiesHashed"], 1);
    assert!(report["checked"]["bytesHashed"].as_u64().unwrap() > 3_000);
    // The text report says so too.
    let out = Command::new(berth_bin())
        .args(["fsck", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("0 damaged, 0 garbage: clean"), "{text}");
    // Not a data dir at all.
    let (code, _, err) = fsck(&s.scratch().join("nothing-here"), &[]);
    assert_eq!(code, 1);
    assert!(err.contains("not a berth data dir"), "{err}");
}

#[test]
fn repairable_damage_is_found_repaired_and_then_clean() {
    let mut s = start();
    let api = Api::new(&s);
    let unrecorded = image::oci_image(11, 1, 1, 4_000);
    let unlinked = image::oci_image(12, 1, 1, 4_000);
    let tagged = image::oci_image(13, 1, 1, 4_000);
    api.push_image("fsck/a", &unrecorded, "v1");
    api.push_image("fsck/b", &unlinked, "v1");
    api.push_image("fsck/c", &tagged, "v1");
    let loose = api.push_blob("fsck/a", b"a loose blob nobody references");
    // An upload session with bytes, whose file will vanish.
    let r = api
        .client
        .post(api.url("/v2/fsck/a/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let location = header(&r, "location");
    let session = location.rsplit('/').next().unwrap().to_string();
    let r = api
        .client
        .patch(api.url(&location))
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 1000])
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    s.stop();
    let data = s.data_dir.clone();

    // 1. A blob row removed (its file stays): restorable.
    let layer = &unrecorded.layers[0].digest;
    sql(
        &data,
        &[&format!("DELETE FROM blobs WHERE digest = '{layer}'")],
    );
    // 2. A link removed: pulls of the blob through fsck/b fail.
    let link = &unlinked.config_digest;
    sql(
        &data,
        &[&format!(
            "DELETE FROM repository_blobs WHERE digest = '{link}'"
        )],
    );
    // 3. A manifest row removed under its tag: the tag dangles and the
    //    body is unused.
    sql(
        &data,
        &[&format!(
            "DELETE FROM manifests WHERE digest = '{}'",
            tagged.manifest_digest
        )],
    );
    // 4. A loose blob's file deleted: nothing needs it.
    std::fs::remove_file(blob_file(&data, &loose)).unwrap();
    // 5. An orphan blob file and an orphan upload file.
    let orphan = image::sha256(b"orphan");
    std::fs::write(blob_file(&data, &orphan), b"orphan").unwrap();
    std::fs::write(
        data.join("uploads")
            .join("0123abcd-0000-0000-0000-000000000000"),
        b"left over",
    )
    .unwrap();
    // 6. The session's file deleted.
    std::fs::remove_file(data.join("uploads").join(&session)).unwrap();

    let (code, report, err) = fsck(&data, &[]);
    assert_eq!(code, 2, "damage exits 2: {err}\n{report:#}");
    let r = |k: &str| (k.to_string(), "repairable".to_string());
    assert_eq!(
        kinds(&report),
        vec![
            r("blob-file-missing"),
            r("blob-link-missing"),
            r("blob-record-missing"),
            r("dangling-tag"),
            // The two files written by hand above (0644 under the tests'
            // umask): see the_data_dir_is_private_whatever_the_umask.
            r("insecure-mode"),
            r("orphan-blob-file"),
            r("orphan-manifest-references"),
            r("orphan-upload-file"),
            r("unused-manifest-body"),
            r("upload-data-missing"),
        ],
        "{report:#}"
    );
    assert_eq!(report["damage"], 4, "{report:#}");
    assert_eq!(report["garbage"], 6, "{report:#}");
    let where_of = |kind: &str| {
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == kind)
            .unwrap()["location"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(where_of("orphan-blob-file").ends_with(orphan.trim_start_matches("sha256:")));
    assert!(where_of("blob-link-missing").contains("fsck/b"));
    assert!(where_of("dangling-tag").contains("000000000000/us-east-1/fsck/c"));
    // Checking changed nothing.
    assert!(blob_file(&data, &orphan).exists());

    let (code, report, err) = fsck(&data, &["--repair"]);
    assert_eq!(code, 0, "{err}\n{report:#}");
    assert!(
        kinds(&report).iter().all(|(_, fix)| fix == "repaired"),
        "{report:#}"
    );
    assert_eq!(report["repaired"], 10);
    assert!(!blob_file(&data, &orphan).exists());
    // Rows and files are consistent again, down to the bytes.
    let (code, report, err) = fsck(&data, &["--deep"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(kinds(&report), vec![], "{report:#}");

    // The restored blob and the re-made link serve again.
    s.restart();
    let api = Api::new(&s);
    pull_ok(&api, "fsck/a", &unrecorded, "v1");
    pull_ok(&api, "fsck/b", &unlinked, "v1");
    assert_eq!(api.get("/v2/fsck/c/manifests/v1").status(), 404);
    // The loose blob's record went with its file: pushing it again stores it.
    assert_eq!(api.head(&format!("/v2/fsck/a/blobs/{loose}")).status(), 404);
    api.push_blob("fsck/a", b"a loose blob nobody references");
}

#[test]
fn lost_bytes_are_reported_and_never_deleted() {
    let mut s = start();
    let api = Api::new(&s);
    let img = image::oci_image(21, 3, 1, 4_000);
    api.push_image("fsck/lost", &img, "v1");
    s.stop();
    let data = s.data_dir.clone();
    // One layer's file deleted, one flipped in place (same size), one
    // grown; the manifest body altered.
    std::fs::remove_file(blob_file(&data, &img.layers[0].digest)).unwrap();
    let flipped = blob_file(&data, &img.layers[1].digest);
    let mut bytes = std::fs::read(&flipped).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&flipped, &bytes).unwrap();
    let grown = blob_file(&data, &img.layers[2].digest);
    let mut more = std::fs::read(&grown).unwrap();
    more.push(0);
    std::fs::write(&grown, &more).unwrap();
    sql(
        &data,
        &[&format!(
            "UPDATE manifest_bodies SET body = CAST('{{}}' AS BLOB) WHERE digest = '{}'",
            img.manifest_digest
        )],
    );

    // Without --deep, a flipped byte (same size) is not seen.
    let (code, report, _) = fsck(&data, &[]);
    assert_eq!(code, 2);
    let n = |k: &str| (k.to_string(), "not-repairable".to_string());
    assert_eq!(
        kinds(&report),
        vec![n("blob-file-missing"), n("blob-size-wrong")],
        "{report:#}"
    );
    let detail = report["problems"][0]["fixDetail"].as_str().unwrap();
    assert!(detail.contains("fsck/lost"), "names who needs it: {detail}");

    let (code, report, _) = fsck(&data, &["--deep", "--repair"]);
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(
        kinds(&report),
        vec![
            n("blob-file-missing"),
            n("blob-hash-wrong"),
            n("blob-size-wrong"),
            n("manifest-body-corrupt"),
        ],
        "{report:#}"
    );
    // The damaged files a manifest needs are still there, as they were.
    assert_eq!(std::fs::read(&flipped).unwrap(), bytes);
    assert_eq!(std::fs::read(&grown).unwrap(), more);
    // And the server still starts on it.
    s.restart();
    assert_eq!(
        Api::new(&s)
            .get(&format!("/v2/fsck/lost/blobs/{}", img.config_digest))
            .status(),
        200
    );
}

#[test]
fn a_broken_index_is_rebuilt() {
    let mut s = start();
    let api = Api::new(&s);
    let img = image::oci_image(31, 1, 1, 1_000);
    api.push_image("fsck/idx", &img, "v1");
    s.stop();
    let data = s.data_dir.clone();
    // Write a tag while an index's definition excludes every row, then put
    // the definition back: the index lacks that row, as after a torn write.
    let define = |filter: &str| {
        format!("UPDATE sqlite_schema SET sql = 'CREATE INDEX tags_by_digest ON tags(repository_id, digest){filter}' WHERE name = 'tags_by_digest'")
    };
    sql(&data, &["PRAGMA writable_schema = ON", &define(" WHERE 0")]);
    sql(
        &data,
        &[&format!(
            "INSERT INTO tags (repository_id, name, digest, updated_at) SELECT repository_id, 'v2', digest, 0 FROM manifests WHERE digest = '{}'",
            img.manifest_digest
        )],
    );
    sql(&data, &["PRAGMA writable_schema = ON", &define("")]);

    let (code, report, _) = fsck(&data, &[]);
    assert_eq!(code, 2, "{report:#}");
    // "row N missing from index tags_by_digest", "wrong # of entries in index tags_by_digest".
    let found = kinds(&report);
    assert!(!found.is_empty(), "{report:#}");
    for (i, (kind, fix)) in found.iter().enumerate() {
        assert_eq!(
            (kind.as_str(), fix.as_str()),
            ("database-integrity", "repairable")
        );
        let message = report["problems"][i]["message"].as_str().unwrap();
        assert!(message.contains("tags_by_digest"), "{message}");
    }
    let (code, report, _) = fsck(&data, &["--repair"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["repaired"], found.len(), "{report:#}");
    let (code, report, _) = fsck(&data, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(kinds(&report), vec![], "{report:#}");
    s.restart();
    pull_ok(&Api::new(&s), "fsck/idx", &img, "v2");
}

/// The permission bits of a path (no file type).
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn set_mode(p: &Path, m: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// Issue 17 item 10: under umask 022 the data dir was 0755 and
/// metadata.db, blobs and uploads 0644, so any local user could read every
/// tenant's images and policies. berth makes what it creates the owner's
/// only whatever the umask, tightens a loose data dir at start, and fsck
/// reports looser modes (`--repair` tightens them). Tests run as root, so
/// the mode bits are checked, not another user's access.
#[test]
fn the_data_dir_is_private_whatever_the_umask() {
    // berth started under umask 022, through a shell that sets it.
    let wrapper_dir = tempfile::tempdir().unwrap();
    let wrapper = wrapper_dir.path().join("berth-umask-022");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\numask 022\nexec '{}' \"$@\"\n", berth_bin()),
    )
    .unwrap();
    set_mode(&wrapper, 0o755);
    let outside = wrapper_dir.path().join("archive-elsewhere");
    let mut s = TestServer::start_with(&wrapper, &["--archive-dir", outside.to_str().unwrap()]);
    let api = Api::new(&s);
    let img = image::oci_image(5, 1, 1, 2_000);
    api.push_image("private/app", &img, "v1");
    // An upload session with bytes in it.
    let r = api
        .client
        .post(api.url("/v2/private/app/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let location = header(&r, "location");
    let r = api
        .client
        .patch(api.url(&location))
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 1000])
        .send()
        .unwrap();
    assert_eq!(r.status(), 202, "{:?}", r.text());

    let data = s.data_dir.clone();
    let uploads: Vec<PathBuf> = std::fs::read_dir(data.join("uploads"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    let layer = blob_file(&data, &img.layers[0].digest);
    let mut expect: Vec<(PathBuf, u32)> = vec![
        (data.clone(), 0o700),
        (data.join("metadata.db"), 0o600),
        (data.join("server.key"), 0o600),
        (data.join("berth.lock"), 0o600),
        (data.join("blobs"), 0o700),
        (layer.parent().unwrap().to_path_buf(), 0o700),
        (layer.clone(), 0o600),
        (data.join("uploads"), 0o700),
        (uploads[0].clone(), 0o600),
        (outside.clone(), 0o700),
        (outside.join("blobs"), 0o700),
    ];
    for side in ["-wal", "-shm"] {
        let p = data.join(format!("metadata.db{side}"));
        if p.exists() {
            expect.push((p, 0o600));
        }
    }
    for (p, want) in &expect {
        assert_eq!(mode(p), *want, "mode of {}", p.display());
    }
    s.stop();

    // A clean dir has nothing to report.
    let (code, report, err) = fsck(&data, &["--archive-dir", outside.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(kinds(&report), vec![], "{report:#}");

    // Loosened by hand (as an earlier version under umask 022 left them).
    set_mode(&layer, 0o644);
    set_mode(layer.parent().unwrap(), 0o755);
    set_mode(&data.join("metadata.db"), 0o644);
    set_mode(&outside.join("blobs"), 0o755);
    let (code, report, err) = fsck(&data, &["--archive-dir", outside.to_str().unwrap()]);
    assert_eq!(code, 0, "loose modes are not damage: {err}");
    assert_eq!(
        kinds(&report),
        vec![
            ("insecure-mode".to_string(), "repairable".to_string()),
            ("insecure-mode".to_string(), "repairable".to_string())
        ],
        "{report:#}"
    );
    let text = report["problems"].to_string();
    assert!(text.contains("1 directories and 2 files"), "{text}");
    assert_eq!(mode(&layer), 0o644, "fsck without --repair changes nothing");
    let (code, report, err) = fsck(
        &data,
        &["--repair", "--archive-dir", outside.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(report["repaired"], 2, "{report:#}");
    for (p, want) in [
        (&layer, 0o600),
        (&layer.parent().unwrap().to_path_buf(), 0o700),
        (&data.join("metadata.db"), 0o600),
        (&outside.join("blobs"), 0o700),
    ] {
        assert_eq!(mode(p), want, "mode of {} after --repair", p.display());
    }
    let (_, report, _) = fsck(&data, &["--archive-dir", outside.to_str().unwrap()]);
    assert_eq!(kinds(&report), vec![], "{report:#}");

    // A data dir left 0755 (by an earlier version) is made 0700 at start.
    set_mode(&data, 0o755);
    s.restart();
    assert_eq!(mode(&data), 0o700);
    assert!(s.log().contains("was mode 755"), "{}", s.log());
    let r = api.get(&format!("/v2/private/app/blobs/{}", img.layers[0].digest));
    assert_eq!(r.status(), 200);
}

/// A data dir holding plaintext from before encryption at rest (written
/// here by the benchmark's unsealed switch): fsck names it, as garbage
/// (it reads, so exit 0), and the server still serves it sealed-on.
#[test]
fn plaintext_left_from_before_encryption_is_reported() {
    let mut s =
        TestServer::start_with_env(berth_bin(), &[], &[("BERTH_BENCH_UNSEALED_BLOBS", "1")]);
    let api = Api::new(&s);
    let img = image::oci_image(23, 2, 1, 3_000);
    api.push_image("fsck/plain", &img, "v1");
    s.stop();
    let (code, report, _) = fsck(&s.data_dir, &["--deep"]);
    assert_eq!(code, 0, "{report:#}");
    let g = |k: &str| (k.to_string(), "not-repairable".to_string());
    assert_eq!(
        kinds(&report),
        vec![g("blobs-not-sealed"), g("manifest-bodies-not-sealed")],
        "{report:#}"
    );
    assert!(
        report["problems"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("3 blob(s) are stored in plaintext"),
        "{report:#}"
    );
    // A server with sealing on reads them as they are, and seals them in
    // the background while serving: afterwards fsck finds nothing.
    let mut sealed =
        TestServer::start_in(berth_bin(), Some(&s.data_dir), &["--seal-interval", "1s"]);
    let api = Api::new(&sealed);
    pull_ok(&api, "fsck/plain", &img, "v1");
    let metric = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("berth_{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = api.get("/metrics").text().unwrap();
        if metric(&text, "sealing_passes") >= 1 {
            assert_eq!(metric(&text, "sealing_blobs_sealed"), 3, "{text}");
            assert_eq!(metric(&text, "sealing_bodies_sealed"), 1, "{text}");
            assert_eq!(metric(&text, "sealing_plaintext_left"), 0, "{text}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no sealing pass in 60 s:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    pull_ok(&api, "fsck/plain", &img, "v1");
    assert!(sealed
        .log()
        .contains("sealed data stored before encryption at rest"));
    sealed.stop();
    let (code, report, _) = fsck(&sealed.data_dir, &["--deep"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(kinds(&report), Vec::<(String, String)>::new(), "{report:#}");
}

/// Key domains (issue 21): blobs only repositories under a KMS key link
/// are in the key's domain alone, which fsck checks (`--deep`: decrypted
/// and hashed); a damaged copy there is named, and a copy no repository
/// under the key links is garbage that `--repair` removes.
#[test]
fn fsck_checks_each_kms_keys_domain() {
    let mut s = start();
    let (_, arn) = kms_repository(&s, "fsck/kms");
    let img = image::oci_image(61, 2, 1, 70_000);
    Api::new(&s).push_image("fsck/kms", &img, "v1");
    s.stop();
    let data = s.data_dir.clone();
    let in_domain = |digest: &str| domain_blob_file(&data, &arn, digest);
    assert!(in_domain(&img.layers[0].digest).is_file());
    assert!(!blob_file(&data, &img.layers[0].digest).exists());

    let (code, report, err) = fsck(&data, &["--deep"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(kinds(&report), vec![], "{report:#}");
    assert_eq!(report["checked"]["blobFiles"], 3);

    // A flipped bit in the domain's copy of a layer; a stray copy there.
    let layer = in_domain(&img.layers[0].digest);
    let mut bytes = std::fs::read(&layer).unwrap();
    bytes[5_000] ^= 1;
    std::fs::write(&layer, &bytes).unwrap();
    let stray = format!("sha256:{}", "ab".repeat(32));
    std::fs::copy(in_domain(&img.layers[1].digest), in_domain(&stray)).unwrap();
    let (code, report, err) = fsck(&data, &["--deep"]);
    assert_eq!(code, 2, "{err}\n{report:#}");
    let found = kinds(&report);
    let names: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["blob-hash-wrong", "orphan-blob-file"], "{report:#}");
    let (code, report, _) = fsck(&data, &["--repair"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(!in_domain(&stray).exists(), "the stray copy is removed");
    assert!(layer.exists(), "a damaged copy a manifest needs stays");
}

/// A repository put under a KMS key before key domains existed (stop 35)
/// has its bytes in the AES256 store: it reads them there, the sealing
/// pass copies them into the key's domain, and garbage collection then
/// frees the AES256 copies no repository needs; fsck is clean throughout.
#[test]
fn a_kms_repository_from_before_key_domains_moves_into_its_domain() {
    let mut s = start();
    let call = |op: &str, input: Value| s.ecr("us-east-1", op, input).unwrap();
    kms_repository(&s, "fsck/old-kms");
    let img = image::oci_image(62, 2, 1, 20_000);
    let api = Api::new(&s);
    // The same bytes through an AES256 repository, which then goes: what
    // is left is the stop-35 layout once the key's domain is removed.
    api.push_image("fsck/old-kms", &img, "v1");
    api.push_image("fsck/aes", &img, "v1");
    call(
        "DeleteRepository",
        serde_json::json!({"repositoryName": "fsck/aes", "force": true}),
    );
    s.stop();
    std::fs::remove_dir_all(s.data_dir.join("kms")).unwrap();
    let (code, report, _) = fsck(&s.data_dir, &["--deep"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(kinds(&report), vec![], "{report:#}");

    let mut s = TestServer::start_in(berth_bin(), Some(&s.data_dir), &["--seal-interval", "1s"]);
    let api = Api::new(&s);
    pull_ok(&api, "fsck/old-kms", &img, "v1");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = api.get("/metrics").text().unwrap();
        let moved = text
            .lines()
            .find_map(|l| l.strip_prefix("berth_sealing_blobs_moved_to_key_domains "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if moved == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not moved in 60 s:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = tools::run(
        Command::new(berth_bin())
            .envs(s.aws_env("us-east-1"))
            .args(["gc", "--endpoint", &s.url(), "--grace", "0s"]),
    );
    assert!(out.status.success());
    assert!(
        !blob_file(&s.data_dir, &img.layers[0].digest).exists(),
        "the AES256 copy no repository needs is freed"
    );
    pull_ok(&api, "fsck/old-kms", &img, "v1");
    s.stop();
    let (code, report, _) = fsck(&s.data_dir, &["--deep"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(kinds(&report), vec![], "{report:#}");
}
