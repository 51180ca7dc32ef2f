use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The admin key of the default account (000000000000) of every test
/// server: what the `aws` CLI and boto3 sign with in tests.
pub const ROOT_ACCESS_KEY_ID: &str = "AKIABERTHTESTROOT001";
pub const ROOT_SECRET_ACCESS_KEY: &str = "berthTestSecretKey/0123456789abcdefghijk";

/// A `BERTH_TEST_S3_*` setting of the S3 server scripts/test.sh starts
/// (SeaweedFS); the tests that need it fail without it.
pub fn s3_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: these tests need an S3 server (scripts/seaweedfs.sh)")
    })
}

/// Whether this run keeps test servers' blobs in the S3 server the run
/// started (`BERTH_TEST_BLOBS=s3`, with `BERTH_TEST_S3_*`).
pub fn s3_wanted() -> bool {
    match std::env::var("BERTH_TEST_BLOBS").as_deref() {
        Ok("s3") => true,
        Ok("") | Ok("file") | Err(_) => false,
        Ok(other) => panic!("BERTH_TEST_BLOBS is s3 or file, not '{other}'"),
    }
}

/// A berth process on loopback with its own data dir. Dropping it kills
/// the process; if the test is failing, its log is printed first.
pub struct TestServer {
    bin: PathBuf,
    child: Option<Child>,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    log: PathBuf,
    args: Vec<String>,
    scheme: &'static str,
    /// The `docker login` password of the default account's admin.
    password: Option<String>,
    /// The metadata database, when the run keeps metadata in PostgreSQL
    /// (`BERTH_TEST_METADATA=postgres`); dropped after the process is.
    database: Option<crate::postgres::Database>,
    /// Extra environment for the process (e.g. object store credentials).
    env: Vec<(String, String)>,
    _tmp: tempfile::TempDir,
}

impl TestServer {
    /// Starts `bin serve` on a free port with a fresh data dir.
    pub fn start(bin: impl AsRef<Path>) -> TestServer {
        Self::start_with(bin, &[])
    }

    /// As [`start`](Self::start), with extra `serve` arguments.
    pub fn start_with(bin: impl AsRef<Path>, args: &[&str]) -> TestServer {
        Self::start_in(bin, None, args)
    }

    /// As [`start_with`](Self::start_with), with the data dir at `data_dir`
    /// (e.g. on a small filesystem the test mounted) instead of a fresh one.
    pub fn start_in(bin: impl AsRef<Path>, data_dir: Option<&Path>, args: &[&str]) -> TestServer {
        Self::start_full(bin, data_dir, args, &[])
    }

