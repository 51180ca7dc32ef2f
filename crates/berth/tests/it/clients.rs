//! Real clients against a real berth: skopeo, podman and the Docker Engine
//! push and pull, and what comes back is byte-identical to what went in.
//! Under `CI=true` a missing client fails the test.

use crate::common::*;
use std::path::Path;
use std::process::Command;

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Pulls `reference` with skopeo into a `dir:` layout and checks that the
/// manifest, config and every layer are exactly `img`'s bytes.
pub(crate) fn assert_skopeo_pull_identical(s: &TestServer, reference: &str, img: &image::Image) {
    let out = s.scratch().join(tools::unique("pulled"));
    tools::run(
        s.command("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{}/{reference}", s.host()))
            .arg(format!("dir:{}", out.display())),
    );
    assert_eq!(
        read(&out.join("manifest.json")),
        img.manifest,
        "manifest bytes"
    );
    let blob = |d: &str| read(&out.join(d.trim_start_matches("sha256:")));
    assert_eq!(blob(&img.config_digest), img.config, "config bytes");
    for l in &img.layers {
        assert_eq!(blob(&l.digest), l.bytes, "layer {} bytes", l.digest);
    }
}

#[test]
fn skopeo_pushes_and_pulls_a_multi_layer_image_byte_for_byte() {
    if !tools::require("skopeo") {
        return;
    }
    let mut s = start();
    let img = image::oci_image(21, 5, 3, 200_000);
    let layout = s.scratch().join("layout");
    image::write_oci_layout(&layout, &img, "v1");
    tools::run(
        s.command("skopeo")
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:v1", layout.display()))
            .arg(format!("docker://{}/skopeo/app:v1", s.host())),
    );

    let raw = tools::run(
        s.command("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}/skopeo/app:v1", s.host())),
    );
    assert_eq!(
        raw.stdout, img.manifest,
        "the registry serves the manifest byte for byte"
    );
    assert_skopeo_pull_identical(&s, "skopeo/app:v1", &img);
    assert_skopeo_pull_identical(&s, &format!("skopeo/app@{}", img.manifest_digest), &img);

    // Copy registry-to-registry within berth (cross-repository, blobs mounted or re-pushed).
    tools::run(
        s.command("skopeo")
            .args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
            .arg(format!("docker://{}/skopeo/app:v1", s.host()))
            .arg(format!("docker://{}/skopeo/copy:v1", s.host())),
    );
    assert_skopeo_pull_identical(&s, "skopeo/copy:v1", &img);

    // And all of it is still there after a restart.
    s.restart();
    assert_skopeo_pull_identical(&s, "skopeo/app:v1", &img);
    let tags = tools::run(
        s.command("skopeo")
            .args(["list-tags", "--tls-verify=false"])
            .arg(format!("docker://{}/skopeo/app", s.host())),
    );
    let tags: serde_json::Value = serde_json::from_slice(&tags.stdout).unwrap();
    assert_eq!(tags["Tags"], serde_json::json!(["v1"]));
}

/// podman or buildah on a private vfs store under `root` (no daemon, no overlay).
fn containers_tool(s: &TestServer, tool: &str, root: &Path) -> Command {
    let mut c = s.command(tool);
    c.arg("--root")
        .arg(root.join("root"))
        .arg("--runroot")
        .arg(root.join("run"))
        .args(["--storage-driver", "vfs"]);
    c
}

fn podman(s: &TestServer, root: &Path) -> Command {
    let mut c = containers_tool(s, "podman", root);
    c.args(["--cgroup-manager", "cgroupfs", "--events-backend", "none"]);
    c
}

#[test]
fn podman_pushes_and_pulls() {
    if !tools::require("podman") {
        return;
    }
    let s = start();
    let img = image::oci_image(31, 3, 2, 100_000);
    // podman names an image pulled from a layout after its path, which must be lowercase.
    let layout_dir = tempfile::Builder::new()
        .prefix("berth-podman")
        .rand_bytes(0)
        .suffix(&tools::unique(""))
        .tempdir()
        .unwrap();
    let layout = layout_dir.path().join("layout");
    image::write_oci_layout(&layout, &img, "v1");
    let (store_a, store_b) = (s.scratch().join("podman-a"), s.scratch().join("podman-b"));
    let target = format!("{}/podman/app:v1", s.host());
    tools::run(
        podman(&s, &store_a)
            .args(["pull", "-q"])
            .arg(format!("oci:{}:v1", layout.display())),
    );
    let id = String::from_utf8(
        tools::run(podman(&s, &store_a).args(["images", "-q", "--no-trunc"])).stdout,
    )
    .unwrap();
    tools::run(
        podman(&s, &store_a)
            .args(["push", "--tls-verify=false"])
            .arg(id.trim())
            .arg(&target),
    );

    // A second, empty store pulls it back; the image id is the config digest, so equal ids mean an equal config.
    tools::run(
        podman(&s, &store_b)
            .args(["pull", "--tls-verify=false"])
            .arg(&target),
    );
    let inspect = tools::run(
        podman(&s, &store_b)
            .args([
                "image",
                "inspect",
                "--format",
                "{{.Id}} {{len .RootFS.Layers}}",
            ])
            .arg(&target),
    );
    let text = String::from_utf8(inspect.stdout).unwrap();
    let mut parts = text.split_whitespace();
    assert_eq!(
        parts.next(),
        Some(img.config_digest.trim_start_matches("sha256:"))
    );
    assert_eq!(parts.next(), Some("3"));
}

