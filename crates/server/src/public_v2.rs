//! The public host's `/v2` and `/token` (issue 24; ARCHITECTURE.md,
//! "Public repositories"). On the public host `/v2/<alias>/<repository>/…`
//! is the distribution API of the alias's account's public registry (the
//! `@public` key), and nothing else: no private repository is reachable
//! there, and the account hosts never reach `@public`.
//!
//! Clients authenticate as they do with any public registry: `/v2` answers
//! `401` with a `Bearer` challenge naming `/token`, which hands out an
//! anonymous token, or, for `Basic AWS:<password>` (ECR Public's
//! GetAuthorizationToken, as `docker login` stores it), the password itself
//! as the bearer token. Tokens authenticate only: every request is then
//! authorized by the IAM engine (`authorize`), so a token carries no scope.

use crate::oci_error::OciError;
use crate::public_quota::Throttled;
use crate::route::V2Route;
use crate::v2_auth::{basic_aws_password, credentials_unavailable, Caller};
use crate::AppState;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use berth_iam::token::TokenError;
use berth_registry::{public_key, Principal, RegistryKey, RequestFacts, TokenRefusal};
use http::{header, HeaderMap, Method, StatusCode};

/// How long an anonymous token works (Distribution's token servers hand
/// out 5 minutes; clients fetch another when it runs out).
const ANONYMOUS_TOKEN_SECS: i64 = 300;

/// A request on the public host, once its path's alias is resolved.
pub struct PublicScope {
    /// The registry alias the path began with.
    pub alias: String,
    /// The alias's account's public registry.
    pub registry: RegistryKey,
}

impl PublicScope {
    /// Counts a pull (a manifest GET) against the caller's quota: its
    /// source IP's when anonymous, its account's otherwise.
    pub fn count_pull(
        &self,
        app: &AppState,
        principal: &Principal,
        facts: &RequestFacts,
    ) -> Result<(), OciError> {
        let quotas = &app.public_pulls;
        let authenticated = !principal.anonymous;
        let taken = if authenticated {
            quotas.take(
                &format!("account:{}", principal.account_id),
                quotas.authenticated,
            )
        } else {
            // An IPv6 client has a /64 to rotate through: it is one client.
            let ip = match facts.source_ip.map(|ip| ip.to_canonical()) {
                Some(std::net::IpAddr::V6(v6)) => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
                Some(v4) => v4.to_string(),
                None => "unknown".to_string(),
            };
            quotas.take(&format!("ip:{ip}"), quotas.anonymous)
        };
        app.metrics.count_public_pull(authenticated, taken.is_err());
        let Err(Throttled::RetryAfter(secs)) = taken else {
            return Ok(());
        };
        let who = if authenticated {
            "this account's authenticated pulls"
        } else {
            "anonymous pulls from this address; `docker login` to the public host for a higher quota"
        };
        Err(OciError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOOMANYREQUESTS",
            format!("pull rate limit reached for {who}; retry in {secs} s"),
        )
        .header("retry-after", secs.to_string()))
    }
}

/// The caller of a `/v2` request on the public host: anonymous with an
/// anonymous token, a principal with a login password (as the bearer
/// token, or as Basic `AWS:<password>`), else `401` with the challenge.
pub async fn caller(
    app: &AppState,
    headers: &HeaderMap,
    route: Option<&V2Route>,
) -> Result<Caller, OciError> {
    let refuse = |message: &str| challenge(app, headers, route, message);
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(refuse(
            "authentication required: get a token from the realm of this challenge (anonymous pulls need no credentials)",
        ));
    };
    let (scheme, credentials) = value.trim_start().split_once(' ').unwrap_or((value, ""));
    let credentials = credentials.trim();
    let password = if scheme.eq_ignore_ascii_case("bearer") {
        let identity = app.registry.identity();
        // `djB8` is `v0|` in base64url: login passwords skip the check.
        let anonymous = if credentials.starts_with("djB8") {
            identity.verify_anonymous_token(credentials)
        } else {
            Err(TokenError::Invalid)
        };
        match anonymous {
            Ok(()) => {
                return Ok(Caller {
                    registry: app.hosts.default_registry(),
                    principal: Principal::anonymous(),
                })
            }
            Err(TokenError::Expired) => return Err(refuse("the token has expired; get another")),
            Err(TokenError::Invalid) => credentials.to_string(),
        }
    } else if scheme.eq_ignore_ascii_case("basic") {
        basic_aws_password(value).ok_or_else(|| {
            refuse("credentials must be Basic with user AWS and a password from ECR Public's GetAuthorizationToken")
        })?
    } else {
        return Err(refuse(
            "credentials must be a Bearer token from the realm of this challenge",
        ));
    };
    let principal = verify_password(app, &password).await.map_err(|e| match e {
        Refused::Unavailable(e) => e,
        Refused::Invalid(m) => refuse(m),
    })?;
    Ok(Caller {
        registry: app.hosts.default_registry(),
        principal,
    })
}

