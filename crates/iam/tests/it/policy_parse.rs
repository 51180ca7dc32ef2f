//! Policy documents: what parses into what, and what is refused with which
//! message.

use berth_iam::policy::{
    ActionElement, AwsPrincipal, Effect, Policy, PolicyKind, PrincipalElement, ResourceElement,
    Version,
};

const IDENTITY: PolicyKind = PolicyKind::Identity;
const RESOURCE: PolicyKind = PolicyKind::Resource;

#[test]
fn a_full_identity_policy_parses() {
    let p = Policy::parse(
        r#"{
          "Version": "2012-10-17",
          "Id": "pushers",
          "Statement": [
            {"Sid": "Push", "Effect": "Allow",
             "Action": ["ecr:PutImage", "ecr:*LayerUpload*"],
             "Resource": "arn:aws:ecr:us-east-1:111122223333:repository/team/*",
             "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": ["team-*", 7, true]},
                           "Bool": {"aws:SecureTransport": true}}},
            {"Effect": "Deny", "NotAction": "ecr:Get*", "NotResource": ["*"]}
          ]
        }"#,
        IDENTITY,
    )
    .unwrap();
    assert_eq!(p.version, Some(Version::V2012_10_17));
    assert_eq!(p.id.as_deref(), Some("pushers"));
    assert_eq!(p.statements.len(), 2);
    let s = &p.statements[0];
    assert_eq!(s.sid.as_deref(), Some("Push"));
    assert_eq!(s.effect, Effect::Allow);
    assert!(s.principal.is_none());
    let ActionElement::Action(actions) = &s.action else {
        panic!("Action")
    };
    assert_eq!(actions[1].as_str(), "ecr:*LayerUpload*");
    let Some(ResourceElement::Resource(resources)) = &s.resource else {
        panic!("Resource")
    };
    assert_eq!(
        resources[0].as_str(),
        "arn:aws:ecr:us-east-1:111122223333:repository/team/*"
    );
    assert_eq!(s.conditions.len(), 2);
    let mut names: Vec<String> = s.conditions.iter().map(|c| c.operator_name()).collect();
    names.sort();
    assert_eq!(names, ["Bool", "ForAnyValue:StringLike"]);
    assert!(matches!(
        p.statements[1].action,
        ActionElement::NotAction(_)
    ));
    assert!(matches!(
        p.statements[1].resource,
        Some(ResourceElement::NotResource(_))
    ));
}

#[test]
fn a_single_statement_object_and_an_absent_version_are_accepted() {
    let p = Policy::parse(
        r#"{"Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}}"#,
        IDENTITY,
    )
    .unwrap();
    assert_eq!(p.version, None);
    assert_eq!(p.statements.len(), 1);
    let old = Policy::parse(
        r#"{"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#,
        IDENTITY,
    )
    .unwrap();
    assert_eq!(old.version, Some(Version::V2008_10_17));
}

#[test]
fn principals_of_a_repository_policy_parse_in_every_form() {
    let p = Policy::parse(
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"},
            {"Effect": "Allow", "Principal": {"AWS": [
                "arn:aws:iam::111122223333:root", "444455556666",
                "arn:aws:iam::111122223333:user/alice", "*"]},
             "Action": "ecr:BatchGetImage"},
            {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"},
             "Action": "ecr:BatchGetImage"},
            {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:user/ci"},
             "Action": "ecr:PutImage"}
        ]}"#,
        RESOURCE,
    )
    .unwrap();
    let Some(PrincipalElement::Principal(everyone)) = &p.statements[0].principal else {
        panic!()
    };
    assert!(everyone.everyone);
    let Some(PrincipalElement::Principal(aws)) = &p.statements[1].principal else {
        panic!()
    };
    assert_eq!(
        aws.aws,
        vec![
            AwsPrincipal::Account("111122223333".into()),
            AwsPrincipal::Account("444455556666".into()),
            AwsPrincipal::Arn {
                account: "111122223333".into(),
                arn: "arn:aws:iam::111122223333:user/alice".into()
            },
            AwsPrincipal::Any,
        ]
    );
    let Some(PrincipalElement::Principal(svc)) = &p.statements[2].principal else {
        panic!()
    };
    assert_eq!(svc.service, vec!["codebuild.amazonaws.com".to_string()]);
    assert!(matches!(
        p.statements[3].principal,
        Some(PrincipalElement::NotPrincipal(_))
    ));
    // A repository policy's statements carry no Resource.
    assert!(p.statements[0].resource.is_none());
}

