//! The public host (issue 24): `<public host>/<alias>/<repository>` pushed
//! to after `aws ecr-public get-login-password | docker login`, and pulled
//! without any login by docker, skopeo and containerd through the Bearer
//! token flow; nothing private reachable there (every `/v2` route, from
//! the route table); the anonymous pull quota.

use crate::common::*;
use berth_testkit::tools;
use reqwest::blocking::Client;
use serde_json::Value;
use std::process::Command;

const PUBLIC_HOST: &str = "public.localhost";

/// A client of the public host (resolved to the server) and its base URL.
fn public_client(s: &berth_testkit::TestServer) -> (Client, String) {
    let client = Client::builder()
        .resolve(PUBLIC_HOST, s.addr)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    (client, format!("http://{PUBLIC_HOST}:{}", s.addr.port()))
}

fn anonymous_token(client: &Client, base: &str) -> String {
    let r = client.get(format!("{base}/token")).send().unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().unwrap();
    assert_eq!(body["token"], body["access_token"]);
    body["token"].as_str().unwrap().to_string()
}

/// The account's alias, its public repository `name` made by the aws CLI.
fn public_repository(s: &berth_testkit::TestServer, name: &str) -> String {
    let root = s.aws_env("us-east-1");
    let create = [
        "ecr-public",
        "create-repository",
        "--repository-name",
        name,
        "--catalog-data",
        "description=A public test image,architectures=x86-64",
    ];
    let created = json_of(&create, aws_with(&root, &create));
    let uri = created["repository"]["repositoryUri"].as_str().unwrap();
    let alias = uri.split('/').nth(1).unwrap().to_string();
    assert_eq!(
        uri,
        format!("{PUBLIC_HOST}:{}/{alias}/{name}", s.addr.port())
    );
    alias
}

