//! SigV4-signed calls of the AWS Query APIs (IAM, STS) from tests and the
//! benchmark: a form body, the answer's status and XML. The `aws` CLI and
//! boto3 are tested against berth separately; this is for harnesses that
//! must not depend on them.

/// Calls `Action=<params…>` of `service` (`iam`: `2010-05-08`, `sts`:
/// `2011-06-15`) as (`key_id`, `secret`), with a session token when given.
pub fn call(
    client: &reqwest::blocking::Client,
    base_url: &str,
    key: (&str, &str),
    session_token: Option<&str>,
    service: &str,
    params: &[(&str, &str)],
) -> (u16, String) {
    let version = if service == "sts" {
        "2011-06-15"
    } else {
        "2010-05-08"
    };
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Version", version);
    for (k, v) in params {
        form.append_pair(k, v);
    }
    let body = form.finish();
    let r = crate::signed::post(
        client,
        base_url,
        &crate::signed::Signer {
            key,
            session_token,
            region: "us-east-1",
            service,
        },
        &[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        )],
        body,
    );
    (r.status().as_u16(), r.text().unwrap_or_default())
}

/// The text of the first `<name>` element of an answer.
pub fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

/// Temporary credentials of a new session of `role_arn`, assumed as `key`:
/// (access key id, secret, session token).
pub fn assume_role(
    client: &reqwest::blocking::Client,
    base_url: &str,
    key: (&str, &str),
    role_arn: &str,
    session: &str,
) -> (String, String, String) {
    let (status, xml) = call(
        client,
        base_url,
        key,
        None,
        "sts",
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", role_arn),
            ("RoleSessionName", session),
        ],
    );
    assert_eq!(status, 200, "AssumeRole: {xml}");
    let get = |n: &str| element(&xml, n).expect(n).to_string();
    (
        get("AccessKeyId"),
        get("SecretAccessKey"),
        get("SessionToken"),
    )
}
