//! The Amazon ECR API: `POST /` with `X-Amz-Target:
//! AmazonEC2ContainerRegistry_V20150921.<Operation>`, AWS JSON 1.1 bodies,
//! SigV4-signed. This module reads the request and finds its operation in
//! the table (`table`); errors become AWS errors in `aws_error`.
//!
//! Modules, each importing only those below it:
//! - `table`: every operation of the model, implemented or not;
//! - the operations by area: `repositories`, `images`, `layers` (with
//!   `layer_part`, UploadLayerPart's body), `tagging`, `settings`,
//!   `policies`, `lifecycle`, `scanning`, `templates` (repository creation
//!   templates);
//! - shared by the operations: `operation` (the `EcrOperation` trait and
//!   the erased entry), `access` (the request's scope and what it needs),
//!   `call` (`Call`, `Failure`, the common member checks), `image_ids`,
//!   `paging`.

mod access;
mod call;
mod image_ids;
mod images;
mod layer_part;
mod layers;
mod lifecycle;
mod operation;
pub(crate) mod paging;
mod policies;
mod pull_through_cache;
mod replication;
mod repositories;
mod scanning;
mod settings;
mod table;
mod tagging;
mod templates;

pub use call::Call;
pub use table::{IMPLEMENTED_OPERATIONS, OPERATIONS};

use crate::aws_error::AwsError;
use crate::aws_json::read_body;
use crate::AppState;
use axum::body::Body;
use axum::response::Response;
use berth_registry::RegistryKey;
use berth_registry::RequestFacts;
use http::{HeaderMap, Method, Uri};
use operation::EcrOperation as _;
use sha2::Digest as _;

pub const TARGET_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921.";
/// Every operation's body is small except UploadLayerPart's (up to ~28 MB
/// of base64), which `layer_part` reads as a stream.
const MAX_BODY: usize = 1024 * 1024;

/// An ECR request (`ECR`), or an ECR Public request of an operation ECR
/// Public shares with ECR (`ECR_PUBLIC`).
pub async fn api(
    flavor: &Flavor,
    app: AppState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    facts: RequestFacts,
) -> Response {
    crate::aws_json::respond(
        handle(&app, &method, &uri, &headers, body, facts, flavor).await,
        flavor.api,
    )
}

/// Which API a request of this module's operations came through: ECR's,
/// or ECR Public's for the operations both share
/// (`ecr_public::table::Handler::Ecr`), which then run on the caller's
/// public registry (the `@public` key) and are authorized as `ecr-public:`
/// actions.
pub struct Flavor {
    target_prefix: &'static str,
    api: &'static str,
    service: &'static str,
    public: bool,
}

pub const ECR: Flavor = Flavor {
    target_prefix: TARGET_PREFIX,
    api: "Amazon ECR",
    service: "ecr",
    public: false,
};

/// ECR Public's target prefix (`ecr_public` re-exports it).
pub const PUBLIC_TARGET_PREFIX: &str = "SpencerFrontendService.";

pub const ECR_PUBLIC: Flavor = Flavor {
    target_prefix: PUBLIC_TARGET_PREFIX,
    api: "Amazon ECR Public",
    service: "ecr-public",
    public: true,
};

async fn handle(
    app: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    facts: RequestFacts,
    flavor: &Flavor,
) -> Result<Response, AwsError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let op = target.strip_prefix(flavor.target_prefix).unwrap_or("");
    let Some(entry) = table::find(op) else {
        return Err(AwsError::client(
            "UnknownOperationException",
            format!("'{target}' is not an operation of the {} API", flavor.api),
        ));
    };
    let Some(handler) = &entry.handler else {
        return Err(AwsError::client(
            "UnsupportedOperationException",
            format!("berth does not implement the ECR operation {op} yet"),
        ));
    };
    // Everything that can be refused from the headers is, before any of
    // the body is read (an unknown key never costs a body).
    let identified = crate::signed::identify(app, method, uri, headers, flavor.service).await?;
    // The JSON of small bodies is parsed once the signature checks out.
    // UploadLayerPart's (up to ~28 MB) counts against the large-body budget
    // while it is held.
    let mut _large_body = None;
    let (payload_sha256, bytes, layer_part) = if op == layers::UploadLayerPart::NAME {
        _large_body = Some(
            app.bodies
                .budget
                .reserve(
                    headers,
                    layer_part::MAX_BODY as usize,
                    &identified.claim.access_key_id,
                )
                .await
                .map_err(busy)?,
        );
        let b = layer_part::read(body).await?;
        (b.payload_sha256, Err(b.input), Some(b.part))
    } else {
        let bytes = read_body(body, MAX_BODY, "InvalidParameterException").await?;
        (hex::encode(sha2::Sha256::digest(&bytes)), Ok(bytes), None)
    };
    let crate::signed::Signer { principal, claim } =
        identified.verify(method, uri, headers, &payload_sha256)?;
    let input: serde_json::Value = match bytes {
        Err(parsed) => parsed,
        Ok(bytes) => crate::aws_json::input(&bytes)?,
    };
    let caller = Caller {
        principal,
        access_key_id: &claim.access_key_id,
        region: if flavor.public {
            berth_registry::PUBLIC_REGION
        } else {
            &claim.region
        },
        public: flavor.public,
        host: headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost"),
        facts,
        replica: headers.contains_key(crate::REPLICA_HEADER),
    };
    Ok(crate::aws_json::ok(
        run_as(app, handler, caller, input, layer_part).await?,
    ))
}

