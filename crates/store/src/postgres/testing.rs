//! PostgreSQL for tests: a fresh, empty database per test.
//!
//! The server is the one `BERTH_TEST_POSTGRES` names (a URL whose user may
//! create databases; `scripts/test.sh` starts one cluster per run and sets
//! it, see `scripts/postgres.sh`). Without it, a throwaway cluster is
//! started for the test itself (`initdb` and `pg_ctl` from Debian's
//! `postgresql`, run as the `postgres` user when the test runs as root) and
//! stopped when the test ends. A test that can have neither fails, loudly:
//! PostgreSQL is never mocked and its tests are never skipped.

use crate::{PgMetadataStore, PgSettings};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// One test's database; dropped (and its throwaway cluster stopped, if it
/// has one) when this is.
pub struct TestDatabase {
    /// The URL of the test's own database.
    pub url: String,
    admin_url: String,
    name: String,
    _cluster: Option<Cluster>,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let (admin_url, cluster) = match std::env::var("BERTH_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => (url, None),
            _ => {
                let c = Cluster::start();
                (c.url.clone(), Some(c))
            }
        };
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "berth_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        admin(&admin_url, &format!("CREATE DATABASE {name}")).await;
        let url = with_database(&admin_url, &name);
        TestDatabase {
            url,
            admin_url,
            name,
            _cluster: cluster,
        }
    }

    /// A store on this database, migrated, with 4 connections per pool.
    pub async fn store(&self) -> PgMetadataStore {
        self.store_with(4).await
    }

    /// A store on this database with `connections` per pool.
    pub async fn store_with(&self, connections: u32) -> PgMetadataStore {
        let settings = PgSettings {
            max_connections: connections,
            ..PgSettings::default()
        };
        PgMetadataStore::connect(&self.url, &settings)
            .await
            .unwrap_or_else(|e| panic!("connecting to the test database {}: {e}", self.url))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self._cluster.is_some() {
            return; // the whole cluster goes
        }
        // Drop runs inside the test's runtime: use a thread with its own.
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            rt.block_on(admin(
                &url,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            ));
        })
        .join();
    }
}

async fn admin(url: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!("PostgreSQL at {url} (BERTH_TEST_POSTGRES) is not reachable: {e}")
    });
    sqlx::query(sql)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// `url` with its database path replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|j| start + j))
        .unwrap_or(base.len());
    format!("{}/{db}{query}", &base[..authority_end])
}

/// A throwaway cluster in a temporary directory, on a free loopback port.
struct Cluster {
    url: String,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let bin = postgres_bin().unwrap_or_else(|| {
            panic!(
                "PostgreSQL is needed: set BERTH_TEST_POSTGRES to a server's URL \
                 (scripts/test.sh does), or install Debian's postgresql for initdb and pg_ctl"
            )
        });
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let dir = tmp.path().join("pg");
        std::fs::create_dir(&dir).expect("the cluster directory");
        let root = running_as_root();
        if root {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(tmp.path()));
        }
        let port = free_port();
        run(as_postgres(root, &bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&dir));
        run(as_postgres(root, &bin.join("pg_ctl"))
            .arg("-D")
            .arg(&dir)
            .arg("-l")
            .arg(dir.join("log"))
            .arg("-w")
            .arg("-o")
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
                dir.display()
            ))
            .arg("start"));
        Cluster {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            _tmp: tmp,
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(bin) = postgres_bin() {
            let root = running_as_root();
            let _ = as_postgres(root, &bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.dir)
                .args(["-m", "immediate", "stop"])
                .output();
        }
    }
}

/// Debian's `/usr/lib/postgresql/<version>/bin`, the newest there is.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// PostgreSQL refuses to run as root.
fn as_postgres(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = l.local_addr().expect("its address").port();
    drop(l);
    std::thread::sleep(Duration::from_millis(10));
    port
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_urls_keep_their_options() {
        assert_eq!(
            super::with_database("postgres://u@h:5/postgres?sslmode=disable", "x"),
            "postgres://u@h:5/x?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://u@h:5", "x"),
            "postgres://u@h:5/x"
        );
    }
}
