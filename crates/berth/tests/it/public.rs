//! Public registries (issue 24, begun) through `aws ecr-public`: an
//! account's registry and its alias (assigned at first use, kept, unique
//! per account), its catalog data, `ecr-public:` authorization by the
//! caller's policies, and a clear refusal of what is not built yet.

use crate::common::*;
use berth_testkit::tools;

fn env_of(s: &berth_testkit::TestServer, key: &(String, String)) -> Vec<(&'static str, String)> {
    let mut env = s.aws_env("us-east-1");
    env[0].1 = key.0.clone();
    env[1].1 = key.1.clone();
    env
}

#[test]
fn an_account_gets_a_public_registry_with_an_alias_and_catalog_data() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let root = s.aws_env("us-east-1");
    let described = json_of(
        &["ecr-public", "describe-registries"],
        aws_with(&root, &["ecr-public", "describe-registries"]),
    );
    let registry = &described["registries"][0];
    let alias = registry["aliases"][0]["name"].as_str().unwrap().to_string();
    assert!(
        alias.len() == 8 && alias.as_bytes()[0].is_ascii_lowercase(),
        "{alias}"
    );
    assert_eq!(registry["registryId"], "000000000000");
    assert_eq!(
        registry["registryArn"],
        "arn:aws:ecr-public::000000000000:registry/000000000000"
    );
    let port = s.url().rsplit(':').next().unwrap().to_string();
    assert_eq!(
        registry["registryUri"],
        format!("public.localhost:{port}/{alias}").as_str()
    );
    assert_eq!(registry["verified"], false);
    assert_eq!(registry["aliases"][0]["status"], "ACTIVE");
    assert_eq!(registry["aliases"][0]["defaultRegistryAlias"], true);
    let again = json_of(
        &["ecr-public", "describe-registries"],
        aws_with(
            &root,
            &["ecr-public", "describe-registries", "--max-results", "5"],
        ),
    );
    assert_eq!(
        again["registries"][0]["aliases"][0]["name"],
        alias.as_str(),
        "kept"
    );

    // Catalog data: none, then a display name; a name over 100 characters is refused.
    let empty = json_of(
        &["ecr-public", "get-registry-catalog-data"],
        aws_with(&root, &["ecr-public", "get-registry-catalog-data"]),
    );
    assert_eq!(empty["registryCatalogData"], serde_json::json!({}));
    let put = json_of(
        &["ecr-public", "put-registry-catalog-data"],
        aws_with(
            &root,
            &[
                "ecr-public",
                "put-registry-catalog-data",
                "--display-name",
                "Team Alpha",
            ],
        ),
    );
    assert_eq!(put["registryCatalogData"]["displayName"], "Team Alpha");
    let got = json_of(
        &["ecr-public", "get-registry-catalog-data"],
        aws_with(&root, &["ecr-public", "get-registry-catalog-data"]),
    );
    assert_eq!(got["registryCatalogData"]["displayName"], "Team Alpha");
    let long = "x".repeat(101);
    let refused = aws_with(
        &root,
        &[
            "ecr-public",
            "put-registry-catalog-data",
            "--display-name",
            &long,
        ],
    );
    assert!(!refused.status.success());
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(text.contains("InvalidParameterException"), "{text}");

    // Another account: its own registry and alias.
    let other = account_with_key(&s, "111111111111");
    let theirs = json_of(
        &["ecr-public", "describe-registries"],
        aws_with(&env_of(&s, &other), &["ecr-public", "describe-registries"]),
    );
    assert_eq!(theirs["registries"][0]["registryId"], "111111111111");
    assert_ne!(
        theirs["registries"][0]["aliases"][0]["name"],
        alias.as_str()
    );
    let their_catalog = json_of(
        &["ecr-public", "get-registry-catalog-data"],
        aws_with(
            &env_of(&s, &other),
            &["ecr-public", "get-registry-catalog-data"],
        ),
    );
    assert_eq!(
        their_catalog["registryCatalogData"],
        serde_json::json!({}),
        "not A's name"
    );

    // A user whose policies allow no ecr-public action is refused, named.
    let plain = user_with_key(&s, "plain");
    let denied = aws_with(&env_of(&s, &plain), &["ecr-public", "describe-registries"]);
    assert!(!denied.status.success());
    let text = String::from_utf8_lossy(&denied.stderr);
    assert!(
        text.contains("AccessDenied")
            && text.contains("user/plain")
            && text.contains("ecr-public:DescribeRegistries"),
        "{text}"
    );

    // What is not built yet says so.
    let create = aws_with(
        &root,
        &[
            "ecr-public",
            "create-repository",
            "--repository-name",
            "app",
        ],
    );
    assert!(!create.status.success());
    let text = String::from_utf8_lossy(&create.stderr);
    assert!(
        text.contains("UnsupportedCommandException") && text.contains("not built yet"),
        "{text}"
    );
}

/// No region a request can name reaches the public registries' key.
#[test]
fn no_request_names_the_public_region() {
    let hosts = berth_server::HostConfig {
        default_account: "000000000000".into(),
        default_region: "us-east-1".into(),
        domain: "localhost".into(),
        scheme: "http",
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::HOST,
        http::HeaderValue::from_str(&format!(
            "000000000000.dkr.ecr.{}.localhost:5000",
            berth_registry::PUBLIC_REGION
        ))
        .unwrap(),
    );
    assert_eq!(
        hosts.account_registry(http::Version::HTTP_11, &"/v2/".parse().unwrap(), &headers),
        None
    );
    assert!(!berth_server::console::valid_region(
        berth_registry::PUBLIC_REGION
    ));
}