/// ECR accepts repository policies whose statements repeat a Sid (moto
/// #8933: "while discouraged, it works with ECR on AWS"), and Sids with
/// spaces (the AWS CLI's set-repository-policy example uses "allow public
/// pull"); IAM refuses a repeated Sid in an identity policy.
#[test]
fn repeated_sids_are_refused_only_in_identity_policies() {
    let statement = |sid: &str, principal: bool| {
        format!(
            r#"{{"Sid": "{sid}", "Effect": "Allow", {}"Action": "ecr:BatchGetImage"{}}}"#,
            if principal {
                r#""Principal": "*", "#
            } else {
                ""
            },
            if principal {
                ""
            } else {
                r#", "Resource": "*""#
            },
        )
    };
    let doc = |principal: bool| {
        format!(
            r#"{{"Version": "2012-10-17", "Statement": [{}, {}]}}"#,
            statement("allow public pull", principal),
            statement("allow public pull", principal),
        )
    };
    let p = Policy::parse(&doc(true), RESOURCE).unwrap();
    assert_eq!(p.statements.len(), 2);
    assert_eq!(p.statements[1].sid.as_deref(), Some("allow public pull"));
    let e = Policy::parse(&doc(false), IDENTITY).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Statement IDs (SID) in a single policy must be unique."),
        "{e}"
    );
}

