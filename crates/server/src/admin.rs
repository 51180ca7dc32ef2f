//! berth's own admin API (`/berth/admin/...`), which the `berth` CLI calls
//! on a running server: accounts, users, access keys, garbage collection,
//! lifecycle runs.
//! Every request is SigV4-signed for the service `berth` (any valid region)
//! with an access key, the way the `aws` CLI signs; who may do what is
//! decided by the registry (`accounts.rs`). Answers are JSON; errors are
//! `{"__type","message"}`, built in `aws_error.rs`.

use crate::aws_error::AwsError;
use crate::AppState;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_registry::{
    AccessKeyInfo, AdminAction, Caller, GcOptions, GcSnapshot, NewAccessKey, ADMIN_USER,
};
use berth_store::{AccountRecord, UserRecord};
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sha2::Digest as _;
use std::time::Duration;

/// The SigV4 service name the admin API's signatures must be scoped to.
pub const SERVICE: &str = "berth";
/// Admin requests are a few fields of JSON.
const MAX_BODY: usize = 64 * 1024;
/// `POST /berth/admin/vulndb/records` takes a batch of OSV records.
pub const VULNDB_RECORDS: &str = "/berth/admin/vulndb/records";
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
        let facts = crate::connection_facts(app, &parts.extensions);
        let refuse = |e: AwsError| refusal(e).into_response();
        // Nothing of the body is read for a caller refused by its headers.
        let identified =
            crate::signed::identify(app, &parts.method, &parts.uri, &parts.headers, SERVICE)
                .await
                .map_err(refuse)?;
        // Vulnerability records come in batches of up to 96 MiB: only the
        // callers allowed to import them get to send that much, within the
        // large-body budget.
        let (limit, _large_body) = if parts.uri.path() == VULNDB_RECORDS {
            let caller = Caller {
                principal: identified.principal.clone(),
                facts: facts.clone(),
            };
            app.registry
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
        let bytes = crate::ecr::read_limited(body, limit)
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

fn created(v: Value) -> Answer {
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// Times as the ECR API gives them: Unix seconds.
fn secs(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

fn account_json(a: &AccountRecord, default_account: &str) -> Value {
    json!({
        "accountId": a.id,
        "createdAt": secs(a.created_at),
        "default": a.id == default_account,
    })
}

fn user_json(u: &UserRecord) -> Value {
    json!({
        "accountId": u.account_id,
        "userName": u.name,
        "arn": format!("arn:aws:iam::{}:user/{}", u.account_id, u.name),
        "createdAt": secs(u.created_at),
    })
}

/// Listings carry no secret: only the create call returns one.
fn key_json(k: &AccessKeyInfo) -> Value {
    json!({
        "accessKeyId": k.id,
        "accountId": k.account_id,
        "userName": k.user_name,
        "status": if k.active { "Active" } else { "Inactive" },
        "createdAt": secs(k.created_at),
    })
}

fn new_key_json(info: &AccessKeyInfo, key: &NewAccessKey) -> Value {
    let mut v = key_json(info);
    v["secretAccessKey"] = key.secret.clone().into();
    v
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAccount {
    #[serde(default)]
    account_id: String,
    /// Also create an access key for the account's admin user.
    #[serde(default)]
    create_access_key: bool,
}

/// `POST /berth/admin/accounts`: an account with its `admin` user.
pub async fn create_account(State(app): State<AppState>, req: Signed) -> Answer {
    let input: CreateAccount = req.input()?;
    let (account, key) = app
        .registry
        .create_account(&req.principal, &input.account_id, input.create_access_key)
        .await
        .map_err(registry_error)?;
    let mut out = json!({
        "account": account_json(&account, app.registry.default_account()),
        "adminUser": ADMIN_USER,
    });
    if let Some((info, key)) = key {
        out["accessKey"] = new_key_json(&info, &key);
    }
    created(out)
}

/// `GET /berth/admin/accounts`
pub async fn list_accounts(State(app): State<AppState>, req: Signed) -> Answer {
    let accounts = app
        .registry
        .list_accounts(&req.principal)
        .await
        .map_err(registry_error)?;
    let default = app.registry.default_account();
    Ok(Json(json!({
        "accounts": accounts.iter().map(|a| account_json(a, default)).collect::<Vec<_>>(),
    }))
    .into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    #[serde(default)]
    user_name: String,
}

/// `POST /berth/admin/accounts/{account}/users`
pub async fn create_user(
    State(app): State<AppState>,
    Path(account): Path<String>,
    req: Signed,
) -> Answer {
    let input: CreateUser = req.input()?;
    let user = app
        .registry
        .create_user(&req.principal, &account, &input.user_name)
        .await
        .map_err(registry_error)?;
    created(json!({ "user": user_json(&user) }))
}

/// `GET /berth/admin/accounts/{account}/users`
pub async fn list_users(
    State(app): State<AppState>,
    Path(account): Path<String>,
    req: Signed,
) -> Answer {
    let users = app
        .registry
        .list_users(&req.principal, &account)
        .await
        .map_err(registry_error)?;
    Ok(Json(json!({ "users": users.iter().map(user_json).collect::<Vec<_>>() })).into_response())
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
    created(json!({ "accessKey": new_key_json(&info, &key) }))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyFilter {
    user_name: Option<String>,
}

/// `GET /berth/admin/accounts/{account}/access-keys[?userName=]`
pub async fn list_access_keys(
    State(app): State<AppState>,
    Path(account): Path<String>,
    Query(filter): Query<KeyFilter>,
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
        .list_access_keys(&req.principal, account, user)
        .await
        .map_err(registry_error)?;
    Ok(
        Json(json!({ "accessKeys": keys.iter().map(key_json).collect::<Vec<_>>() }))
            .into_response(),
    )
}

/// `DELETE /berth/admin/accounts/{account}/access-keys/{key}`: requests
/// signed with it are refused from then on.
pub async fn delete_access_key(
    State(app): State<AppState>,
    Path((account, key)): Path<(String, String)>,
    req: Signed,
) -> Answer {
    app.registry
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

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcRequest {
    #[serde(default)]
    dry_run: bool,
    /// Overrides the server's grace period for this run.
    grace_seconds: Option<u64>,
}

/// `POST /berth/admin/gc`: starts a garbage-collection run (202), or
/// answers 409 with the run already in progress.
pub async fn start_gc(State(app): State<AppState>, req: Signed) -> Answer {
    app.registry
        .authorize_admin(&req.principal, AdminAction::CollectGarbage)
        .await
        .map_err(registry_error)?;
    let input: GcRequest = req.input()?;
    let options = GcOptions {
        dry_run: input.dry_run,
        grace: input
            .grace_seconds
            .map(Duration::from_secs)
            .unwrap_or(app.registry.gc_grace()),
    };
    Ok(match app.registry.start_gc(options) {
        Ok(run) => (StatusCode::ACCEPTED, Json(render(&run.snapshot()))).into_response(),
        Err(running) => (StatusCode::CONFLICT, Json(render(&running.snapshot()))).into_response(),
    })
}

/// `GET /berth/admin/gc`: the current or last run.
pub async fn gc_status(State(app): State<AppState>, req: Signed) -> Answer {
    app.registry
        .authorize_admin(&req.principal, AdminAction::CollectGarbage)
        .await
        .map_err(registry_error)?;
    match app.registry.gc_status() {
        Some(run) => Ok(Json(render(&run.snapshot())).into_response()),
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
        .authorize_admin(&req.principal, AdminAction::RunLifecycle)
        .await
        .map_err(registry_error)?;
    let run = app.registry.run_lifecycle().await.map_err(registry_error)?;
    Ok(Json(json!({
        "repositories": run.repositories,
        "expired": run.expired,
        "transitioned": run.transitioned,
        "skippedChanged": run.skipped_changed,
        "skippedTransitions": run.skipped_transitions,
        "failed": run.failed,
    }))
    .into_response())
}

fn render(s: &GcSnapshot) -> serde_json::Value {
    json!({
        "id": s.id,
        "dryRun": s.dry_run,
        "graceSeconds": s.grace_secs,
        "phase": s.phase.as_str(),
        "examined": s.examined,
        "total": s.total,
        "linksRemoved": s.links_removed,
        "blobsDeleted": s.blobs_deleted,
        "bytesFreed": s.bytes_freed,
        "orphanFiles": s.orphan_files,
        "startedAt": s.started_at,
        "finishedAt": s.finished_at,
        "error": s.error,
    })
}

#[derive(serde::Deserialize, Default)]
struct VulnBatch {
    /// (origin, record JSON text) pairs.
    records: Vec<(String, String)>,
}

/// `POST /berth/admin/vulndb/records`: stores a batch of OSV records
/// (`berth vulndb import` sends them as it reads them); answers what the
/// batch did.
pub async fn import_vuln_records(State(app): State<AppState>, req: Signed) -> Answer {
    app.registry
        .authorize_admin(&req.principal, AdminAction::ImportVulnDb)
        .await
        .map_err(registry_error)?;
    let batch: VulnBatch = req.input()?;
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
    Ok(Json(json!(stats)).into_response())
}

/// `POST /berth/admin/vulndb/finish`: the import is over; the database's
/// update time becomes now and CONTINUOUS_SCAN repositories are re-matched.
pub async fn finish_vuln_import(State(app): State<AppState>, req: Signed) -> Answer {
    app.registry
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
    Ok(Json(json!({
        "updatedAt": source.updated_at,
        "generation": source.generation,
        "records": records,
    }))
    .into_response())
}
