//! Pulls from a public repository (issue 24): manifest GET by tag at 64
//! connections on the public host, with an anonymous token from `/token`
//! beside a login password, back to back. Anonymous pulls should cost what
//! authenticated ones do (the target: within 10%). berth only:
//! Distribution has no public repositories. The quotas are off in the
//! harness (`servers.rs`), so this measures the pull path.

use crate::client::{self, empty, Conn, ACCEPT_MANIFESTS};
use crate::load::{self, Shape};
use crate::plan::Plan;
use crate::report::{Better, Results};
use crate::servers::{Kind, Server};
use crate::{progress, who};
use anyhow::{ensure, Context};
use berth_testkit::image::Image;
use http::{HeaderValue, Method, StatusCode};

pub const ROW: &str = "public manifest GET by tag at 64 connections, anonymous token";
const REPO: &str = "bench/public";

pub async fn pulls(
    berth: &Server,
    image: &Image,
    plan: &Plan,
    results: &mut Results,
) -> anyhow::Result<()> {
    let addr = berth.addr;
    let creds = berth.creds.clone().context("berth's login")?;
    let url = format!("http://{addr}");
    let alias = tokio::task::spawn_blocking(move || public_repository(&url)).await??;
    let host = format!("public.localhost:{}", addr.port());
    let repo = format!("{alias}/{REPO}");
    client::set_host(addr, Some(&host));
    let measured = measure(addr, &creds, &repo, image, plan).await;
    client::set_host(addr, None);
    client::set_auth(addr, &creds);
    let (anonymous, authenticated) = measured?;
    results.add_limit(
        ROW,
        "req/s",
        Better::Higher,
        "a login password",
        authenticated,
    );
    results.add(ROW, "req/s", Better::Higher, who(Kind::Berth), anonymous);
    progress(&format!(
        "public: manifest GET by tag at 64, anonymous {anonymous:.0}/s, with a login password {authenticated:.0}/s"
    ));
    Ok(())
}

/// (anonymous, authenticated) manifest GETs per second.
async fn measure(
    addr: std::net::SocketAddr,
    creds: &str,
    repo: &str,
    image: &Image,
    plan: &Plan,
) -> anyhow::Result<(f64, f64)> {
    // Publish with the login password (Basic, as `curl -u` sends it).
    client::set_auth(addr, creds);
    let mut c = Conn::connect(addr).await?;
    client::push_image(&mut c, repo, image, "latest").await?;
    client::set_authorization(addr, None);
    let mut c = Conn::connect(addr).await?;
    let (status, _, body) = c
        .call(c.request(Method::GET, "/token").body(empty())?)
        .await?;
    ensure!(status == StatusCode::OK, "GET /token: {status}");
    let token: serde_json::Value = serde_json::from_slice(&body)?;
    let token = token["token"].as_str().context("a token")?;
    let shape = Shape {
        method: Method::GET,
        path: format!("/v2/{repo}/manifests/latest"),
        accept: Some(HeaderValue::from_static(ACCEPT_MANIFESTS)),
    };
    let bearer = |t: &str| HeaderValue::from_str(&format!("Bearer {t}")).ok();
    client::set_authorization(addr, bearer(token));
    let anonymous = load::run(addr, shape.clone(), 64, plan.warmup, plan.measure).await?;
    let password = creds.strip_prefix("AWS:").context("AWS:<password>")?;
    client::set_authorization(addr, bearer(password));
    let authenticated = load::run(addr, shape, 64, plan.warmup, plan.measure).await?;
    Ok((anonymous.rate(), authenticated.rate()))
}

/// The default account's alias, with its public repository made (once).
fn public_repository(url: &str) -> anyhow::Result<String> {
    use berth_testkit::signed::{json_call, Signer};
    let client = reqwest::blocking::Client::new();
    let signer = Signer {
        key: (
            berth_testkit::ROOT_ACCESS_KEY_ID,
            berth_testkit::ROOT_SECRET_ACCESS_KEY,
        ),
        session_token: None,
        region: "us-east-1",
        service: "ecr-public",
    };
    let call = |op: &str, input: serde_json::Value| {
        json_call(
            &client,
            url,
            &signer,
            &format!("SpencerFrontendService.{op}"),
            &input,
        )
    };
    match call(
        "CreateRepository",
        serde_json::json!({"repositoryName": REPO}),
    ) {
        Ok(_) => {}
        Err((_, e)) if e["__type"] == "RepositoryAlreadyExistsException" => {}
        Err((status, e)) => anyhow::bail!("ECR Public CreateRepository: {status} {e}"),
    }
    let registries = call("DescribeRegistries", serde_json::json!({}))
        .map_err(|(status, e)| anyhow::anyhow!("DescribeRegistries: {status} {e}"))?;
    Ok(registries["registries"][0]["aliases"][0]["name"]
        .as_str()
        .context("an alias")?
        .to_string())
}