#[test]
fn docker_pushes_and_pulls_an_imported_image() {
    if !tools::require("docker") {
        return;
    }
    let s = start();
    let rootfs = s.scratch().join("rootfs.tar");
    std::fs::write(&rootfs, image::rootfs_tar(41, 4, 500_000)).unwrap();
    let name = format!("{}/docker/{}:v1", s.host(), tools::unique("imported"));
    let imported = tools::run(s.command("docker").arg("import").arg(&rootfs).arg(&name));
    let id = String::from_utf8(imported.stdout)
        .unwrap()
        .trim()
        .to_string();
    let cleanup = DockerImage(name.clone());
    tools::run(s.command("docker").args(["push", &name]));

    // Remove it locally, pull it back, and compare identity and content.
    tools::run(s.command("docker").args(["rmi", "-f", &name]));
    let pulled = tools::run(s.command("docker").args(["pull", &name]));
    let pulled = String::from_utf8_lossy(&pulled.stdout).to_string();
    let inspect = tools::run(
        s.command("docker")
            .args(["image", "inspect", "--format", "{{.Id}}", &name]),
    );
    assert_eq!(
        String::from_utf8(inspect.stdout).unwrap().trim(),
        id,
        "same image id after the round trip"
    );

    // The registry's manifest is the one docker reported, and its layer is readable.
    let api = Api::new(&s);
    let repo = name
        .trim_start_matches(&format!("{}/", s.host()))
        .trim_end_matches(":v1")
        .to_string();
    let r = api
        .client
        .get(api.url(&format!("/v2/{repo}/manifests/v1")))
        .header(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let digest = header(&r, "docker-content-digest");
    assert!(pulled.contains(&digest), "docker pulled {digest}: {pulled}");
    let manifest: serde_json::Value = r.json().unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let bytes = api
        .get(&format!("/v2/{repo}/blobs/{layer}"))
        .bytes()
        .unwrap();
    assert_eq!(image::sha256(&bytes), layer);
    drop(cleanup);
}

#[test]
fn buildah_builds_pushes_and_pulls() {
    if !tools::require("buildah") {
        return;
    }
    let s = start();
    let root = s.scratch().join("buildah");
    let buildah = || containers_tool(&s, "buildah", &root);
    let file = s.scratch().join("payload.bin");
    std::fs::write(&file, image::random_bytes(51, 300_000)).unwrap();
    let ctr = String::from_utf8(tools::run(buildah().args(["from", "scratch"])).stdout).unwrap();
    let ctr = ctr.trim();
    tools::run(buildah().args(["copy", ctr]).arg(&file).arg("/payload.bin"));
    let id =
        String::from_utf8(tools::run(buildah().args(["commit", "-q", ctr, "built:v1"])).stdout)
            .unwrap();
    let target = format!("docker://{}/buildah/built:v1", s.host());
    tools::run(buildah().args(["push", "--tls-verify=false", "built:v1", &target]));
    tools::run(buildah().args(["rmi", "-a", "-f"]));
    tools::run(
        buildah()
            .args(["pull", "--tls-verify=false"])
            .arg(format!("{}/buildah/built:v1", s.host())),
    );
    let images = String::from_utf8(
        tools::run(buildah().args(["images", "--no-trunc", "--format", "{{.ID}}"])).stdout,
    )
    .unwrap();
    assert_eq!(
        images.trim().trim_start_matches("sha256:"),
        id.trim().trim_start_matches("sha256:"),
        "same image id after the round trip"
    );
}

/// The quickstart as a user runs it: the `repositoryUri` that
/// CreateRepository answers works with docker as it is (no /etc/hosts
/// entry, no TLS), after `aws ecr get-login-password | docker login`.
#[test]
fn docker_pushes_to_the_repository_uri_create_repository_returns() {
    if !tools::require("docker") || !tools::require("aws") {
        return;
    }
    let s = start();
    let name = tools::unique("quickstart");
    let created = json_of(
        &["ecr", "create-repository"],
        aws_with(
            &s.aws_env("us-east-1"),
            &[
                "ecr",
                "create-repository",
                "--repository-name",
                &format!("team/{name}"),
            ],
        ),
    );
    let uri = created["repository"]["repositoryUri"]
        .as_str()
        .unwrap()
        .to_string();
    let registry = uri.split('/').next().unwrap().to_string();
    // The address the CLI called, not an account host name that needs an
    // /etc/hosts entry (and TLS, since docker would not see it as loopback).
    assert_eq!(registry, s.host(), "{uri}");
    let password = aws_with(&s.aws_env("us-east-1"), &["ecr", "get-login-password"]);
    assert!(password.status.success());
    let config = s.scratch().join("docker-quickstart");
    docker_login(&config, &registry, &password.stdout);
    let docker = || {
        let mut c = Command::new("docker");
        c.env("DOCKER_CONFIG", &config);
        c
    };
    let rootfs = s.scratch().join("quickstart.tar");
    std::fs::write(&rootfs, image::rootfs_tar(43, 2, 10_000)).unwrap();
    let reference = format!("{uri}:v1");
    let _cleanup = DockerImage(reference.clone());
    tools::run(docker().arg("import").arg(&rootfs).arg(&reference));
    tools::run(docker().args(["push", &reference]));
    tools::run(docker().args(["rmi", "-f", &reference]));
    tools::run(docker().args(["pull", &reference]));
    let listed = json_of(
        &["ecr", "list-images"],
        aws_with(
            &s.aws_env("us-east-1"),
            &[
                "ecr",
                "list-images",
                "--repository-name",
                &format!("team/{name}"),
            ],
        ),
    );
    assert_eq!(listed["imageIds"][0]["imageTag"], "v1");
}
