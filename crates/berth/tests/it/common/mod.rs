//! The one fixture every end-to-end test starts berth through. When
//! authentication lands, the login step goes here.
#![allow(dead_code)]

#[allow(unused_imports)]
pub use berth_testkit::{image, s3_var, tools, TestServer};

/// The berth binary under test: this build's, or `BERTH_TEST_BIN` (to run
/// a suite against another build, e.g. to show that a regression test
/// fails on the code before a fix).
pub fn berth_bin() -> String {
    std::env::var("BERTH_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_berth").to_string())
}

/// A berth on a free port with a fresh data dir.
pub fn start() -> TestServer {
    TestServer::start(berth_bin())
}

pub fn start_with(args: &[&str]) -> TestServer {
    TestServer::start_with(berth_bin(), args)
}

pub mod raw;

use reqwest::blocking::{Client, Response};

/// Raw distribution-API calls for protocol tests.
pub struct Api {
    pub client: Client,
    pub base: String,
}

impl Api {
    pub fn new(server: &TestServer) -> Api {
        Api {
            client: server.client(),
            base: server.url(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().unwrap()
    }

    pub fn head(&self, path: &str) -> Response {
        self.client.head(self.url(path)).send().unwrap()
    }

    /// Monolithic upload; returns the digest.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = image::sha256(bytes);
        let r = self
            .client
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")))
            .body(bytes.to_vec())
            .send()
            .unwrap();
        assert_eq!(
            r.status(),
            201,
            "pushing blob to {repo}: {}",
            r.text().unwrap()
        );
        digest
    }

    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Response {
        self.client
            .put(self.url(&format!("/v2/{repo}/manifests/{reference}")))
            .header("content-type", media_type)
            .body(body.to_vec())
            .send()
            .unwrap()
    }

    /// Pushes every blob of `img` and its manifest under `tag`.
    pub fn push_image(&self, repo: &str, img: &image::Image, tag: &str) {
        for l in &img.layers {
            self.push_blob(repo, &l.bytes);
        }
        self.push_blob(repo, &img.config);
        let r = self.put_manifest(repo, tag, image::OCI_MANIFEST, &img.manifest);
        assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    }
}

/// The first OCI error code of an error response (and the response's message, for failures).
pub fn error_code(r: Response) -> String {
    let body: serde_json::Value = r.json().expect("error body is JSON");
    let err = &body["errors"][0];
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "errors carry a message: {body}"
    );
    err["code"]
        .as_str()
        .expect("errors carry a code")
        .to_string()
}

pub fn header(r: &Response, name: &str) -> String {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("response has no {name} header: {:?}", r.headers()))
        .to_str()
        .unwrap()
        .to_string()
}

/// The environment the `aws` CLI signs with for key (`id`, `secret`), in
/// us-east-1 against `s`.
pub fn env_for(s: &TestServer, (id, secret): (&str, &str)) -> Vec<(&'static str, String)> {
    let mut env = s.aws_env("us-east-1");
    for (k, v) in env.iter_mut() {
        match *k {
            "AWS_ACCESS_KEY_ID" => *v = id.to_string(),
            "AWS_SECRET_ACCESS_KEY" => *v = secret.to_string(),
            _ => {}
        }
    }
    env
}

