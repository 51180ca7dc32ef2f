//! `berth admin`: accounts, users, access keys and lifecycle runs on a running server,
//! through its admin API (`crates/server/src/admin.rs`), signed with the
//! `aws` CLI's credentials (`client.rs`). Tables for people, `--json` (the
//! server's answer as it is) for scripts.

use crate::client::{self, seg, AdminClient};
use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct AdminArgs {
    /// The running server [default: http://127.0.0.1:5000, or BERTH_LISTEN's address].
    #[arg(long, env = "BERTH_ENDPOINT", global = true)]
    endpoint: Option<String>,
    /// Region to sign for (any region works) [default: AWS_REGION, AWS_DEFAULT_REGION or us-east-1].
    #[arg(long, global = true)]
    region: Option<String>,
    /// Print the server's JSON answer instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Accounts (each with its own registries, users and keys).
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Users of an account.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Access keys of a user (what the aws CLI and docker login use).
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Lifecycle policies of every repository.
    Lifecycle {
        #[command(subcommand)]
        command: LifecycleCommand,
    },
}

#[derive(Subcommand, Debug)]
enum LifecycleCommand {
    /// Evaluate every repository's lifecycle policy now and expire what it
    /// selects (as the scheduled run does); waits for the run to finish.
    Run,
}