    /// As [`start_with`](Self::start_with), with extra environment
    /// variables for the process (secrets that never go on a command line).
    pub fn start_with_env(
        bin: impl AsRef<Path>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> TestServer {
        Self::start_full(bin, None, args, env)
    }

    /// As [`start_in`](Self::start_in), with extra environment variables.
    pub fn start_in_with_env(
        bin: impl AsRef<Path>,
        data_dir: Option<&Path>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> TestServer {
        Self::start_full(bin, data_dir, args, env)
    }

    fn start_full(
        bin: impl AsRef<Path>,
        data_dir: Option<&Path>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> TestServer {
        let tmp = tempfile::tempdir().expect("temp dir");
        // A test that names its own metadata store keeps it.
        let database = (crate::postgres::wanted() && !args.contains(&"--metadata"))
            .then(crate::postgres::Database::create);
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        if let Some(db) = &database {
            args.extend(["--metadata".to_string(), db.url.clone()]);
        }
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // Likewise the blobs, in a prefix of the run's bucket per server.
        if s3_wanted() && !args.iter().any(|a| a == "--blobs") {
            let prefix = tmp
                .path()
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("it")
                .trim_start_matches('.')
                .to_string();
            args.extend([
                "--blobs".to_string(),
                format!("s3://{}/{prefix}", s3_var("BERTH_TEST_S3_BUCKET")),
                "--s3-endpoint".to_string(),
                s3_var("BERTH_TEST_S3_ENDPOINT"),
            ]);
            env.push((
                "BERTH_S3_ACCESS_KEY_ID".into(),
                s3_var("BERTH_TEST_S3_ACCESS_KEY_ID"),
            ));
            env.push((
                "BERTH_S3_SECRET_ACCESS_KEY".into(),
                s3_var("BERTH_TEST_S3_SECRET_ACCESS_KEY"),
            ));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let args = args.as_slice();
        let mut s = TestServer {
            bin: bin.as_ref().to_path_buf(),
            child: None,
            addr: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir
                .map(Path::to_path_buf)
                .unwrap_or_else(|| tmp.path().join("data")),
            log: tmp.path().join("berth.log"),
            // The suites push to many names; that a push to an unknown
            // repository is refused by default is tested on its own.
            args: if args.contains(&"--create-on-push") {
                args.iter().map(|a| a.to_string()).collect()
            } else {
                args.iter()
                    .map(|a| a.to_string())
                    .chain(["--create-on-push".to_string(), "true".to_string()])
                    .collect()
            },
            scheme: if args.contains(&"--tls-cert") {
                "https"
            } else {
                "http"
            },
            _tmp: tmp,
            password: None,
            database,
            env,
        };
        s.spawn();
        let password = crate::ecr::login_password(
            &s.raw_client(),
            &s.url(),
            (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY),
        );
        s.password = Some(password);
        s.write_auth_file();
        s
    }

    /// Where the container tools find this server's credentials: a
    /// `config.json` in the format both docker (`DOCKER_CONFIG`) and
    /// containers-image (`REGISTRY_AUTH_FILE`) read, as `docker login` writes it.
    fn auth_dir(&self) -> PathBuf {
        self._tmp.path().join("auth")
    }

    fn write_auth_file(&self) {
        use base64::Engine;
        let dir = self.auth_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode(self.creds());
        let config = serde_json::json!({ "auths": { self.host(): { "auth": auth } } });
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    }

    /// `program` (skopeo, podman, buildah, docker) logged in to this server.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("REGISTRY_AUTH_FILE", self.auth_dir().join("config.json"))
            .env("DOCKER_CONFIG", self.auth_dir());
        c
    }

    /// The `docker login` password (user `AWS`) of the default account's admin.
    pub fn password(&self) -> &str {
        self.password.as_deref().expect("logged in at start")
    }

    /// `AWS:<password>`, as skopeo's and podman's `--creds` take it.
    pub fn creds(&self) -> String {
        format!("AWS:{}", self.password())
    }

    /// Calls an ECR operation as the default account's admin.
    pub fn ecr(
        &self,
        region: &str,
        op: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, (u16, serde_json::Value)> {
        crate::ecr::call(
            &self.raw_client(),
            &self.url(),
            (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY),
            region,
            op,
            &input,
        )
    }

    /// Calls KMS operation `op` as the default account's admin.
    pub fn kms(
        &self,
        region: &str,
        op: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, (u16, serde_json::Value)> {
        crate::kms::call(
            &self.raw_client(),
            &self.url(),
            (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY),
            region,
            op,
            &input,
        )
    }

    /// Calls the admin API (`/berth/admin/...`) as the default account's
    /// admin: the status and the JSON body.
    pub fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        crate::admin::call(
            &self.raw_client(),
            &self.url(),
            (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY),
            method,
            path,
            body.as_ref(),
        )
    }

    /// A directory private to this server's test, removed with it.
    pub fn scratch(&self) -> &Path {
        self._tmp.path()
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve");
        // A test may name its own address (a fixed port such as 443).
        if !self.args.iter().any(|a| a == "--listen") {
            cmd.arg("--listen").arg(self.addr.to_string());
        }
        let child = cmd
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.args)
            .env("BERTH_LOG", "info,berth=debug")
            .env("BERTH_ROOT_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID)
            .env("BERTH_ROOT_SECRET_ACCESS_KEY", ROOT_SECRET_ACCESS_KEY)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.bin.display()));
        self.child = Some(child);
        let marker = format!("listening on {}://", self.scheme);
        let deadline = Instant::now() + Duration::from_secs(20);
        let starts_before = self.log().matches(&marker).count();
        loop {
            let log = self.log();
            if log.matches(&marker).count() > starts_before {
                let line = log.lines().rfind(|l| l.contains(&marker)).unwrap();
                let after = &line[line.find(&marker).unwrap() + marker.len()..];
                self.addr = after
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .parse()
                    .expect("address in log");
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("berth exited with {status} before listening:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "berth did not start within 20 s:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `http://127.0.0.1:PORT` (or https).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// `127.0.0.1:PORT`, as image references spell a registry.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "berth did not stop within 40 s of SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts berth again on the same address and data dir.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            let status = self.stop();
            assert!(
                status.success(),
                "berth exited with {status} on SIGTERM:\n{}",
                self.log()
            );
        }
        self.spawn();
    }

    /// Environment for the `aws` CLI and boto3 to call this server as the
    /// default account's admin, in `region`.
    pub fn aws_env(&self, region: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID.to_string()),
            ("AWS_SECRET_ACCESS_KEY", ROOT_SECRET_ACCESS_KEY.to_string()),
            ("AWS_DEFAULT_REGION", region.to_string()),
            ("AWS_ENDPOINT_URL", self.url()),
            ("AWS_CONFIG_FILE", "/dev/null".to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_string()),
            ("AWS_PAGER", String::new()),
        ]
    }

    /// A client logged in as the default account's admin (Basic
    /// `AWS:<token>` on every request), accepting a test certificate.
    pub fn client(&self) -> reqwest::blocking::Client {
        use base64::Engine;
        let mut headers = http::HeaderMap::new();
        let basic = base64::engine::general_purpose::STANDARD.encode(self.creds());
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&format!("Basic {basic}")).unwrap(),
        );
        reqwest::blocking::Client::builder()
            .default_headers(headers)
            .danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap()
    }

    /// A client without credentials.
    pub fn raw_client(&self) -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- berth log ({}) ----\n{}",
                self.log.display(),
                self.log()
            );
        }
        self.kill();
        drop(self.database.take());
    }
}
