//! `berth admin`: accounts, users, access keys and lifecycle runs on a running server,
//! through its admin API (`crates/server/src/admin.rs`), signed with the
//! `aws` CLI's credentials (`client.rs`). Tables for people, `--json` (the
//! server's answer as it is) for scripts.

use crate::client::{self, AdminClient, NO_BODY};
use berth_server::admin_api::{self as api, path};
use clap::{Args, Subcommand};
use http::Method;
use serde::Serialize;

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
    /// Roles of an account (what machines assume), with their policies.
    Role {
        #[command(subcommand)]
        command: ListOnly,
    },
    /// Groups of an account, with their members and policies.
    Group {
        #[command(subcommand)]
        command: ListOnly,
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
    /// Usage and cost per registry (and repository): images, logical and
    /// stored bytes at the latest hourly sample, GB-months accrued this
    /// month and the month's estimate.
    Usage {
        /// One account's registries [default: every account's].
        #[arg(long)]
        account: Option<String>,
        /// One region's registries [default: every region's].
        #[arg(long = "registry-region")]
        in_region: Option<String>,
        /// The month, as YYYY-MM [default: the current one].
        #[arg(long)]
        month: Option<String>,
        /// Each registry's repositories too, largest first.
        #[arg(long)]
        repositories: bool,
        /// Take a sample first, rather than report the latest hourly one
        /// (the default account's admin only: it measures every account).
        #[arg(long)]
        sample_now: bool,
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

/// Roles and groups are managed through `aws iam`; berth's admin CLI lists them.
#[derive(Subcommand, Debug)]
enum ListOnly {
    /// List them (`aws iam create-role` / `create-group` make them).
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
                let out: api::AccountCreated = api
                    .call(
                        Method::POST,
                        api::ACCOUNTS,
                        &[],
                        Some(&api::CreateAccount {
                            account_id,
                            create_access_key: with_key,
                        }),
                    )
                    .await?;
                if json {
                    return print_json(&out);
                }
                println!(
                    "created account {} with user {}",
                    out.account.account_id, out.admin_user
                );
                if let Some(key) = &out.access_key {
                    print_new_key(key);
                }
            }
            AccountCommand::List => {
                let out: api::Accounts = api.call(Method::GET, api::ACCOUNTS, &[], NO_BODY).await?;
                if json {
                    return print_json(&out);
                }
                let rows = out
                    .accounts
                    .iter()
                    .map(|a| {
                        vec![
                            a.account_id.clone(),
                            if a.default { "yes" } else { "" }.to_string(),
                            time(a.created_at),
                        ]
                    })
                    .collect();
                print_table(&["ACCOUNT", "DEFAULT", "CREATED"], rows);
            }
        },
        AdminCommand::User { command } => match command {
            UserCommand::Create { account, name } => {
                let out: api::UserCreated = api
                    .call(
                        Method::POST,
                        &path(api::USERS, &[("account", &account)]),
                        &[],
                        Some(&api::CreateUser { user_name: name }),
                    )
                    .await?;
                if json {
                    return print_json(&out);
                }
                println!(
                    "created user {} in account {} ({})",
                    out.user.user_name, out.user.account_id, out.user.arn
                );
            }
            UserCommand::List { account } => {
                let out: api::Users = api
                    .call(
                        Method::GET,
                        &path(api::USERS, &[("account", &account)]),
                        &[],
                        NO_BODY,
                    )
                    .await?;
                if json {
                    return print_json(&out);
                }
                let rows = out
                    .users
                    .iter()
                    .map(|u| vec![u.user_name.clone(), u.arn.clone(), time(u.created_at)])
                    .collect();
                print_table(&["USER", "ARN", "CREATED"], rows);
            }
        },
        AdminCommand::Role {
            command: ListOnly::List { account },
        } => {
            let out: api::Roles = api
                .call(
                    Method::GET,
                    &path(api::ROLES, &[("account", &account)]),
                    &[],
                    NO_BODY,
                )
                .await?;
            if json {
                return print_json(&out);
            }
            let rows = out
                .roles
                .iter()
                .map(|r| {
                    vec![
                        r.role_name.clone(),
                        r.arn.clone(),
                        format!("{} s", r.max_session_duration),
                        r.policies.join(", "),
                        time(r.created_at),
                    ]
                })
                .collect();
            print_table(&["ROLE", "ARN", "MAX SESSION", "POLICIES", "CREATED"], rows);
        }
        AdminCommand::Group {
            command: ListOnly::List { account },
        } => {
            let out: api::Groups = api
                .call(
                    Method::GET,
                    &path(api::GROUPS, &[("account", &account)]),
                    &[],
                    NO_BODY,
                )
                .await?;
            if json {
                return print_json(&out);
            }
            let rows = out
                .groups
                .iter()
                .map(|g| {
                    vec![
                        g.group_name.clone(),
                        g.members.join(", "),
                        g.policies.join(", "),
                        time(g.created_at),
                    ]
                })
                .collect();
            print_table(&["GROUP", "MEMBERS", "POLICIES", "CREATED"], rows);
        }
        AdminCommand::Key { command } => match command {
            KeyCommand::Create { account, user } => {
                let out: api::AccessKeyCreated = api
                    .call(
                        Method::POST,
                        &path(
                            api::USER_ACCESS_KEYS,
                            &[("account", &account), ("user", &user)],
                        ),
                        &[],
                        NO_BODY,
                    )
                    .await?;
                if json {
                    return print_json(&out);
                }
                print_new_key(&out.access_key);
            }
            KeyCommand::List { account, user } => {
                let query: Vec<(&str, &str)> =
                    user.iter().map(|u| ("userName", u.as_str())).collect();
                let out: api::AccessKeys = api
                    .call(
                        Method::GET,
                        &path(api::ACCESS_KEYS, &[("account", &account)]),
                        &query,
                        NO_BODY,
                    )
                    .await?;
                if json {
                    return print_json(&out);
                }
                let rows = out
                    .access_keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.access_key_id.clone(),
                            k.user_name.clone(),
                            k.status.clone(),
                            time(k.created_at),
                        ]
                    })
                    .collect();
                print_table(&["ACCESS KEY ID", "USER", "STATUS", "CREATED"], rows);
            }
            KeyCommand::Delete {
                account,
                access_key_id,
            } => {
                let () = api
                    .call(
                        Method::DELETE,
                        &path(
                            api::ACCESS_KEY,
                            &[("account", &account), ("key", &access_key_id)],
                        ),
                        &[],
                        NO_BODY,
                    )
                    .await?;
                if json {
                    return print_json(&serde_json::json!({ "deleted": access_key_id }));
                }
                println!("deleted access key {access_key_id} of account {account}");
            }
        },
        AdminCommand::Lifecycle {
            command: LifecycleCommand::Run,
        } => {
            let out: api::LifecycleRun =
                api.call(Method::POST, api::LIFECYCLE, &[], NO_BODY).await?;
            if json {
                return print_json(&out);
            }
            println!(
                "evaluated {} repositories with a lifecycle policy: expired {} images, archived {}",
                out.repositories, out.expired, out.transitioned
            );
            if out.skipped_changed > 0 {
                println!(
                    "  {} images changed during the run (re-tagged or re-pushed) and were left for the next one",
                    out.skipped_changed
                );
            }
            if out.skipped_transitions > 0 {
                println!(
                    "  {} images to archive changed during the run and were left for the next one",
                    out.skipped_transitions
                );
            }
            if out.failed > 0 {
                anyhow::bail!(
                    "the evaluation of {} repositories failed; the server log says why",
                    out.failed
                );
            }
        }
        AdminCommand::Usage {
            account,
            in_region,
            month,
            repositories,
            sample_now,
        } => {
            if sample_now {
                let s: api::UsageSampled = api.call(Method::POST, api::USAGE, &[], NO_BODY).await?;
                if !json {
                    println!(
                        "sampled {} repositories in {} registries",
                        s.repositories, s.registries
                    );
                }
            }
            let mut query: Vec<(&str, &str)> = vec![];
            for (name, v) in [
                ("accountId", &account),
                ("region", &in_region),
                ("month", &month),
            ] {
                if let Some(v) = v {
                    query.push((name, v));
                }
            }
            if repositories {
                query.push(("repositories", "true"));
            }
            let out: api::Usage = api.call(Method::GET, api::USAGE, &query, NO_BODY).await?;
            if json {
                return print_json(&out);
            }
            print_usage(&out);
        }
    }
    Ok(())
}