#[test]
fn malformed_documents_are_refused_with_a_message_that_points_at_the_problem() {
    let allow = r#""Effect": "Allow", "Action": "ecr:*", "Resource": "*""#;
    let cases: Vec<(PolicyKind, String, &str)> = vec![
        (IDENTITY, "not json".into(), "the policy is not valid JSON: expected ident at line 1 column 2"),
        (IDENTITY, "[]".into(), "the policy document must be a JSON object"),
        (IDENTITY, r#"{"Version": "2012-10-17"}"#.into(), "the policy has no Statement"),
        (IDENTITY, r#"{"Statement": []}"#.into(), "Statement must be a statement or a non-empty list of statements"),
        (IDENTITY, format!(r#"{{"Version": "2012-10-18", "Statement": {{{allow}}}}}"#),
            r#"Version must be "2012-10-17" or "2008-10-17", not "2012-10-18""#),
        (IDENTITY, format!(r#"{{"Statement": {{{allow}}}, "statement": 1}}"#),
            "unknown element 'statement' in the policy document (element names are case-sensitive: did you mean 'Statement'?)"),
        (IDENTITY, format!(r#"{{"Statement": [{{{allow}}}, {{{allow}}}, {{"Effect": "allow", "Action": "ecr:*", "Resource": "*"}}]}}"#),
            r#"Statement[2].Effect must be "Allow" or "Deny""#),
        (IDENTITY, r#"{"Statement": {"Action": "ecr:*", "Resource": "*"}}"#.into(), "Statement[0] has no Effect"),
        (IDENTITY, format!(r#"{{"Statement": [{{{allow}}}, {{"Effect": "Allow", "Action": "ecr:*", "NotAction": "s3:*", "Resource": "*"}}]}}"#),
            "Statement[1] has both Action and NotAction"),
        (IDENTITY, r#"{"Statement": {"Effect": "Allow", "Resource": "*"}}"#.into(), "Statement[0] has neither Action nor NotAction"),
        (IDENTITY, r#"{"Statement": {"Effect": "Allow", "Action": "ecr:*"}}"#.into(), "Statement[0] has neither Resource nor NotResource"),
        (IDENTITY, r#"{"Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "*", "NotResource": "*"}}"#.into(),
            "Statement[0] has both Resource and NotResource"),
        (IDENTITY, format!(r#"{{"Statement": {{{allow}, "Principal": "*"}}}}"#),
            "Statement[0] has Principal, which an identity-based policy must not have"),
        (RESOURCE, r#"{"Statement": {"Effect": "Allow", "Action": "ecr:*"}}"#.into(),
            "Statement[0] has neither Principal nor NotPrincipal, which a resource-based policy must have"),
        (RESOURCE, r#"{"Statement": {"Effect": "Allow", "Principal": "*", "NotPrincipal": "*", "Action": "ecr:*"}}"#.into(),
            "Statement[0] has both Principal and NotPrincipal"),
        (IDENTITY, format!(r#"{{"Statement": {{{allow}, "Condition": {{"StringEqualz": {{"aws:username": "a"}}}}}}}}"#),
            "unknown condition operator 'StringEqualz' in Statement[0]"),
        (IDENTITY, format!(r#"{{"Statement": {{{allow}, "Condition": {{"NullIfExists": {{"aws:username": "true"}}}}}}}}"#),
            "unknown condition operator 'NullIfExists' in Statement[0]"),
        (IDENTITY, format!(r#"{{"Statement": {{{allow}, "Condition": {{"NumericLessThan": {{"s3:max-keys": "ten"}}}}}}}}"#),
            "Statement[0].Condition: NumericLessThan value 'ten' for key 's3:max-keys' is not a number"),
        (IDENTITY, format!(r#"{{"Statement": {{{allow}, "Condition": {{"IpAddress": {{"aws:SourceIp": "10.0.0.0/33"}}}}}}}}"#),
            "Statement[0].Condition: IpAddress value '10.0.0.0/33' for key 'aws:SourceIp' is not an IP address or CIDR block"),
        (IDENTITY, format!(r#"{{"Statement": {{{allow}, "Condition": {{"DateLessThan": {{"aws:CurrentTime": "soon"}}}}}}}}"#),
            "Statement[0].Condition: DateLessThan value 'soon' for key 'aws:CurrentTime' is not an ISO 8601 date or epoch seconds"),
        (IDENTITY, format!(r#"{{"Statement": {{{allow}, "Condition": {{"Bool": {{"aws:SecureTransport": "yes"}}}}}}}}"#),
            r#"Statement[0].Condition: Bool value 'yes' for key 'aws:SecureTransport' is not "true" or "false""#),
        (IDENTITY, format!(r#"{{"Statement": {{{allow}, "Condition": {{"StringEquals": {{"aws:username": {{"a": 1}}}}}}}}}}"#),
            "Statement[0].Condition.StringEquals.aws:username must be a string, number or boolean, or a list of them"),
        (IDENTITY, format!(r#"{{"Statement": {{{allow}, "Condition": ["StringEquals"]}}}}"#),
            r#"Statement[0].Condition must be an object such as {"StringEquals": {"aws:username": "alice"}}"#),
        (IDENTITY, r#"{"Statement": {"Effect": "Allow", "Action": "PutImage", "Resource": "*"}}"#.into(),
            r#"Statement[0].Action: 'PutImage' must be "*" or a service-prefixed action such as "ecr:PutImage""#),
        (IDENTITY, r#"{"Statement": {"Effect": "Allow", "Action": [], "Resource": "*"}}"#.into(),
            "Statement[0].Action must be a string or a non-empty list of strings"),
        (IDENTITY, r#"{"Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "repository/app"}}"#.into(),
            r#"Statement[0].Resource: 'repository/app' must be "*" or an ARN (arn:partition:service:region:account:resource)"#),
        (RESOURCE, r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "alice"}, "Action": "ecr:*"}}"#.into(),
            "Statement[0].Principal.AWS: 'alice' is not a valid principal: use \"*\", a 12-digit account id, arn:aws:iam::<account>:root or an IAM ARN such as arn:aws:iam::<account>:user/<name>"),
        (RESOURCE, r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/*"}, "Action": "ecr:*"}}"#.into(),
            "Statement[0].Principal.AWS: 'arn:aws:iam::111122223333:user/*' is not a valid principal: use \"*\", a 12-digit account id, arn:aws:iam::<account>:root or an IAM ARN such as arn:aws:iam::<account>:user/<name>"),
        (RESOURCE, r#"{"Statement": {"Effect": "Allow", "Principal": {"Aws": "*"}, "Action": "ecr:*"}}"#.into(),
            "unknown element 'Aws' in Statement[0].Principal (principal types are AWS, Service, Federated and CanonicalUser)"),
        (RESOURCE, r#"{"Statement": {"Effect": "Allow", "Principal": "everyone", "Action": "ecr:*"}}"#.into(),
            r#"Statement[0].Principal must be "*" or an object such as {"AWS": "arn:aws:iam::123456789012:root"}"#),
        (IDENTITY, format!(r#"{{"Statement": [{{"Sid": "A", {allow}}}, {{"Sid": "A", {allow}}}]}}"#),
            "Statement IDs (SID) in a single policy must be unique. Statement[1].Sid 'A' is already used by Statement[0]"),
        (IDENTITY, format!(r#"{{"Statement": {{"Sid": 5, {allow}}}}}"#), "Statement[0].Sid must be a string"),
        (IDENTITY, format!(r#"{{"Statement": {{{allow}, "Effects": "Allow"}}}}"#), "unknown element 'Effects' in Statement[0]"),
        (IDENTITY, r#"{"Statement": ["Allow"]}"#.into(), "Statement[0] must be a JSON object"),
    ];
    let mut failures = Vec::new();
    for (kind, text, want) in &cases {
        match Policy::parse(text, *kind) {
            Ok(_) => failures.push(format!("accepted {text}")),
            Err(e) if e.to_string() != *want => {
                failures.push(format!("{text}\n  got:  {e}\n  want: {want}"))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