/// `aws ecr-public get-login-password`, as the default account's admin.
fn public_password(s: &berth_testkit::TestServer) -> String {
    let out = aws_with(
        &s.aws_env("us-east-1"),
        &["ecr-public", "get-login-password", "--region", "us-east-1"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn docker_publishes_and_docker_skopeo_and_containerd_pull_without_logging_in() {
    if !tools::require("aws")
        || !tools::require("docker")
        || !tools::require("skopeo")
        || !tools::require("containerd")
        || !tools::require("ctr")
        || !tools::resolve_to_loopback(PUBLIC_HOST)
    {
        return;
    }
    let s = start();
    let alias = public_repository(&s, "app");
    let password = public_password(&s);
    let registry = format!("{PUBLIC_HOST}:{}", s.addr.port());
    let reference = format!("{registry}/{alias}/app:v1");

    // Publish with docker after logging in to the public host.
    let logged_in = s.scratch().join("docker-logged-in");
    docker_login(&logged_in, &registry, password.as_bytes());
    let rootfs = s.scratch().join("rootfs.tar");
    std::fs::write(&rootfs, image::rootfs_tar(2401, 3, 200_000)).unwrap();
    let docker = |config: &std::path::Path, args: &[&str]| {
        Command::new("docker")
            .env("DOCKER_CONFIG", config)
            .args(args)
            .output()
            .unwrap()
    };
    let cleanup = DockerImage(reference.clone());
    let imported = docker(
        &logged_in,
        &["import", rootfs.to_str().unwrap(), &reference],
    );
    assert!(imported.status.success(), "{imported:?}");
    let id = String::from_utf8(imported.stdout)
        .unwrap()
        .trim()
        .to_string();
    let pushed = docker(&logged_in, &["push", &reference]);
    assert!(
        pushed.status.success(),
        "docker push: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let logout = docker(&logged_in, &["logout", &registry]);
    assert!(logout.status.success());

    // Anonymous: no credentials anywhere, a push is refused...
    let anonymous = s.scratch().join("docker-anonymous");
    std::fs::create_dir_all(&anonymous).unwrap();
    let refused = docker(&anonymous, &["push", &reference]);
    assert!(!refused.status.success(), "an anonymous docker push landed");
    // ...and the pull works.
    assert!(docker(&anonymous, &["rmi", "-f", &reference])
        .status
        .success());
    let pulled = docker(&anonymous, &["pull", &reference]);
    assert!(
        pulled.status.success(),
        "anonymous docker pull: {}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let inspect = docker(
        &anonymous,
        &["image", "inspect", "--format", "{{.Id}}", &reference],
    );
    assert_eq!(String::from_utf8(inspect.stdout).unwrap().trim(), id);
    drop(cleanup);

    // skopeo, without --creds and with an empty auth file.
    let auth = s.scratch().join("skopeo-auth.json");
    std::fs::write(&auth, "{}").unwrap();
    let copied = Command::new("skopeo")
        .env("REGISTRY_AUTH_FILE", &auth)
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .arg(format!("dir:{}", s.scratch().join("skopeo-copy").display()))
        .output()
        .unwrap();
    assert!(
        copied.status.success(),
        "anonymous skopeo copy: {}",
        String::from_utf8_lossy(&copied.stderr)
    );

    // containerd, without --user.
    let dir = tempfile::tempdir().unwrap();
    let containerd = Containerd::start(dir.path());
    containerd.pull(&reference, None);

    // The pulls were counted as anonymous ones.
    assert!(metric(&s, "berth_public_pulls_total{auth=\"anonymous\"}") >= 3);
}

/// Every `/v2` route (from the route table) on the public host, for a
/// private repository's name with and without the alias before it, refuses
/// an anonymous caller and a logged-in one without revealing anything; the
/// private hosts refuse the anonymous token; the public repository itself
/// is readable, not writable, anonymously.
#[test]
fn nothing_private_is_reachable_through_the_public_host() {
    let s = start();
    let alias = public_repository(&s, "pub/app");
    let img = image::oci_image(2402, 1, 2, 300);
    Api::new(&s).push_image("secret/app", &img, "v1");
    let (client, base) = public_client(&s);
    let anon = anonymous_token(&client, &base);
    let password = s.password().to_string();

    let private = berth_oci::RepositoryName::parse("secret/app").unwrap();
    let aliased = berth_oci::RepositoryName::parse(&format!("{alias}/secret/app")).unwrap();
    let mut checked = 0;
    for name in [&private, &aliased] {
        for (method, path, _) in berth_server::v2_access::protected_requests(name) {
            for bearer in [&anon, &password] {
                let r = client
                    .request(method.parse().unwrap(), format!("{base}{path}"))
                    .bearer_auth(bearer)
                    .send()
                    .unwrap();
                let status = r.status().as_u16();
                let body = r.text().unwrap_or_default();
                // Referrers of an unknown repository are an empty index,
                // as on the account hosts.
                let empty_referrers = path.contains("/referrers/")
                    && status == 200
                    && body.contains("\"manifests\":[]");
                assert!(
                    matches!(status, 400 | 401 | 403 | 404) || empty_referrers,
                    "{method} {path}: {status} {body}"
                );
                assert!(
                    !body.contains(&img.config_digest) && !body.contains("\"tags\""),
                    "{method} {path}: {body}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "{checked}");
    // The catalog of the public host is none.
    let r = client
        .get(format!("{base}/v2/_catalog"))
        .bearer_auth(&password)
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);

    // Without a token: the Bearer challenge, naming the token endpoint.
    let r = client
        .get(format!("{base}/v2/{alias}/pub/app/manifests/v1"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = header(&r, "www-authenticate");
    assert_eq!(
        challenge,
        format!(
            "Bearer realm=\"{base}/token\",service=\"{PUBLIC_HOST}:{}\",scope=\"repository:{alias}/pub/app:pull\"",
            s.addr.port()
        )
    );

    // What the Host header holds besides the name and a port is never
    // echoed into where clients send credentials.
    let r = client
        .get(format!("{base}/v2/"))
        .header(
            "host",
            format!("{PUBLIC_HOST}:{}@evil.example", s.addr.port()),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = header(&r, "www-authenticate");
    assert!(!challenge.contains("evil"), "{challenge}");

    // The anonymous token opens nothing on the account hosts.
    let private_client = s.raw_client();
    for (method, path, _) in berth_server::v2_access::protected_requests(&private) {
        let r = private_client
            .request(method.parse().unwrap(), s.url() + &path)
            .bearer_auth(&anon)
            .send()
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path}");
    }
    // Nor on another account's host name.
    let other = Client::builder()
        .resolve("111111111111.dkr.ecr.us-east-1.localhost", s.addr)
        .build()
        .unwrap();
    let r = other
        .get(format!(
            "http://111111111111.dkr.ecr.us-east-1.localhost:{}/v2/secret/app/manifests/v1",
            s.addr.port()
        ))
        .bearer_auth(&anon)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // /token is the public host's only.
    assert_eq!(
        private_client
            .get(s.url() + "/token")
            .send()
            .unwrap()
            .status(),
        404
    );

    // The public repository: pushed with the login password, read
    // anonymously, not written anonymously.
    let publisher = public_publisher(&s, &password);
    let public = format!("{alias}/pub/app");
    publisher.push_image(&public, &img, "v1");

    // Another account's user reads it (it is public) but changes nothing:
    // every write route, from the route table, refused before anything.
    let other = account_with_key(&s, "111111111111");
    let other_password =
        berth_testkit::ecr::login_password(&s.raw_client(), &s.url(), (&other.0, &other.1));
    let public_name = berth_oci::RepositoryName::parse(&public).unwrap();
    let mut writes = 0;
    for (method, path, action) in berth_server::v2_access::protected_requests(&public_name) {
        let (_, read) = berth_server::v2_access::public_action(action).unwrap();
        let r = client
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .bearer_auth(&other_password)
            .send()
            .unwrap();
        if read {
            assert!(
                matches!(r.status().as_u16(), 200 | 404),
                "{method} {path}: {}",
                r.status()
            );
        } else {
            assert_eq!(r.status(), 403, "{method} {path}: another account wrote");
            writes += 1;
        }
    }
    assert!(writes >= 6, "{writes}");
    let r = client
        .get(format!("{base}/v2/{public}/tags/list"))
        .bearer_auth(&anon)
        .send()
        .unwrap();
    let tags: Value = r.json().unwrap();
    assert_eq!(
        tags["tags"],
        serde_json::json!(["v1"]),
        "nothing of B's landed"
    );
    let r = client
        .get(format!("{base}/v2/{public}/tags/list"))
        .bearer_auth(&anon)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let tags: Value = r.json().unwrap();
    assert_eq!(tags["name"], public.as_str());
    assert_eq!(tags["tags"], serde_json::json!(["v1"]));
    let r = client
        .get(format!("{base}/v2/{public}/manifests/v1"))
        .bearer_auth(&anon)
        .header("accept", image::OCI_MANIFEST)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().unwrap(), img.manifest);
    let r = client
        .post(format!("{base}/v2/{public}/blobs/uploads/"))
        .bearer_auth(&anon)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "an anonymous upload started");
    let r = client
        .delete(format!("{base}/v2/{public}/manifests/v1"))
        .bearer_auth(&anon)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "an anonymous delete");
    // The public image is not in any private registry.
    let r = s
        .client()
        .get(s.url() + "/v2/pub/app/manifests/v1")
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Past the anonymous quota: 429 TOOMANYREQUESTS with Retry-After, counted
/// in /metrics; after waiting that long, pulls work again. Authenticated
/// pulls have their own quota.
#[test]
fn anonymous_pulls_past_the_quota_get_429_with_retry_after_and_recover() {
    let s = start_with(&[
        "--public-anonymous-pull-rate",
        "1",
        "--public-anonymous-pull-burst",
        "3",
    ]);
    let alias = public_repository(&s, "quota/app");
    let (client, base) = public_client(&s);
    let password = public_password(&s);
    let img = image::oci_image(2403, 1, 1, 100);
    let publisher = public_publisher(&s, &password);
    let repo = format!("{alias}/quota/app");
    publisher.push_image(&repo, &img, "v1");
    let anon = anonymous_token(&client, &base);
    let pull = |bearer: &str| {
        client
            .get(format!("{base}/v2/{repo}/manifests/v1"))
            .bearer_auth(bearer)
            .header("accept", image::OCI_MANIFEST)
            .send()
            .unwrap()
    };
    for i in 0..3 {
        assert_eq!(pull(&anon).status(), 200, "pull {i} of the burst");
    }
    let r = pull(&anon);
    assert_eq!(r.status(), 429);
    let retry: u64 = header(&r, "retry-after").parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(error_code(r), "TOOMANYREQUESTS");
    // Blobs and HEADs are not pulls.
    let layer = &img.layers[0].digest;
    let r = client
        .get(format!("{base}/v2/{repo}/blobs/{layer}"))
        .bearer_auth(&anon)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // Authenticated pulls are counted apart.
    assert_eq!(pull(&password).status(), 200);
    std::thread::sleep(std::time::Duration::from_secs(retry));
    assert_eq!(pull(&anon).status(), 200, "recovered after Retry-After");
    assert_eq!(
        metric(&s, "berth_public_throttled_total{auth=\"anonymous\"}"),
        1
    );
    assert_eq!(
        metric(&s, "berth_public_pulls_total{auth=\"anonymous\"}"),
        4
    );
}

/// Behind a trusted load balancer the anonymous quota is per client (the
/// address `X-Forwarded-For` names), not per balancer; from anyone else the
/// header is ignored.
#[test]
fn behind_a_trusted_proxy_the_anonymous_quota_is_per_forwarded_client() {
    let s = start_with(&[
        "--trusted-proxy",
        "127.0.0.1",
        "--public-anonymous-pull-rate",
        "0.01",
        "--public-anonymous-pull-burst",
        "1",
    ]);
    let alias = public_repository(&s, "lb/app");
    let img = image::oci_image(2404, 1, 1, 100);
    public_publisher(&s, s.password()).push_image(&format!("{alias}/lb/app"), &img, "v1");
    let (client, base) = public_client(&s);
    let anon = anonymous_token(&client, &base);
    let pull = |forwarded: &str| {
        client
            .get(format!("{base}/v2/{alias}/lb/app/manifests/v1"))
            .bearer_auth(&anon)
            .header("accept", image::OCI_MANIFEST)
            .header("x-forwarded-for", forwarded)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(pull("198.51.100.1"), 200);
    assert_eq!(pull("198.51.100.1"), 429);
    assert_eq!(
        pull("198.51.100.2"),
        200,
        "another client behind the balancer"
    );
    // A client's own claim before the balancer's is not believed.
    assert_eq!(pull("198.51.100.3, 198.51.100.1"), 429);
}
