//! Console sign-in: the session cookie (`berth_session`: HttpOnly,
//! SameSite=Strict, Secure on TLS, path `/console`), the CSRF token every
//! form carries (derived from the cookie's secret, which a page of another
//! site can neither read nor guess), the sign-in form's own double-submit
//! token (there is no session yet to derive one from), and the region the
//! pages address (`berth_region`). The rules — timeouts, the access key
//! re-read on each request — are the registry's (`console_sessions.rs`).

use super::view::{self, Frame};
use crate::AppState;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use berth_registry::{ConsoleUser, RegistryKey, RequestFacts};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use rand::RngCore as _;
use sha2::Digest as _;

const SESSION: &str = "berth_session";
const SIGN_IN: &str = "berth_sign_in";
const REGION: &str = "berth_region";
/// A form's body is a few fields.
const MAX_FORM: usize = 64 * 1024;

/// The request's session (`Ctx`), or return the answer that sends the
/// browser to sign in.
macro_rules! signed_in {
    ($app:expr, $request:expr) => {{
        let (parts, _) = $request.into_parts();
        match Ctx::load(&$app, &parts).await {
            Ok(c) => c,
            Err(resp) => return resp,
        }
    }};
}
pub(super) use signed_in;

/// A form post: the session, then (its CSRF token checked) the form; or
/// return the answer that refuses it.
macro_rules! posted {
    ($app:expr, $request:expr) => {{
        let (parts, body) = $request.into_parts();
        let ctx = match Ctx::load(&$app, &parts).await {
            Ok(c) => c,
            Err(resp) => return resp,
        };
        match ctx.form(body).await {
            Ok(form) => (ctx, form),
            Err(resp) => return resp,
        }
    }};
}
pub(super) use posted;