fn print_usage(u: &api::Usage) {
    println!(
        "usage in {} ({:.0} of {:.0} hours), at ${} per GB-month; stored bytes count each blob once, logical bytes count a layer per image",
        u.month, u.elapsed_hours, u.month_hours, u.price_per_gb_month
    );
    let size = |b: u64| berth_server::console::human_size(b);
    let row = |name: String, f: &api::UsageFigures| {
        vec![
            name,
            f.images.to_string(),
            size(f.logical_bytes),
            size(f.stored_bytes),
            format!("{:.4}", f.gb_months),
            format!("${:.2}", f.accrued_cost),
            format!("${:.2}", f.estimated_cost),
            f.sampled_at.map_or_else(|| "not yet".into(), time),
        ]
    };
    let mut rows = vec![];
    for r in &u.registries {
        rows.push(row(format!("{} {}", r.account_id, r.region), &r.figures));
        for repo in &r.repositories {
            rows.push(row(format!("  {}", repo.repository_name), &repo.figures));
        }
    }
    if rows.is_empty() {
        println!("no registry holds anything yet (or no sample has been taken: they are hourly)");
        return;
    }
    print_table(
        &[
            "REGISTRY / REPOSITORY",
            "IMAGES",
            "LOGICAL",
            "STORED",
            "GB-MONTHS",
            "SO FAR",
            "MONTH ESTIMATE",
            "SAMPLED",
        ],
        rows,
    );
}

fn print_json(v: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// The one place a secret is printed: right after the server made it.
fn print_new_key(k: &api::NewAccessKey) {
    println!(
        "created access key {} for user {} of account {}; the secret is shown only now:\n  \
         export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
        k.key.access_key_id,
        k.key.user_name,
        k.key.account_id,
        k.key.access_key_id,
        k.secret_access_key,
    );
}

/// Unix seconds (as the API answers) in RFC 3339, UTC.
fn time(secs: f64) -> String {
    if secs >= 0.0 && secs.is_finite() {
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs),
        )
        .to_string()
    } else {
        secs.to_string()
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