/// Who runs an operation, and from where.
struct Caller<'a> {
    principal: berth_registry::Principal,
    access_key_id: &'a str,
    /// The registry's region: the signature's, or `@public` for ECR Public.
    region: &'a str,
    /// Through ECR Public: the actions are `ecr-public:`.
    public: bool,
    host: &'a str,
    facts: RequestFacts,
    replica: bool,
}

/// An operation's handler run as `caller`: the registry the input names
/// (else the caller's own), then what it needs authorized, then it.
async fn run_as(
    app: &AppState,
    handler: &operation::Handler,
    caller: Caller<'_>,
    input: serde_json::Value,
    layer_part: Option<bytes::Bytes>,
) -> Result<Vec<u8>, AwsError> {
    let scope = access::Scope::of(&input);
    let call = Call {
        app,
        registry: RegistryKey {
            account_id: scope
                .target_account()
                .unwrap_or(&caller.principal.account_id)
                .to_string(),
            region: caller.region.to_string(),
        },
        principal: caller.principal,
        facts: caller.facts,
        host: caller.host.to_string(),
        access_key_id: caller.access_key_id.to_string(),
        layer_part,
        replica: caller.replica,
    };
    // Refused before authorization only when the members that name what
    // the request touches are malformed (a tag operation's ARN).
    let mut needs = (handler.needs)(&scope)?;
    if caller.public {
        for (action, _) in &mut needs.checks {
            if let Some(op) = action.strip_prefix("ecr:") {
                *action = format!("ecr-public:{op}");
            }
        }
    }
    (handler.run)(&call, needs, input).await
}

/// Runs operation `op` as `principal`, who signed in to the console with
/// `access_key_id`, in `region`: the same table entry, authorization and
/// input checks as a signed request of the API, so a console page can do
/// nothing its user could not do with the aws CLI.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn invoke(
    app: &AppState,
    principal: berth_registry::Principal,
    access_key_id: &str,
    region: &str,
    host: &str,
    facts: RequestFacts,
    op: &str,
    input: serde_json::Value,
) -> Result<serde_json::Value, AwsError> {
    let Some(handler) = table::find(op).and_then(|e| e.handler.as_ref()) else {
        return Err(AwsError::client(
            "UnsupportedOperationException",
            format!("berth does not implement the ECR operation {op} yet"),
        ));
    };
    let caller = Caller {
        principal,
        access_key_id,
        region,
        public: false,
        host,
        facts,
        replica: false,
    };
    let out = run_as(app, handler, caller, input, None).await?;
    Ok(serde_json::from_slice(&out).expect("an operation's output is JSON"))
}

/// No room for another large body: the caller's key has as many in flight
/// as it may, or the server as many as it has memory for.
pub(crate) fn busy(why: crate::body::NoRoom) -> AwsError {
    let message = match why {
        crate::body::NoRoom::KeyBusy => format!(
            "this access key already has {} large request bodies in flight; wait for one to finish",
            crate::body::LARGE_BODIES_PER_KEY
        ),
        crate::body::NoRoom::Full => {
            "the server is reading as many large request bodies as it has memory for; retry shortly"
                .to_string()
        }
    };
    AwsError::new(
        http::StatusCode::SERVICE_UNAVAILABLE,
        "ServerException",
        message,
    )
}