/// Runs the `aws` CLI with `env`.
pub fn aws_with(env: &[(&'static str, String)], args: &[&str]) -> std::process::Output {
    std::process::Command::new("aws")
        .args(args)
        .envs(env.iter().cloned())
        .output()
        .expect("running aws")
}

/// An `aws` run that must have succeeded: its JSON output (`null` when empty).
pub fn json_of(args: &[&str], out: std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "aws {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "aws {args:?}: output is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs a Python script (boto3 and friends) with the admin's AWS
/// environment; it must succeed and print one JSON value.
pub fn python_json(s: &TestServer, script: &str, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .envs(s.aws_env("us-east-1"))
        .output()
        .expect("running python3");
    assert!(
        out.status.success(),
        "the python script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

/// Runs `berth <args>` (an admin or gc command against a server) with
/// `env`; it must succeed. Its stdout.
pub fn berth_cli(env: &[(&'static str, String)], args: &[&str]) -> String {
    let out = std::process::Command::new(berth_bin())
        .envs(env.iter().cloned())
        .args(args)
        .output()
        .expect("running berth");
    assert!(
        out.status.success(),
        "berth {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("berth prints UTF-8")
}

/// Calls the admin API as the default account's admin; it must succeed.
pub fn admin_ok(
    s: &TestServer,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let (status, out) = s.admin(method, path, body);
    assert!(status < 300, "{method} {path}: {status} {out}");
    out
}

fn key_of(created: &serde_json::Value) -> (String, String) {
    (
        created["accessKey"]["accessKeyId"]
            .as_str()
            .unwrap()
            .to_string(),
        created["accessKey"]["secretAccessKey"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// A user of the default account with an access key and no policy.
pub fn user_with_key(s: &TestServer, name: &str) -> (String, String) {
    admin_ok(
        s,
        "POST",
        "/berth/admin/accounts/000000000000/users",
        Some(serde_json::json!({ "userName": name })),
    );
    key_of(&admin_ok(
        s,
        "POST",
        &format!("/berth/admin/accounts/000000000000/users/{name}/access-keys"),
        None,
    ))
}

/// Account `id`, created with its admin user (AdministratorAccess in that
/// account) and a key for it.
pub fn account_with_key(s: &TestServer, id: &str) -> (String, String) {
    key_of(&admin_ok(
        s,
        "POST",
        "/berth/admin/accounts",
        Some(serde_json::json!({"accountId": id, "createAccessKey": true})),
    ))
}

/// Distribution-API calls as the holder of `key`, logged in as
/// `aws ecr get-login-password | docker login` would be.
pub fn api_as(s: &TestServer, (id, secret): (&str, &str)) -> Api {
    use base64::Engine;
    let password = berth_testkit::ecr::login_password(&s.raw_client(), &s.url(), (id, secret));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Basic {basic}").parse().unwrap(),
    );
    Api {
        client: Client::builder()
            .default_headers(headers)
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .unwrap(),
        base: s.url(),
    }
}

/// Calls the IAM Query API (`Action` and its members) as the default
/// account's admin: the status and the XML answer.
pub fn iam_call(s: &TestServer, params: &[(&str, &str)]) -> (u16, String) {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Version", "2010-05-08");
    for (k, v) in params {
        form.append_pair(k, v);
    }
    let body = form.finish();
    let headers = raw::signed_headers(
        &s.host(),
        "POST",
        "/",
        &[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        body.as_bytes(),
        (
            berth_testkit::ROOT_ACCESS_KEY_ID,
            berth_testkit::ROOT_SECRET_ACCESS_KEY,
        ),
        "iam",
    );
    let mut rb = s.raw_client().post(format!("{}/", s.url())).body(body);
    for (k, v) in &headers {
        if k != "host" {
            rb = rb.header(k.as_str(), v.as_str());
        }
    }
    let r = rb.send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// Replaces `user`'s inline policy `p` with `doc`.
pub fn set_user_policy(s: &TestServer, user: &str, doc: &serde_json::Value) {
    let (status, out) = iam_call(
        s,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", user),
            ("PolicyName", "p"),
            ("PolicyDocument", &doc.to_string()),
        ],
    );
    assert_eq!(status, 200, "{out}");
}

/// A berth with its metadata in PostgreSQL (`db_url`) and its blobs at
/// `blobs` (an `s3://` URL) in the run's S3 server, reached at `endpoint`
/// (the server's, or a proxy's in front of it), with `extra` arguments;
/// the S3 credentials go in its environment, never on its command line.
pub fn start_on_shared_stores(
    db_url: &str,
    blobs: &str,
    endpoint: &str,
    extra: &[&str],
) -> TestServer {
    let (id, secret) = (
        s3_var("BERTH_TEST_S3_ACCESS_KEY_ID"),
        s3_var("BERTH_TEST_S3_SECRET_ACCESS_KEY"),
    );
    let mut args = vec![
        "--metadata",
        db_url,
        "--blobs",
        blobs,
        "--s3-endpoint",
        endpoint,
    ];
    args.extend_from_slice(extra);
    TestServer::start_with_env(
        berth_bin(),
        &args,
        &[
            ("BERTH_S3_ACCESS_KEY_ID", &id),
            ("BERTH_S3_SECRET_ACCESS_KEY", &secret),
        ],
    )
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A new KMS key of the default account (us-east-1) and a repository
/// `name` under it, made as the account's admin: the key's (id, ARN).
pub fn kms_repository(s: &TestServer, name: &str) -> (String, String) {
    let key = s
        .kms("us-east-1", "CreateKey", serde_json::json!({}))
        .unwrap();
    let (id, arn) = (
        key["KeyMetadata"]["KeyId"].as_str().unwrap().to_string(),
        key["KeyMetadata"]["Arn"].as_str().unwrap().to_string(),
    );
    s.ecr(
        "us-east-1",
        "CreateRepository",
        serde_json::json!({"repositoryName": name,
            "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": arn}}),
    )
    .unwrap();
    (id, arn)
}

/// Where the blob store rooted at `root` keeps key `arn`'s domain's copy of
/// blob `digest` (`kms/<account>.<region>.<key id>/blobs/...`).
pub fn domain_blob_file(root: &std::path::Path, arn: &str, digest: &str) -> std::path::PathBuf {
    let (account, id) = (
        arn.split(':').nth(4).unwrap(),
        arn.rsplit('/').next().unwrap(),
    );
    let hex = digest.trim_start_matches("sha256:");
    root.join("kms")
        .join(format!("{account}.us-east-1.{id}"))
        .join("blobs/sha256")
        .join(&hex[..2])
        .join(hex)
}

/// `docker login --password-stdin` to `registry` with a docker config
/// directory of the test's own (`config`), as `aws ecr
/// get-login-password | docker login --username AWS` does; it must succeed.
pub fn docker_login(config: &std::path::Path, registry: &str, password: &[u8]) {
    use std::io::Write as _;
    std::fs::create_dir_all(config).unwrap();
    let mut login = std::process::Command::new("docker")
        .env("DOCKER_CONFIG", config)
        .args(["login", "--username", "AWS", "--password-stdin", registry])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    login.stdin.take().unwrap().write_all(password).unwrap();
    let out = login.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker login {registry}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A client of the registry `account`/`region` by its host name (no DNS
/// needed: resolved to the server), signed in as `key`.
pub fn account_registry(
    s: &TestServer,
    account: &str,
    region: &str,
    key: (&str, &str),
) -> (reqwest::blocking::Client, String) {
    use base64::Engine as _;
    let host = format!("{account}.dkr.ecr.{region}.localhost");
    let password = berth_testkit::ecr::login_password(&s.raw_client(), &s.url(), key);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Basic {basic}").parse().unwrap(),
    );
    let client = reqwest::blocking::Client::builder()
        .default_headers(headers)
        .resolve(&host, s.addr)
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    (client, format!("http://{host}:{}", s.addr.port()))
}

/// The number in `/metrics` line `name value`.
pub fn metric(s: &TestServer, name: &str) -> u64 {
    let text = s
        .client()
        .get(s.url() + "/metrics")
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

/// A containerd of the test's own (root, state and socket in a temporary
/// directory), stopped when dropped.
pub struct Containerd {
    child: std::process::Child,
    socket: std::path::PathBuf,
}

impl Containerd {
    pub fn start(dir: &std::path::Path) -> Containerd {
        let socket = dir.join("containerd.sock");
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n[grpc]\n  address = \"{sock}\"\n",
                root = dir.join("root").display(),
                state = dir.join("state").display(),
                sock = socket.display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdout(std::fs::File::create(dir.join("containerd.log")).unwrap())
            .stderr(std::fs::File::create(dir.join("containerd.err")).unwrap())
            .spawn()
            .expect("starting containerd");
        let c = Containerd { child, socket };
        for _ in 0..100 {
            if c.ctr(&["version"]).status.success() {
                return c;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "containerd did not start: {}",
            std::fs::read_to_string(dir.join("containerd.err")).unwrap_or_default()
        );
    }

    /// `ctr images pull` over plain HTTP into the native snapshotter, as
    /// `user` (`AWS:<password>`) or anonymously; it must succeed.
    pub fn pull(&self, reference: &str, user: Option<&str>) {
        let mut args = vec!["images", "pull", "--plain-http", "--snapshotter", "native"];
        if let Some(user) = user {
            args.extend(["--user", user]);
        }
        args.push(reference);
        let pull = self.ctr(&args);
        assert!(
            pull.status.success(),
            "ctr pull {reference}: {}{}",
            String::from_utf8_lossy(&pull.stdout),
            String::from_utf8_lossy(&pull.stderr)
        );
        let images = self.ctr(&["images", "ls", "-q"]);
        assert!(String::from_utf8_lossy(&images.stdout).contains(reference));
    }

    pub fn ctr(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("ctr")
            .arg("--address")
            .arg(&self.socket)
            .args(["--namespace", "k8s.io"])
            .args(args)
            .output()
            .expect("running ctr")
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes a test image from the shared Docker daemon however the test ends.
pub struct DockerImage(pub String);
impl Drop for DockerImage {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", &self.0])
            .output();
    }
}

/// The distribution API of the public host, with `password` as the
/// bearer token (as `/token` hands it out for `docker login`'s credentials).
pub fn public_publisher(s: &TestServer, password: &str) -> Api {
    let base = format!("http://public.localhost:{}", s.addr.port());
    Api {
        client: reqwest::blocking::Client::builder()
            .resolve("public.localhost", s.addr)
            .default_headers(
                [(
                    reqwest::header::AUTHORIZATION,
                    format!("Bearer {password}").parse().unwrap(),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .unwrap(),
        base,
    }
}
