//! The one fixture every end-to-end test starts berth through. When
//! authentication lands, the login step goes here.
#![allow(dead_code)]

#[allow(unused_imports)]
pub use berth_testkit::{image, tools, TestServer};

pub fn berth_bin() -> &'static str {
    env!("CARGO_BIN_EXE_berth")
}

/// A berth on a free port with a fresh data dir.
pub fn start() -> TestServer {
    TestServer::start(berth_bin())
}

pub fn start_with(args: &[&str]) -> TestServer {
    TestServer::start_with(berth_bin(), args)
}

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