enum Refused {
    Invalid(&'static str),
    Unavailable(OciError),
}

/// Who a login password (ECR Public's or ECR's GetAuthorizationToken: both
/// only authenticate) speaks for.
async fn verify_password(app: &AppState, password: &str) -> Result<Principal, Refused> {
    app.registry
        .identity()
        .verify_token(password)
        .await
        .map_err(|e| match e {
            TokenRefusal::Token(TokenError::Expired) => Refused::Invalid(
                "Your authorization token has expired. Reauthenticate and try again.",
            ),
            TokenRefusal::Token(TokenError::Invalid) => {
                Refused::Invalid("the token is not valid; log in again")
            }
            TokenRefusal::Unavailable(e) => Refused::Unavailable(credentials_unavailable(&e)),
        })
}

/// The route in the alias's public registry: `/v2/<alias>/<name>/…` is
/// `<name>` of the account that owns `<alias>`. An alias no registry has
/// is NAME_UNKNOWN, as a missing repository is; there is no catalog.
pub async fn scope(
    app: &AppState,
    headers: &HeaderMap,
    route: V2Route,
) -> Result<(V2Route, Option<PublicScope>), OciError> {
    if matches!(route, V2Route::Base) {
        return Ok((route, None));
    }
    let Some(full) = route.name() else {
        return Err(no_catalog(app, headers));
    };
    let unknown = || OciError::from(berth_registry::Error::NameUnknown(full.to_string()));
    let Some((alias, rest)) = full.as_str().split_once('/') else {
        return Err(unknown());
    };
    let name = berth_oci::RepositoryName::parse(rest).map_err(|_| unknown())?;
    let account = app
        .registry
        .public_account(alias)
        .await
        .map_err(OciError::from)?
        .ok_or_else(unknown)?;
    let scope = PublicScope {
        alias: alias.to_string(),
        registry: public_key(&account),
    };
    Ok((route.with_name(name), Some(scope)))
}

/// `Ok` if the caller may make the request that needs `ecr_action` on a
/// private registry: reads are everyone's unless a policy denies them;
/// pushes and deletes need credentials and ECR Public's actions, under the
/// caller's identity policies and the repository's policy.
pub async fn authorize(
    app: &AppState,
    principal: &Principal,
    ecr_action: &str,
    registry: &RegistryKey,
    name: &berth_oci::RepositoryName,
    facts: &RequestFacts,
) -> Result<(), OciError> {
    let Some((action, read)) = crate::v2_access::public_action(ecr_action) else {
        return Err(OciError::new(
            StatusCode::FORBIDDEN,
            "DENIED",
            format!("{ecr_action} has no counterpart on public repositories"),
        ));
    };
    if read {
        app.registry
            .identity()
            .authorize_public_read(principal, action, registry, name.as_str(), facts)
            .await?;
        return Ok(());
    }
    if principal.anonymous {
        return Err(OciError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "pushing to a public repository needs credentials: aws ecr-public get-login-password | docker login --username AWS --password-stdin <public host>",
        ));
    }
    app.registry
        .authorize(principal, action, registry, Some(name.as_str()), facts)
        .await?;
    Ok(())
}

/// `401` with the `Bearer` challenge that sends clients to `/token`.
fn challenge(
    app: &AppState,
    headers: &HeaderMap,
    route: Option<&V2Route>,
    message: &str,
) -> OciError {
    // The configured name with the request's port (digits only): a Host
    // header's other contents are never echoed into where clients send
    // their credentials.
    let host = app.hosts.public_host(
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default(),
    );
    let mut value = format!(
        "Bearer realm=\"{}://{host}/token\",service=\"{host}\"",
        app.hosts.scheme
    );
    if let Some(name) = route.and_then(V2Route::name) {
        value.push_str(&format!(",scope=\"repository:{name}:pull\""));
    }
    OciError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
        .header("www-authenticate", value)
}

/// `GET /token` on the public host (the Distribution token specification):
/// an anonymous token without credentials, the login password as the token
/// with `Basic AWS:<password>`. Elsewhere it is not found.
pub async fn token(State(app): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    if !app
        .hosts
        .is_public(parts.version, &parts.uri, &parts.headers)
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    if parts.method != Method::GET {
        // containerd tries OAuth's POST first and falls back to GET on 405.
        let mut resp = StatusCode::METHOD_NOT_ALLOWED.into_response();
        resp.headers_mut()
            .insert(header::ALLOW, http::HeaderValue::from_static("GET"));
        return resp;
    }
    let identity = app.registry.identity();
    let (token, expires_in) = match parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        None => (
            identity.issue_anonymous_token(ANONYMOUS_TOKEN_SECS).0,
            ANONYMOUS_TOKEN_SECS,
        ),
        Some(value) => {
            let refused = |m: &str| {
                OciError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", m).into_response()
            };
            let Some(password) = basic_aws_password(value) else {
                return refused("credentials must be Basic with user AWS and a password from ECR Public's GetAuthorizationToken");
            };
            match verify_password(&app, &password).await {
                Ok(_) => (password, ANONYMOUS_TOKEN_SECS),
                Err(Refused::Invalid(m)) => return refused(m),
                Err(Refused::Unavailable(e)) => return e.into_response(),
            }
        }
    };
    let issued_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let body = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": expires_in,
        "issued_at": issued_at,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `/v2/_catalog` on the public host.
fn no_catalog(app: &AppState, headers: &HeaderMap) -> OciError {
    let host = app.hosts.public_host(
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default(),
    );
    OciError::new(
        StatusCode::NOT_FOUND,
        "UNSUPPORTED",
        format!(
            "public registries have no catalog: search the gallery at {}://{host}/",
            app.hosts.scheme
        ),
    )
}