/// The signed-in user of a request, with what its pages need.
pub struct Ctx {
    pub app: AppState,
    pub user: ConsoleUser,
    /// The session cookie's secret (signing out names it).
    secret: String,
    pub csrf: String,
    pub region: String,
    pub facts: RequestFacts,
    pub host: String,
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(app: &AppState, name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
    let secure = if app.hosts.scheme == "https" {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are hex or a region name")
}

/// The CSRF token of a session: not the secret, but only its holder can
/// compute it.
fn csrf_of(secret: &str) -> String {
    let d = sha2::Sha256::digest(format!("berth console csrf\0{secret}").as_bytes());
    hex::encode(&d[..16])
}

fn same(a: &str, b: &str) -> bool {
    sha2::Sha256::digest(a.as_bytes()) == sha2::Sha256::digest(b.as_bytes())
}

pub fn valid_region(r: &str) -> bool {
    (1..=32).contains(&r.len())
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn to_sign_in() -> Response {
    super::see_other("/console/sign-in")
}

impl Ctx {
    /// The request's session, or the answer that sends the browser to
    /// sign in. Only headers are read: nothing of a body is, before this.
    pub async fn load(app: &AppState, parts: &http::request::Parts) -> Result<Ctx, Response> {
        let Some(secret) = cookie(&parts.headers, SESSION) else {
            return Err(to_sign_in());
        };
        let user = match app.registry.console_user(secret).await {
            Ok(Some(user)) => user,
            Ok(None) => return Err(to_sign_in()),
            Err(e) => return Err(view::failure(None, &e.to_string())),
        };
        let region = cookie(&parts.headers, REGION)
            .filter(|r| valid_region(r))
            .unwrap_or(&app.hosts.default_region)
            .to_string();
        Ok(Ctx {
            app: app.clone(),
            csrf: csrf_of(secret),
            secret: secret.to_string(),
            user,
            region,
            facts: crate::connection_facts(app, &parts.extensions, &parts.headers),
            host: parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("localhost")
                .to_string(),
        })
    }

    pub fn frame(&self, section: &'static str) -> Frame {
        let p = &self.user.principal;
        Frame {
            section,
            csrf: self.csrf.clone(),
            region: self.region.clone(),
            account: p.account_id.clone(),
            // A role session is named as its ARN ends: role/session.
            name: match p.role() {
                Some(r) => format!("{}/{}", r.name, r.session),
                None => p.user.clone(),
            },
            arn: p.arn(),
        }
    }

    /// The registry the pages address: the user's account in the region.
    pub fn registry(&self) -> RegistryKey {
        RegistryKey {
            account_id: self.user.principal.account_id.clone(),
            region: self.region.clone(),
        }
    }

    /// The host name images of the registry are pushed to (as
    /// `repositoryUri` says).
    pub fn registry_host(&self) -> String {
        self.app.hosts.registry_host(
            &self.registry(),
            &self.user.principal.account_id,
            &self.host,
        )
    }

    /// An ECR operation as the user (`ecr::invoke`).
    pub async fn ecr(
        &self,
        op: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, crate::aws_error::AwsError> {
        crate::ecr::invoke(
            &self.app,
            self.user.principal.clone(),
            &self.user.access_key_id,
            &self.region,
            &self.host,
            self.facts.clone(),
            op,
            input,
        )
        .await
    }

    /// Whether the user may do `action` (on a repository, or the
    /// registry), as the API would decide: a page offers only what works.
    pub async fn can(&self, action: &str, repository: Option<&str>) -> bool {
        self.authorize(action, repository).await.is_ok()
    }

    /// `Ok` if the user may do `action` (the API's decision and its
    /// AccessDenied wording otherwise), for what no operation answers.
    pub async fn authorize(
        &self,
        action: &str,
        repository: Option<&str>,
    ) -> Result<(), crate::aws_error::AwsError> {
        let registry = self.registry();
        self.app
            .registry
            .authorize(
                &self.user.principal,
                action,
                &registry,
                repository,
                &self.facts,
            )
            .await
            .map_err(|e| crate::aws_error::AwsError::from_registry(e, &registry.account_id))
    }

    /// The registry as page headings name it: account · region.
    pub fn registry_label(&self) -> String {
        format!("{} · {}", self.user.principal.account_id, self.region)
    }

    /// The user as the registry's IAM calls take it.
    pub fn caller(&self) -> berth_registry::Caller {
        berth_registry::Caller {
            principal: self.user.principal.clone(),
            facts: self.facts.clone(),
        }
    }

    /// A form's fields, after its CSRF token is checked; the answer to
    /// send instead when it is missing or wrong, or the body too large.
    pub async fn form(&self, body: axum::body::Body) -> Result<Form, Response> {
        let form = read_form(body).await?;
        match form.get("csrf") {
            Some(t) if same(t, &self.csrf) => Ok(form),
            _ => Err(forged()),
        }
    }
}

/// A form's fields by name (the first of each).
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().trim().to_string()
    }
}

async fn read_form(body: axum::body::Body) -> Result<Form, Response> {
    let bytes = axum::body::to_bytes(body, MAX_FORM).await.map_err(|_| {
        view::error_page(
            None,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Form too large",
            "The form sent more than 64 KiB; shorten what you entered.",
        )
    })?;
    Ok(Form(
        form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    ))
}

fn forged() -> Response {
    view::error_page(
        None,
        StatusCode::FORBIDDEN,
        "Form refused",
        "This form did not come from your console session (its CSRF token is missing or wrong), or the session ended. Reload the page and try again.",
    )
}

pub async fn sign_in_page(State(app): State<AppState>) -> Response {
    render_sign_in(&app, None, StatusCode::OK)
}

fn render_sign_in(app: &AppState, error: Option<String>, status: StatusCode) -> Response {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let mut resp = view::sign_in(error, &token, status);
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(app, SIGN_IN, &token, "/console/sign-in", 3600),
    );
    resp
}

pub async fn sign_in(State(app): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let expected = cookie(&parts.headers, SIGN_IN).map(str::to_string);
    let form = match read_form(body).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    match (expected, form.get("csrf")) {
        (Some(e), Some(t)) if same(&e, t) => {}
        _ => return forged(),
    }
    let key = form.text("access_key_id");
    let secret = form.get("secret_access_key").unwrap_or_default();
    let token = form
        .get("session_token")
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match app.registry.open_console_session(&key, secret, token).await {
        Ok(Some(session)) => {
            tracing::info!(access_key_id = %key, "console sign-in");
            let mut resp = super::see_other("/console/repositories");
            let max_age = berth_registry::CONSOLE_ABSOLUTE_MS / 1000;
            resp.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&app, SESSION, &session, "/console", max_age),
            );
            resp
        }
        Ok(None) => {
            tracing::info!(access_key_id = %key, "console sign-in refused");
            render_sign_in(
                &app,
                Some(
                    "The access key ID, secret access key or session token is wrong, or the credentials are inactive or expired."
                        .into(),
                ),
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(e) => view::failure(None, &e.to_string()),
    }
}

pub async fn sign_out(State(app): State<AppState>, request: Request) -> Response {
    let (ctx, _) = posted!(app, request);
    if let Err(e) = app.registry.close_console_session(&ctx.secret).await {
        return view::failure(None, &e.to_string());
    }
    let mut resp = to_sign_in();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&app, SESSION, "", "/console", 0),
    );
    resp
}

pub async fn switch_region(State(app): State<AppState>, request: Request) -> Response {
    let (ctx, form) = posted!(app, request);
    let region = form.text("region");
    if !valid_region(&region) {
        return view::error_page(
            Some(ctx.frame("repositories")),
            StatusCode::BAD_REQUEST,
            "Not a region name",
            "A region name is lowercase letters, digits and dashes, such as us-west-2.",
        );
    }
    let mut resp = super::see_other("/console/repositories");
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&app, REGION, &region, "/console", 365 * 24 * 3600),
    );
    resp.into_response()
}
