//! berth's own admin API (`/berth/admin/...`), which the `berth` CLI calls
//! on a running server: accounts, users, access keys, garbage collection,
//! lifecycle runs.
//! Every request is SigV4-signed for the service `berth` (any valid region)
//! with an access key, the way the `aws` CLI signs; who may do what is
//! decided by identity (`berth_registry::identity`, `accounts.rs` there). Answers are JSON; errors are
//! `{"__type","message"}`, built in `aws_error.rs`.

use crate::admin_api as api;
use crate::aws_error::AwsError;
use crate::AppState;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_registry::{AccessKeyInfo, AdminAction, Caller, GcOptions, NewAccessKey, ADMIN_USER};
use berth_registry::{AccountRecord, UserRecord};
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::Digest as _;
use std::time::Duration;

pub use api::SERVICE;
/// Admin requests are a few fields of JSON.
const MAX_BODY: usize = 64 * 1024;
/// `POST /berth/admin/vulndb/records` takes a batch of OSV records.
pub const MAX_VULNDB_BODY: usize = 96 << 20;

const HOW_TO_SIGN: &str = "berth's admin API accepts only requests signed with AWS SigV4 (service 'berth', any region) with an access key of an admin user. `berth admin` and `berth gc` sign with the credentials the aws CLI uses: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile of ~/.aws/credentials (AWS_PROFILE); the default account's admin key is in the data dir's root-credentials file";

/// A request whose signature checked out: who signed it (with the
/// request's facts), and its body.
pub struct Signed {
    principal: Caller,
    body: bytes::Bytes,
}

impl FromRequest<AppState> for Signed {
    type Rejection = Response;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let facts = crate::connection_facts(app, &parts.extensions, &parts.headers);
        let refuse = |e: AwsError| refusal(e).into_response();
        // Nothing of the body is read for a caller refused by its headers.
        let identified =
            crate::signed::identify(app, &parts.method, &parts.uri, &parts.headers, SERVICE)
                .await
                .map_err(refuse)?;
        // Vulnerability records come in batches of up to 96 MiB: only the
        // callers allowed to import them get to send that much, within the
        // large-body budget.
        let (limit, _large_body) = if parts.uri.path() == api::VULNDB_RECORDS {
            let caller = Caller {
                principal: identified.principal.clone(),
                facts: facts.clone(),
            };
            app.registry
                .identity()
                .authorize_admin(&caller, AdminAction::ImportVulnDb)
                .await
                .map_err(|e| registry_error(e).into_response())?;
            let permit = app
                .bodies
                .budget
                .reserve(
                    &parts.headers,
                    MAX_VULNDB_BODY,
                    &identified.claim.access_key_id,
                )
                .await
                .map_err(|e| crate::ecr::busy(e).into_response())?;
            (MAX_VULNDB_BODY, Some(permit))
        } else {
            (MAX_BODY, None)
        };
        let bytes = crate::aws_json::read_body(body, limit, "InvalidParameterException")
            .await
            .map_err(IntoResponse::into_response)?;
        let payload_sha256 = hex::encode(sha2::Sha256::digest(&bytes));
        let signer = identified
            .verify(&parts.method, &parts.uri, &parts.headers, &payload_sha256)
            .map_err(refuse)?;
        Ok(Signed {
            principal: Caller {
                principal: signer.principal,
                facts,
            },
            body: bytes,
        })
    }
}

/// The ECR API answers authentication failures with 400, as AWS's JSON
/// services do; here plain HTTP clients (curl, scripts) are as likely as
/// SDKs, so an unsigned request is 401 and a refused signature 403.
fn refusal(e: AwsError) -> AwsError {
    match e.kind() {
        "MissingAuthenticationTokenException" => {
            AwsError::new(StatusCode::UNAUTHORIZED, e.kind(), HOW_TO_SIGN)
        }
        "ServerException" => e,
        _ => e.with_status(StatusCode::FORBIDDEN),
    }
}

impl Signed {
    /// The body as `T`; an empty body is `T::default()`.
    fn input<T: DeserializeOwned + Default>(&self) -> Result<T, AwsError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            AwsError::client(
                "SerializationException",
                format!("the request body is not what this endpoint takes: {e}"),
            )
        })
    }
}

type Answer = Result<Response, AwsError>;

fn registry_error(e: berth_registry::Error) -> AwsError {
    AwsError::from_registry(e, "")
}

fn ok<T: Serialize>(v: T) -> Answer {
    Ok(Json(v).into_response())
}

