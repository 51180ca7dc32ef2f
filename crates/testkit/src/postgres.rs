//! A PostgreSQL database for a test server, when the run asks for one.
//!
//! `BERTH_TEST_METADATA=postgres` makes every [`TestServer`](crate::TestServer)
//! keep its metadata in a database of its own on the server
//! `BERTH_TEST_POSTGRES` names (`scripts/test.sh` starts one cluster per
//! run and runs a pass of the end-to-end suites this way), instead of the
//! data dir's SQLite file. Databases are made and dropped with `psql`, so
//! the test kit needs no PostgreSQL client library.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Whether this run keeps test servers' metadata in PostgreSQL.
pub fn wanted() -> bool {
    match std::env::var("BERTH_TEST_METADATA").as_deref() {
        Ok("postgres") => true,
        Ok("") | Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("BERTH_TEST_METADATA is postgres or sqlite, not '{other}'"),
    }
}

/// One server's database, dropped with it.
pub struct Database {
    admin_url: String,
    name: String,
    /// The URL `berth serve --metadata` takes.
    pub url: String,
}

impl Database {
    pub fn create() -> Database {
        let admin_url = std::env::var("BERTH_TEST_POSTGRES").unwrap_or_else(|_| {
            panic!(
                "BERTH_TEST_METADATA=postgres needs BERTH_TEST_POSTGRES, the URL of a server \
                 where tests may create databases (scripts/postgres.sh starts one)"
            )
        });
        Database::create_on(admin_url)
    }

    /// A database on the server of `admin_url` (one whose user may create
    /// databases).
    pub fn create_on(admin_url: String) -> Database {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "berth_it_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let url = match admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("BERTH_TEST_POSTGRES '{admin_url}' names no database"),
        };
        Database {
            admin_url,
            name,
            url,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // The server was killed first (TestServer drops its child before
        // this field); FORCE ends any connection still closing.
        let _ = Command::new("psql")
            .arg(&self.admin_url)
            .args([
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .unwrap_or_else(|e| panic!("running psql (Debian's postgresql-client): {e}"));
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