#[derive(Subcommand, Debug)]
enum AccountCommand {
    /// Create an account (12 digits) with its `admin` user.
    Create {
        account_id: String,
        /// Also create an access key for the account's admin user (its secret is shown once).
        #[arg(long)]
        with_key: bool,
    },
    /// List the accounts.
    List,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create a user in an account.
    Create {
        #[arg(long)]
        account: String,
        name: String,
    },
    /// List the users of an account.
    List {
        #[arg(long)]
        account: String,
    },
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Create an access key for a user; the secret is shown only now.
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        user: String,
    },
    /// List access keys (never their secrets).
    List {
        #[arg(long)]
        account: String,
        #[arg(long)]
        user: Option<String>,
    },
    /// Delete an access key: requests signed with it are refused from then on.
    Delete {
        #[arg(long)]
        account: String,
        access_key_id: String,
    },
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let api = AdminClient::new(
        client::endpoint(args.endpoint.as_deref()),
        client::region(args.region.as_deref()),
    )?;
    let json = args.json;
    match args.command {
        AdminCommand::Account { command } => match command {
            AccountCommand::Create {
                account_id,
                with_key,
            } => {
                let out = api
                    .call(
                        Method::POST,
                        "/berth/admin/accounts",
                        &[],
                        Some(&json!({ "accountId": account_id, "createAccessKey": with_key })),
                    )
                    .await?;
                if json {
                    return print_json(&out);
                }
                println!(
                    "created account {} with user {}",
                    text(&out["account"]["accountId"]),
                    text(&out["adminUser"])
                );
                if out["accessKey"].is_object() {
                    print_new_key(&out["accessKey"]);
                }
            }
            AccountCommand::List => {
                let out = api
                    .call(Method::GET, "/berth/admin/accounts", &[], None)
                    .await?;
                if json {
                    return print_json(&out);
                }
                let rows = list(&out["accounts"])
                    .map(|a| {
                        vec![
                            text(&a["accountId"]),
                            if a["default"] == true { "yes" } else { "" }.to_string(),
                            time(&a["createdAt"]),
                        ]
                    })
                    .collect();
                print_table(&["ACCOUNT", "DEFAULT", "CREATED"], rows);
            }
        },
        AdminCommand::User { command } => match command {
            UserCommand::Create { account, name } => {
                let out = api
                    .call(
                        Method::POST,
                        &format!("/berth/admin/accounts/{}/users", seg(&account)),
                        &[],
                        Some(&json!({ "userName": name })),
                    )
                    .await?;
                if json {
                    return print_json(&out);
                }
                println!(
                    "created user {} in account {} ({})",
                    text(&out["user"]["userName"]),
                    text(&out["user"]["accountId"]),
                    text(&out["user"]["arn"])
                );
            }
            UserCommand::List { account } => {
                let out = api
                    .call(
                        Method::GET,
                        &format!("/berth/admin/accounts/{}/users", seg(&account)),
                        &[],
                        None,
                    )
                    .await?;
                if json {
                    return print_json(&out);
                }
                let rows = list(&out["users"])
                    .map(|u| vec![text(&u["userName"]), text(&u["arn"]), time(&u["createdAt"])])
                    .collect();
                print_table(&["USER", "ARN", "CREATED"], rows);
            }
        },
        AdminCommand::Key { command } => match command {
            KeyCommand::Create { account, user } => {
                let out = api
                    .call(
                        Method::POST,
                        &format!(
                            "/berth/admin/accounts/{}/users/{}/access-keys",
                            seg(&account),
                            seg(&user)
                        ),
                        &[],
                        None,
                    )
                    .await?;
                if json {
                    return print_json(&out);
                }
                print_new_key(&out["accessKey"]);
            }
            KeyCommand::List { account, user } => {
                let query: Vec<(&str, &str)> =
                    user.iter().map(|u| ("userName", u.as_str())).collect();
                let out = api
                    .call(
                        Method::GET,
                        &format!("/berth/admin/accounts/{}/access-keys", seg(&account)),
                        &query,
                        None,
                    )
                    .await?;
                if json {
                    return print_json(&out);
                }
                let rows = list(&out["accessKeys"])
                    .map(|k| {
                        vec![
                            text(&k["accessKeyId"]),
                            text(&k["userName"]),
                            text(&k["status"]),
                            time(&k["createdAt"]),
                        ]
                    })
                    .collect();
                print_table(&["ACCESS KEY ID", "USER", "STATUS", "CREATED"], rows);
            }
            KeyCommand::Delete {
                account,
                access_key_id,
            } => {
                api.call(
                    Method::DELETE,
                    &format!(
                        "/berth/admin/accounts/{}/access-keys/{}",
                        seg(&account),
                        seg(&access_key_id)
                    ),
                    &[],
                    None,
                )
                .await?;
                if json {
                    return print_json(&json!({ "deleted": access_key_id }));
                }
                println!("deleted access key {access_key_id} of account {account}");
            }
        },
        AdminCommand::Lifecycle {
            command: LifecycleCommand::Run,
        } => {
            let out = api
                .call(Method::POST, "/berth/admin/lifecycle", &[], None)
                .await?;
            if json {
                return print_json(&out);
            }
            println!(
                "evaluated {} repositories with a lifecycle policy: expired {} images, archived {}",
                text(&out["repositories"]),
                text(&out["expired"]),
                text(&out["transitioned"])
            );
            let n = |k: &str| out[k].as_u64().unwrap_or(0);
            if n("skippedChanged") > 0 {
                println!(
                    "  {} images changed during the run (re-tagged or re-pushed) and were left for the next one",
                    n("skippedChanged")
                );
            }
            if n("skippedTransitions") > 0 {
                println!(
                    "  {} images to archive changed during the run and were left for the next one",
                    n("skippedTransitions")
                );
            }
            if n("failed") > 0 {
                anyhow::bail!(
                    "the evaluation of {} repositories failed; the server log says why",
                    n("failed")
                );
            }
        }
    }
    Ok(())
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// The one place a secret is printed: right after the server made it.
fn print_new_key(k: &Value) {
    println!(
        "created access key {} for user {} of account {}; the secret is shown only now:\n  \
         export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
        text(&k["accessKeyId"]),
        text(&k["userName"]),
        text(&k["accountId"]),
        text(&k["accessKeyId"]),
        text(&k["secretAccessKey"]),
    );
}

fn list(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Unix seconds (as the API answers) in RFC 3339, UTC.
fn time(v: &Value) -> String {
    match v.as_f64() {
        Some(s) if s >= 0.0 => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(s),
        )
        .to_string(),
        _ => text(v),
    }
}

fn print_table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
}