fn created<T: Serialize>(v: T) -> Answer {
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// Times as the ECR API gives them: Unix seconds.
fn secs(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

fn account(a: &AccountRecord, default_account: &str) -> api::Account {
    api::Account {
        account_id: a.id.clone(),
        created_at: secs(a.created_at),
        default: a.id == default_account,
    }
}

fn user(u: &UserRecord) -> api::User {
    api::User {
        account_id: u.account_id.clone(),
        user_name: u.name.clone(),
        arn: format!("arn:aws:iam::{}:user/{}", u.account_id, u.name),
        created_at: secs(u.created_at),
    }
}

/// Listings carry no secret: only the create call returns one.
fn key(k: &AccessKeyInfo) -> api::AccessKey {
    api::AccessKey {
        access_key_id: k.id.clone(),
        account_id: k.account_id.clone(),
        user_name: k.user_name.clone(),
        status: if k.active { "Active" } else { "Inactive" }.to_string(),
        created_at: secs(k.created_at),
    }
}

fn new_key(info: &AccessKeyInfo, k: &NewAccessKey) -> api::NewAccessKey {
    api::NewAccessKey {
        key: key(info),
        secret_access_key: k.secret.clone(),
    }
}

/// `POST /berth/admin/accounts`: an account with its `admin` user.
pub async fn create_account(State(app): State<AppState>, req: Signed) -> Answer {
    let input: api::CreateAccount = req.input()?;
    let (record, key) = app
        .registry
        .identity()
        .create_account(&req.principal, &input.account_id, input.create_access_key)
        .await
        .map_err(registry_error)?;
    created(api::AccountCreated {
        account: account(&record, app.registry.default_account()),
        admin_user: ADMIN_USER.to_string(),
        access_key: key.map(|(info, key)| new_key(&info, &key)),
    })
}

/// `GET /berth/admin/accounts`
pub async fn list_accounts(State(app): State<AppState>, req: Signed) -> Answer {
    let accounts = app
        .registry
        .identity()
        .list_accounts(&req.principal)
        .await
        .map_err(registry_error)?;
    let default = app.registry.default_account();
    ok(api::Accounts {
        accounts: accounts.iter().map(|a| account(a, default)).collect(),
    })
}

/// `POST /berth/admin/accounts/{account}/users`
pub async fn create_user(
    State(app): State<AppState>,
    Path(account): Path<String>,
    req: Signed,
) -> Answer {
    let input: api::CreateUser = req.input()?;
    let record = app
        .registry
        .identity()
        .create_user(&req.principal, &account, &input.user_name)
        .await
        .map_err(registry_error)?;
    created(api::UserCreated {
        user: user(&record),
    })
}

/// `GET /berth/admin/accounts/{account}/users`
pub async fn list_users(
    State(app): State<AppState>,
    Path(account): Path<String>,
    req: Signed,
) -> Answer {
    let users = app
        .registry
        .identity()
        .list_users(&req.principal, &account)
        .await
        .map_err(registry_error)?;
    ok(api::Users {
        users: users.iter().map(user).collect(),
    })
}

/// `GET /berth/admin/accounts/{account}/roles`
pub async fn list_roles(
    State(app): State<AppState>,
    Path(account): Path<String>,
    req: Signed,
) -> Answer {
    let roles = app
        .registry
        .identity()
        .admin_list_roles(&req.principal, &account)
        .await
        .map_err(registry_error)?;
    ok(api::Roles {
        roles: roles
            .into_iter()
            .map(|(r, policies)| api::Role {
                account_id: r.account_id,
                role_name: r.name,
                arn: r.arn,
                role_id: r.role_id,
                max_session_duration: r.max_session_duration,
                policies,
                created_at: secs(r.created_at),
            })
            .collect(),
    })
}

/// `GET /berth/admin/accounts/{account}/groups`
pub async fn list_groups(
    State(app): State<AppState>,
    Path(account): Path<String>,
    req: Signed,
) -> Answer {
    let groups = app
        .registry
        .identity()
        .admin_list_groups(&req.principal, &account)
        .await
        .map_err(registry_error)?;
    ok(api::Groups {
        groups: groups
            .into_iter()
            .map(|(g, members, policies)| api::Group {
                account_id: g.account_id,
                group_name: g.name,
                arn: g.arn,
                members,
                policies,
                created_at: secs(g.created_at),
            })
            .collect(),
    })
}

/// `POST /berth/admin/accounts/{account}/users/{user}/access-keys`: the
/// only answer that carries the secret.
pub async fn create_access_key(
    State(app): State<AppState>,
    Path((account, user)): Path<(String, String)>,
    req: Signed,
) -> Answer {
    let (info, key) = app
        .registry
        .identity()
        .create_access_key(&req.principal, &account, &user)
        .await
        .map_err(registry_error)?;
    tracing::info!(
        account = %account,
        user = %user,
        access_key_id = %info.id,
        by = %format!("{}/{}", req.principal.account_id, req.principal.user),
        "access key created"
    );
    created(api::AccessKeyCreated {
        access_key: new_key(&info, &key),
    })
}

/// `GET /berth/admin/accounts/{account}/access-keys[?userName=]`
pub async fn list_access_keys(
    State(app): State<AppState>,
    Path(account): Path<String>,
    Query(filter): Query<api::KeyFilter>,
    req: Signed,
) -> Answer {
    list_keys(&app, &req, &account, filter.user_name.as_deref()).await
}

/// `GET /berth/admin/accounts/{account}/users/{user}/access-keys`
pub async fn list_user_access_keys(
    State(app): State<AppState>,
    Path((account, user)): Path<(String, String)>,
    req: Signed,
) -> Answer {
    list_keys(&app, &req, &account, Some(&user)).await
}

async fn list_keys(app: &AppState, req: &Signed, account: &str, user: Option<&str>) -> Answer {
    let keys = app
        .registry
        .identity()
        .list_access_keys(&req.principal, account, user)
        .await
        .map_err(registry_error)?;
    ok(api::AccessKeys {
        access_keys: keys.iter().map(key).collect(),
    })
}

/// `DELETE /berth/admin/accounts/{account}/access-keys/{key}`: requests
/// signed with it are refused from then on.
pub async fn delete_access_key(
    State(app): State<AppState>,
    Path((account, key)): Path<(String, String)>,
    req: Signed,
) -> Answer {
    app.registry
        .identity()
        .delete_access_key(&req.principal, &account, &key)
        .await
        .map_err(registry_error)?;
    tracing::info!(
        account = %account,
        access_key_id = %key,
        by = %format!("{}/{}", req.principal.account_id, req.principal.user),
        "access key deleted"
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /berth/admin/gc`: starts a garbage-collection run (202), or
/// answers 409 with the run already in progress.
pub async fn start_gc(State(app): State<AppState>, req: Signed) -> Answer {
    app.registry
        .identity()
        .authorize_admin(&req.principal, AdminAction::CollectGarbage)
        .await
        .map_err(registry_error)?;
    let input: api::StartGc = req.input()?;
    let options = GcOptions {
        dry_run: input.dry_run,
        grace: input
            .grace_seconds
            .map(Duration::from_secs)
            .unwrap_or(app.registry.gc_grace()),
    };
    let (status, run) = match app.registry.start_gc(options) {
        Ok(run) => (StatusCode::ACCEPTED, run),
        Err(running) => (StatusCode::CONFLICT, running),
    };
    Ok((status, Json(api::GcStatus::from(&run.snapshot()))).into_response())
}

/// `GET /berth/admin/gc`: the current or last run.
pub async fn gc_status(State(app): State<AppState>, req: Signed) -> Answer {
    app.registry
        .identity()
        .authorize_admin(&req.principal, AdminAction::CollectGarbage)
        .await
        .map_err(registry_error)?;
    match app.registry.gc_status() {
        Some(run) => ok(api::GcStatus::from(&run.snapshot())),
        None => Err(AwsError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "no garbage collection has run since the server started",
        )),
    }
}

/// `POST /berth/admin/lifecycle`: evaluates every repository's lifecycle
/// policy now and expires what it selects (`berth admin lifecycle run`);
/// answers when the run is over, with what it did. A run already going
/// (the scheduled one) is waited for first.
pub async fn run_lifecycle(State(app): State<AppState>, req: Signed) -> Answer {
    app.registry
        .identity()
        .authorize_admin(&req.principal, AdminAction::RunLifecycle)
        .await
        .map_err(registry_error)?;
    let run = app.registry.run_lifecycle().await.map_err(registry_error)?;
    ok(api::LifecycleRun {
        repositories: run.repositories,
        expired: run.expired,
        transitioned: run.transitioned,
        skipped_changed: run.skipped_changed,
        skipped_transitions: run.skipped_transitions,
        failed: run.failed,
    })
}

/// `POST /berth/admin/vulndb/records`: stores a batch of OSV records
/// (`berth vulndb import` sends them as it reads them); answers what the
/// batch did.
pub async fn import_vuln_records(State(app): State<AppState>, req: Signed) -> Answer {
    app.registry
        .identity()
        .authorize_admin(&req.principal, AdminAction::ImportVulnDb)
        .await
        .map_err(registry_error)?;
    let batch: api::VulnBatch = req.input()?;
    let stats = app
        .registry
        .import_vuln_records(
            batch
                .records
                .into_iter()
                .map(|(o, j)| (o, j.into_bytes()))
                .collect(),
        )
        .await
        .map_err(registry_error)?;
    ok(stats)
}

/// `POST /berth/admin/vulndb/finish`: the import is over; the database's
/// update time becomes now and CONTINUOUS_SCAN repositories are re-matched.
pub async fn finish_vuln_import(State(app): State<AppState>, req: Signed) -> Answer {
    app.registry
        .identity()
        .authorize_admin(&req.principal, AdminAction::ImportVulnDb)
        .await
        .map_err(registry_error)?;
    let source = app
        .registry
        .finish_vuln_import()
        .await
        .map_err(registry_error)?;
    let records = app
        .registry
        .vuln_record_count()
        .await
        .map_err(registry_error)?;
    ok(api::VulnImportFinished {
        updated_at: source.updated_at,
        generation: source.generation,
        records,
    })
}

/// `GET /berth/admin/usage`: usage and cost per registry (and
/// repository), from the hourly samples (`Registry::usage_report`).
pub async fn usage(
    State(app): State<AppState>,
    Query(q): Query<api::UsageQuery>,
    req: Signed,
) -> Answer {
    app.registry
        .identity()
        .authorize_admin(
            &req.principal,
            AdminAction::ViewUsage {
                account: q.account_id.as_deref(),
            },
        )
        .await
        .map_err(registry_error)?;
    let one = match (&q.account_id, &q.region) {
        (Some(account_id), Some(region)) => Some(berth_registry::RegistryKey {
            account_id: account_id.clone(),
            region: region.clone(),
        }),
        _ => None,
    };
    let report = app
        .registry
        .usage_report(one.as_ref(), q.month.as_deref(), q.repositories)
        .await
        .map_err(registry_error)?;
    let figures = |latest: Option<&berth_registry::UsageFigures>, cost: &berth_registry::Cost| {
        api::UsageFigures {
            sampled_at: latest.map(|l| secs(l.sampled_at)),
            images: latest.map_or(0, |l| l.images),
            logical_bytes: latest.map_or(0, |l| l.logical_bytes),
            stored_bytes: latest.map_or(0, |l| l.stored_bytes),
            last_pushed_at: latest.and_then(|l| l.last_pushed_at).map(secs),
            gb_months: cost.gb_months,
            estimated_gb_months: cost.estimated_gb_months,
            accrued_cost: cost.accrued_cost,
            estimated_cost: cost.estimated_cost,
        }
    };
    ok(api::Usage {
        month: report.month,
        price_per_gb_month: report.price_per_gb_month,
        month_hours: report.month_hours,
        elapsed_hours: report.elapsed_hours,
        registries: report
            .registries
            .iter()
            .filter(|r| {
                q.account_id
                    .as_ref()
                    .is_none_or(|a| *a == r.registry.account_id)
            })
            .filter(|r| q.region.as_ref().is_none_or(|g| *g == r.registry.region))
            .map(|r| api::RegistryUsage {
                account_id: r.registry.account_id.clone(),
                region: r.registry.region.clone(),
                figures: figures(r.latest.as_ref(), &r.cost),
                repositories: r
                    .repositories
                    .iter()
                    .map(|u| api::RepositoryUsage {
                        repository_name: u.name.clone(),
                        figures: figures(u.latest.as_ref(), &u.cost),
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// `POST /berth/admin/usage`: takes a usage sample now (after a large
/// cleanup, say, rather than waiting for the hourly one); it measures every
/// account, so only the default account's admin may.
pub async fn sample_usage(State(app): State<AppState>, req: Signed) -> Answer {
    app.registry
        .identity()
        .authorize_admin(&req.principal, AdminAction::ViewUsage { account: None })
        .await
        .map_err(registry_error)?;
    let s = app.registry.sample_usage().await.map_err(registry_error)?;
    ok(api::UsageSampled {
        repositories: s.repositories,
        registries: s.registries,
        dropped: s.dropped,
    })
}
