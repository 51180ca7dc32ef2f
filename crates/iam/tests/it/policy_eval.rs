//! Evaluation, table-driven, after the examples of the IAM User Guide
//! ("Policy evaluation logic", "Condition operators", "Single-valued vs.
//! multivalued context keys") and the ECR User Guide's repository policy
//! examples.

use berth_iam::policy::managed;
use berth_iam::policy::{
    evaluate, keys, Decision, IdentityPolicy, MissingAllow, Policies, Policy, PolicyKind,
    PolicySource, Principal, Request, RequestContext,
};

const ME: &str = "111122223333";
const OTHER: &str = "444455556666";
const REPO: &str = "arn:aws:ecr:us-east-1:111122223333:repository/team/app";

fn identity(json: &str) -> Policy {
    Policy::parse(json, PolicyKind::Identity).unwrap()
}

fn resource(json: &str) -> Policy {
    Policy::parse(json, PolicyKind::Resource).unwrap()
}

fn allow_all() -> Policy {
    identity(
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}}"#,
    )
}

struct Case {
    name: &'static str,
    caller: Principal,
    action: &'static str,
    resource: &'static str,
    identity: Vec<Policy>,
    repository: Option<Policy>,
    registry: Option<Policy>,
    want: Decision,
}

fn alice() -> Principal {
    Principal::user(ME, "alice")
}

fn bob_elsewhere() -> Principal {
    Principal::user(OTHER, "bob")
}

const ALLOW: Decision = Decision::Allow;
const NO_IDENTITY_ALLOW: Decision = Decision::ImplicitDeny {
    missing: MissingAllow::IdentityPolicy,
};
const NO_RESOURCE_ALLOW: Decision = Decision::ImplicitDeny {
    missing: MissingAllow::ResourcePolicy,
};

fn deny(policy: PolicySource, sid: Option<&str>) -> Decision {
    Decision::ExplicitDeny {
        policy,
        sid: sid.map(str::to_string),
    }
}

fn ident(name: &str) -> PolicySource {
    PolicySource::Identity { name: name.into() }
}

fn run(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in &cases {
        let names: Vec<String> = (0..c.identity.len()).map(|i| format!("p{i}")).collect();
        let attached: Vec<IdentityPolicy> = c
            .identity
            .iter()
            .zip(&names)
            .map(|(policy, name)| IdentityPolicy { name, policy })
            .collect();
        let request = Request::new(c.caller.clone(), c.action, c.resource);
        let got = evaluate(
            &request,
            &Policies {
                identity: &attached,
                session: None,
                repository: c.repository.as_ref(),
                registry: c.registry.as_ref(),
                resource_account: ME,
            },
        );
        if got != c.want {
            failures.push(format!("{}: got {got:?}, want {:?}", c.name, c.want));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn aws_evaluation_logic() {
    let repo_allows_alice = || {
        resource(
            r#"{"Version": "2012-10-17", "Statement": {"Sid": "AliceReads", "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}}"#,
        )
    };
    let repo_allows_other_account = || {
        resource(
            r#"{"Version": "2012-10-17", "Statement": {"Sid": "CrossAccountPull", "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}}"#,
        )
    };
    run(vec![
        Case {
            name: "no policy at all: implicit deny",
            caller: alice(),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![],
            repository: None,
            registry: None,
            want: NO_IDENTITY_ALLOW,
        },
        Case {
            name: "an identity Allow suffices in the same account",
            caller: alice(),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![allow_all()],
            repository: None,
            registry: None,
            want: ALLOW,
        },
        Case {
            name: "actions match ignoring case",
            caller: alice(),
            action: "ECR:batchgetimage",
            resource: REPO,
            identity: vec![identity(
                r#"{"Statement": {"Effect": "Allow", "Action": "ecr:BatchGet*", "Resource": "*"}}"#,
            )],
            repository: None,
            registry: None,
            want: ALLOW,
        },
        Case {
            name: "resources match case-sensitively",
            caller: alice(),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![identity(
                r#"{"Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "arn:aws:ecr:us-east-1:111122223333:repository/Team/*"}}"#,
            )],
            repository: None,
            registry: None,
            want: NO_IDENTITY_ALLOW,
        },
        Case {
            name: "a repository policy naming the user suffices in the same account",
            caller: alice(),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![],
            repository: Some(repo_allows_alice()),
            registry: None,
            want: ALLOW,
        },
        Case {
            name: "a repository policy naming only the account delegates to IAM",
            caller: alice(),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![],
            repository: Some(resource(
                r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "ecr:*"}}"#,
            )),
            registry: None,
            want: NO_IDENTITY_ALLOW,
        },
        Case {
            name: "a repository policy for everyone suffices in the same account",
            caller: alice(),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![],
            repository: Some(resource(
                r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}}"#,
            )),
            registry: None,
            want: ALLOW,
        },
        Case {
            name: "a repository policy for another user does not help",
            caller: alice(),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![],
            repository: Some(resource(
                r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/carol"}, "Action": "ecr:*"}}"#,
            )),
            registry: None,
            want: NO_IDENTITY_ALLOW,
        },
        Case {
            name: "explicit deny in an identity policy beats an allow",
            caller: alice(),
            action: "ecr:DeleteRepository",
            resource: REPO,
            identity: vec![
                allow_all(),
                identity(
                    r#"{"Statement": {"Sid": "NoDeletes", "Effect": "Deny", "Action": "ecr:Delete*", "Resource": "*"}}"#,
                ),
            ],
            repository: None,
            registry: None,
            want: deny(ident("p1"), Some("NoDeletes")),
        },
        Case {
            name: "explicit deny in a repository policy beats an identity allow",
            caller: alice(),
            action: "ecr:PutImage",
            resource: REPO,
            identity: vec![allow_all()],
            repository: Some(resource(
                r#"{"Statement": {"Sid": "Frozen", "Effect": "Deny", "Principal": "*", "Action": "ecr:PutImage"}}"#,
            )),
            registry: None,
            want: deny(PolicySource::Repository, Some("Frozen")),
        },
        Case {
            name: "a deny naming the account binds its users",
            caller: alice(),
            action: "ecr:PutImage",
            resource: REPO,
            identity: vec![allow_all()],
            repository: Some(resource(
                r#"{"Statement": {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "ecr:*"}}"#,
            )),
            registry: None,
            want: deny(PolicySource::Repository, None),
        },
        Case {
            name: "explicit deny in the registry policy",
            caller: alice(),
            action: "ecr:CreateRepository",
            resource: "*",
            identity: vec![allow_all()],
            repository: None,
            registry: Some(resource(
                r#"{"Statement": {"Sid": "R", "Effect": "Deny", "Principal": "*", "Action": "ecr:CreateRepository", "Resource": "*"}}"#,
            )),
            want: deny(PolicySource::Registry, Some("R")),
        },
        Case {
            name: "a deny whose action does not match leaves the allow",
            caller: alice(),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![
                allow_all(),
                identity(
                    r#"{"Statement": {"Effect": "Deny", "Action": "ecr:Delete*", "Resource": "*"}}"#,
                ),
            ],
            repository: None,
            registry: None,
            want: ALLOW,
        },
        Case {
            name: "NotAction: allow everything but deletes",
            caller: alice(),
            action: "ecr:DeleteRepository",
            resource: REPO,
            identity: vec![identity(
                r#"{"Statement": {"Effect": "Allow", "NotAction": "ecr:Delete*", "Resource": "*"}}"#,
            )],
            repository: None,
            registry: None,
            want: NO_IDENTITY_ALLOW,
        },
        Case {
            name: "NotAction allows what it does not list",
            caller: alice(),
            action: "ecr:PutImage",
            resource: REPO,
            identity: vec![identity(
                r#"{"Statement": {"Effect": "Allow", "NotAction": "ecr:Delete*", "Resource": "*"}}"#,
            )],
            repository: None,
            registry: None,
            want: ALLOW,
        },
        Case {
            name: "NotResource with Deny: deny everything outside the team's repositories",
            caller: alice(),
            action: "ecr:PutImage",
            resource: "arn:aws:ecr:us-east-1:111122223333:repository/other",
            identity: vec![
                allow_all(),
                identity(
                    r#"{"Statement": {"Sid": "TeamOnly", "Effect": "Deny", "Action": "ecr:*", "NotResource": "arn:aws:ecr:*:111122223333:repository/team/*"}}"#,
                ),
            ],
            repository: None,
            registry: None,
            want: deny(ident("p1"), Some("TeamOnly")),
        },
        Case {
            name: "NotResource with Deny spares the listed resources",
            caller: alice(),
            action: "ecr:PutImage",
            resource: REPO,
            identity: vec![
                allow_all(),
                identity(
                    r#"{"Statement": {"Effect": "Deny", "Action": "ecr:*", "NotResource": "arn:aws:ecr:*:111122223333:repository/team/*"}}"#,
                ),
            ],
            repository: None,
            registry: None,
            want: ALLOW,
        },
        Case {
            name: "a repository ARN pattern does not grant a registry-level action",
            caller: alice(),
            action: "ecr:GetAuthorizationToken",
            resource: "*",
            identity: vec![identity(
                r#"{"Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "arn:aws:ecr:*:*:repository/*"}}"#,
            )],
            repository: None,
            registry: None,
            want: NO_IDENTITY_ALLOW,
        },
        Case {
            name: "cross-account: the identity side alone is not enough",
            caller: bob_elsewhere(),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![allow_all()],
            repository: None,
            registry: None,
            want: NO_RESOURCE_ALLOW,
        },
        Case {
            name: "cross-account: the resource side alone is not enough",
            caller: bob_elsewhere(),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![],
            repository: Some(repo_allows_other_account()),
            registry: None,
            want: NO_IDENTITY_ALLOW,
        },
        Case {
            name: "cross-account: both sides allow",
            caller: bob_elsewhere(),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![allow_all()],
            repository: Some(repo_allows_other_account()),
            registry: None,
            want: ALLOW,
        },
        Case {
            name: "cross-account: the resource side allows other actions only",
            caller: bob_elsewhere(),
            action: "ecr:PutImage",
            resource: REPO,
            identity: vec![allow_all()],
            repository: Some(repo_allows_other_account()),
            registry: None,
            want: NO_RESOURCE_ALLOW,
        },
        Case {
            name: "cross-account through the registry policy",
            caller: bob_elsewhere(),
            action: "ecr:ReplicateImage",
            resource: REPO,
            identity: vec![allow_all()],
            repository: None,
            registry: Some(resource(
                r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "ecr:ReplicateImage", "Resource": "arn:aws:ecr:us-east-1:111122223333:repository/*"}}"#,
            )),
            want: ALLOW,
        },
        Case {
            name: "the account admin may do everything in its account",
            caller: Principal::user(ME, "admin"),
            action: "ecr:DeleteRepository",
            resource: REPO,
            identity: vec![],
            repository: None,
            registry: None,
            want: ALLOW,
        },
        Case {
            name: "the account admin is still bound by explicit denies",
            caller: Principal::user(ME, "admin"),
            action: "ecr:DeleteRepository",
            resource: REPO,
            identity: vec![],
            repository: Some(resource(
                r#"{"Statement": {"Sid": "Keep", "Effect": "Deny", "Principal": "*", "Action": "ecr:DeleteRepository"}}"#,
            )),
            registry: None,
            want: deny(PolicySource::Repository, Some("Keep")),
        },
        Case {
            name: "another account's admin needs a resource policy",
            caller: Principal::user(OTHER, "admin"),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![],
            repository: None,
            registry: None,
            want: NO_RESOURCE_ALLOW,
        },
        Case {
            name: "another account's admin with a resource policy",
            caller: Principal::user(OTHER, "admin"),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![],
            repository: Some(repo_allows_other_account()),
            registry: None,
            want: ALLOW,
        },
        Case {
            name: "NotPrincipal with Deny: spares a user only when its account is listed too",
            caller: alice(),
            action: "ecr:PutImage",
            resource: REPO,
            identity: vec![allow_all()],
            repository: Some(resource(
                r#"{"Statement": {"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:user/alice", "111122223333"]}, "Action": "ecr:PutImage"}}"#,
            )),
            registry: None,
            want: ALLOW,
        },
        Case {
            name: "NotPrincipal with Deny listing the user alone still denies it",
            caller: alice(),
            action: "ecr:PutImage",
            resource: REPO,
            identity: vec![allow_all()],
            repository: Some(resource(
                r#"{"Statement": {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:user/alice"}, "Action": "ecr:PutImage"}}"#,
            )),
            registry: None,
            want: deny(PolicySource::Repository, None),
        },
        Case {
            name: "a service principal never matches a user",
            caller: alice(),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![],
            repository: Some(resource(
                r#"{"Statement": {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "ecr:*"}}"#,
            )),
            registry: None,
            want: NO_IDENTITY_ALLOW,
        },
        Case {
            name: "a policy variable scopes users to their own repositories",
            caller: alice(),
            action: "ecr:PutImage",
            resource: "arn:aws:ecr:us-east-1:111122223333:repository/home/alice/app",
            identity: vec![identity(
                r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "arn:aws:ecr:*:111122223333:repository/home/${aws:username}/*"}}"#,
            )],
            repository: None,
            registry: None,
            want: ALLOW,
        },
        Case {
            name: "a policy variable does not reach other users' repositories",
            caller: alice(),
            action: "ecr:PutImage",
            resource: "arn:aws:ecr:us-east-1:111122223333:repository/home/carol/app",
            identity: vec![identity(
                r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "arn:aws:ecr:*:111122223333:repository/home/${aws:username}/*"}}"#,
            )],
            repository: None,
            registry: None,
            want: NO_IDENTITY_ALLOW,
        },
        Case {
            name: "variables are literal text in 2008-10-17 policies",
            caller: alice(),
            action: "ecr:PutImage",
            resource: "arn:aws:ecr:us-east-1:111122223333:repository/home/alice/app",
            identity: vec![identity(
                r#"{"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "arn:aws:ecr:*:111122223333:repository/home/${aws:username}/*"}}"#,
            )],
            repository: None,
            registry: None,
            want: NO_IDENTITY_ALLOW,
        },
        Case {
            name: "PowerUser may push but not delete",
            caller: alice(),
            action: "ecr:DeleteRepository",
            resource: REPO,
            identity: vec![managed::POWER_USER.policy().clone()],
            repository: None,
            registry: None,
            want: NO_IDENTITY_ALLOW,
        },
        Case {
            name: "ReadOnly may pull",
            caller: alice(),
            action: "ecr:BatchGetImage",
            resource: REPO,
            identity: vec![managed::READ_ONLY.policy().clone()],
            repository: None,
            registry: None,
            want: ALLOW,
        },
        Case {
            name: "PullOnly may not list images",
            caller: alice(),
            action: "ecr:ListImages",
            resource: REPO,
            identity: vec![managed::PULL_ONLY.policy().clone()],
            repository: None,
            registry: None,
            want: NO_IDENTITY_ALLOW,
        },
        Case {
            name: "FullAccess may delete",
            caller: alice(),
            action: "ecr:DeleteRepository",
            resource: REPO,
            identity: vec![managed::FULL_ACCESS.policy().clone()],
            repository: None,
            registry: None,
            want: ALLOW,
        },
    ]);
}

#[test]
fn denial_messages_read_as_aws_writes_them() {
    let request = Request::new(alice(), "ecr:PutImage", REPO);
    let user = "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: ecr:PutImage on resource: arn:aws:ecr:us-east-1:111122223333:repository/team/app";
    assert_eq!(ALLOW.denial_message(&request), None);
    assert_eq!(
        NO_IDENTITY_ALLOW.denial_message(&request).unwrap(),
        format!("{user} because no identity-based policy allows the ecr:PutImage action")
    );
    assert_eq!(
        NO_RESOURCE_ALLOW.denial_message(&request).unwrap(),
        format!("{user} because no resource-based policy allows the ecr:PutImage action")
    );
    assert_eq!(
        deny(PolicySource::Repository, None)
            .denial_message(&request)
            .unwrap(),
        format!("{user} with an explicit deny in a resource-based policy")
    );
    assert_eq!(
        deny(ident("x"), Some("s"))
            .denial_message(&request)
            .unwrap(),
        format!("{user} with an explicit deny in an identity-based policy")
    );
}

/// One condition block, a context, and whether the condition holds.
fn check_conditions(cases: &[(&str, RequestContext, bool)]) {
    let mut failures = Vec::new();
    for (i, (condition, ctx, want)) in cases.iter().enumerate() {
        let text = format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Condition": {condition}}}}}"#
        );
        let policy = identity(&text);
        let got = policy.statements[0]
            .conditions
            .iter()
            .all(|c| c.evaluate(ctx));
        if got != *want {
            failures.push(format!("case {i}: {condition} with {ctx:?}: got {got}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn ctx() -> RequestContext {
    RequestContext::new()
}

#[test]
fn string_and_arn_operators() {
    check_conditions(&[
        (
            r#"{"StringEquals": {"aws:username": "alice"}}"#,
            ctx().with("aws:username", "alice"),
            true,
        ),
        (
            r#"{"StringEquals": {"aws:username": "alice"}}"#,
            ctx().with("aws:username", "Alice"),
            false,
        ),
        // Key names ignore case.
        (
            r#"{"StringEquals": {"AWS:UserName": "alice"}}"#,
            ctx().with("aws:username", "alice"),
            true,
        ),
        // Values for one key are ORed.
        (
            r#"{"StringEquals": {"aws:username": ["bob", "alice"]}}"#,
            ctx().with("aws:username", "alice"),
            true,
        ),
        // Keys under one operator are ANDed.
        (
            r#"{"StringEquals": {"aws:username": "alice", "aws:PrincipalAccount": "111122223333"}}"#,
            ctx()
                .with("aws:username", "alice")
                .with("aws:PrincipalAccount", "444455556666"),
            false,
        ),
        (
            r#"{"StringEquals": {"aws:username": "alice"}}"#,
            ctx(),
            false,
        ),
        (
            r#"{"StringEqualsIfExists": {"aws:username": "alice"}}"#,
            ctx(),
            true,
        ),
        (
            r#"{"StringEqualsIfExists": {"aws:username": "alice"}}"#,
            ctx().with("aws:username", "bob"),
            false,
        ),
        // Negated with several values: equal to none of them.
        (
            r#"{"StringNotEquals": {"aws:username": ["bob", "carol"]}}"#,
            ctx().with("aws:username", "alice"),
            true,
        ),
        (
            r#"{"StringNotEquals": {"aws:username": ["bob", "carol"]}}"#,
            ctx().with("aws:username", "carol"),
            false,
        ),
        // Negated with the key absent: true.
        (
            r#"{"StringNotEquals": {"aws:username": "bob"}}"#,
            ctx(),
            true,
        ),
        (
            r#"{"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}"#,
            ctx().with("aws:username", "alice"),
            true,
        ),
        (
            r#"{"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}"#,
            ctx().with("aws:username", "alice"),
            false,
        ),
        (
            r#"{"StringLike": {"ecr:ResourceTag/team": "plat*"}}"#,
            ctx().with("ecr:ResourceTag/team", "platform"),
            true,
        ),
        (
            r#"{"StringLike": {"ecr:ResourceTag/team": "plat?"}}"#,
            ctx().with("ecr:ResourceTag/team", "platform"),
            false,
        ),
        (
            r#"{"StringNotLike": {"ecr:ResourceTag/team": "plat*"}}"#,
            ctx().with("ecr:ResourceTag/team", "web"),
            true,
        ),
        // StringEquals reads `*` literally.
        (
            r#"{"StringEquals": {"aws:username": "*"}}"#,
            ctx().with("aws:username", "alice"),
            false,
        ),
        // Variables in condition values.
        (
            r#"{"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}}"#,
            ctx()
                .with("aws:username", "alice")
                .with("aws:ResourceTag/owner", "alice"),
            true,
        ),
        (
            r#"{"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}}"#,
            ctx()
                .with("aws:username", "alice")
                .with("aws:ResourceTag/owner", "bob"),
            false,
        ),
        (
            r#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/ci-*"}}"#,
            ctx().with(
                "aws:PrincipalArn",
                "arn:aws:iam::111122223333:user/ci-build",
            ),
            true,
        ),
        (
            r#"{"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/ci"}}"#,
            ctx().with("aws:PrincipalArn", "arn:aws:iam::111122223333:user/ci"),
            true,
        ),
        (
            r#"{"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/ci-*"}}"#,
            ctx().with("aws:PrincipalArn", "arn:aws:iam::111122223333:user/alice"),
            true,
        ),
        (
            r#"{"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/alice"}}"#,
            ctx().with("aws:PrincipalArn", "arn:aws:iam::111122223333:user/alice"),
            false,
        ),
        (
            r#"{"StringEquals": {"ecr:AccountSetting": "BLOB_MOUNTING"}}"#,
            ctx().with("ecr:AccountSetting", "BLOB_MOUNTING"),
            true,
        ),
    ]);
}

#[test]
fn set_qualifiers_follow_aws_on_absent_and_multivalued_keys() {
    let tags = |v: &[&str]| ctx().with_all(keys::TAG_KEYS, v.iter().copied());
    check_conditions(&[
        (
            r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "env"]}}"#,
            tags(&["env", "cost"]),
            true,
        ),
        (
            r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "env"]}}"#,
            tags(&["cost"]),
            false,
        ),
        // ForAnyValue on an absent or empty key: false.
        (
            r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": "team"}}"#,
            ctx(),
            false,
        ),
        (
            r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": "team"}}"#,
            tags(&[]),
            false,
        ),
        (
            r#"{"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "team"}}"#,
            ctx(),
            true,
        ),
        (
            r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}"#,
            tags(&["env", "team"]),
            true,
        ),
        (
            r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}"#,
            tags(&["env", "cost"]),
            false,
        ),
        // ForAllValues on an absent or empty key: true.
        (
            r#"{"ForAllValues:StringEquals": {"aws:TagKeys": "team"}}"#,
            ctx(),
            true,
        ),
        (
            r#"{"ForAllValues:StringEquals": {"aws:TagKeys": "team"}}"#,
            tags(&[]),
            true,
        ),
        // ForAllValues with a negated operator: no value is in the list.
        (
            r#"{"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}}"#,
            tags(&["team", "env"]),
            true,
        ),
        (
            r#"{"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}}"#,
            tags(&["team", "secret"]),
            false,
        ),
        (
            r#"{"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["secret"]}}"#,
            tags(&["team", "secret"]),
            true,
        ),
        (
            r#"{"ForAnyValue:StringLike": {"aws:TagKeys": "team-*"}}"#,
            tags(&["env", "team-a"]),
            true,
        ),
        // Without a qualifier, a multivalued key matches when any value does.
        (
            r#"{"StringEquals": {"aws:TagKeys": "team"}}"#,
            tags(&["env", "team"]),
            true,
        ),
        (
            r#"{"StringNotEquals": {"aws:TagKeys": "team"}}"#,
            tags(&["env", "team"]),
            false,
        ),
    ]);
}

#[test]
fn numeric_date_bool_ip_and_null_operators() {
    let t = |s: &str| ctx().with(keys::CURRENT_TIME, s);
    let e = |s: &str| ctx().with(keys::EPOCH_TIME, s);
    let ip = |s: &str| ctx().with(keys::SOURCE_IP, s);
    check_conditions(&[
        (
            r#"{"NumericLessThan": {"ecr:count": "10"}}"#,
            ctx().with("ecr:count", "9"),
            true,
        ),
        (
            r#"{"NumericLessThan": {"ecr:count": 10}}"#,
            ctx().with("ecr:count", "10"),
            false,
        ),
        (
            r#"{"NumericLessThanEquals": {"ecr:count": 10}}"#,
            ctx().with("ecr:count", "10"),
            true,
        ),
        (
            r#"{"NumericGreaterThan": {"ecr:count": 10}}"#,
            ctx().with("ecr:count", "10.5"),
            true,
        ),
        (
            r#"{"NumericGreaterThanEquals": {"ecr:count": 10}}"#,
            ctx().with("ecr:count", "9"),
            false,
        ),
        (
            r#"{"NumericEquals": {"ecr:count": [1, 2]}}"#,
            ctx().with("ecr:count", "2"),
            true,
        ),
        (
            r#"{"NumericNotEquals": {"ecr:count": [1, 2]}}"#,
            ctx().with("ecr:count", "2"),
            false,
        ),
        (
            r#"{"NumericEquals": {"ecr:count": 1}}"#,
            ctx().with("ecr:count", "one"),
            false,
        ),
        (
            r#"{"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}"#,
            t("2019-12-31T23:59:59Z"),
            true,
        ),
        (
            r#"{"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}"#,
            t("2020-01-01T00:00:00Z"),
            false,
        ),
        (
            r#"{"DateLessThanEquals": {"aws:CurrentTime": "2020-01-01"}}"#,
            t("2020-01-01T00:00:00Z"),
            true,
        ),
        (
            r#"{"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}"#,
            t("2020-01-01T00:00:01Z"),
            true,
        ),
        (
            r#"{"DateGreaterThanEquals": {"aws:CurrentTime": "2020-01-02"}}"#,
            t("2020-01-01T23:00:00-02:00"),
            true,
        ),
        (
            r#"{"DateEquals": {"aws:EpochTime": "2020-01-01T00:00:00Z"}}"#,
            e("1577836800"),
            true,
        ),
        (
            r#"{"DateNotEquals": {"aws:EpochTime": 1577836800}}"#,
            e("1577836801"),
            true,
        ),
        (
            r#"{"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}"#,
            ctx(),
            false,
        ),
        (
            r#"{"DateGreaterThanIfExists": {"aws:CurrentTime": "2020-01-01"}}"#,
            ctx(),
            true,
        ),
        (
            r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
            ctx().with(keys::SECURE_TRANSPORT, "true"),
            true,
        ),
        (
            r#"{"Bool": {"aws:SecureTransport": false}}"#,
            ctx().with(keys::SECURE_TRANSPORT, "true"),
            false,
        ),
        (
            r#"{"Bool": {"aws:SecureTransport": "false"}}"#,
            ctx(),
            false,
        ),
        (
            r#"{"BoolIfExists": {"aws:SecureTransport": "false"}}"#,
            ctx(),
            true,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            ip("203.0.113.7"),
            true,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            ip("203.0.114.7"),
            false,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}"#,
            ip("2001:db8::1"),
            true,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}"#,
            ip("2001:db9::1"),
            false,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "192.0.2.1"}}"#,
            ip("192.0.2.1"),
            true,
        ),
        (
            r#"{"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            ip("198.51.100.1"),
            true,
        ),
        (
            r#"{"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            ip("203.0.113.1"),
            false,
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            ip("not an ip"),
            false,
        ),
        (r#"{"Null": {"aws:ResourceTag/team": "true"}}"#, ctx(), true),
        (
            r#"{"Null": {"aws:ResourceTag/team": "true"}}"#,
            ctx().with("aws:ResourceTag/team", "a"),
            false,
        ),
        (
            r#"{"Null": {"aws:ResourceTag/team": false}}"#,
            ctx().with("aws:ResourceTag/team", "a"),
            true,
        ),
        (
            r#"{"Null": {"aws:TagKeys": "true"}}"#,
            ctx().with_all("aws:TagKeys", Vec::<String>::new()),
            true,
        ),
        // Operators in one block are ANDed.
        (
            r#"{"Bool": {"aws:SecureTransport": "true"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
            ctx()
                .with(keys::SECURE_TRANSPORT, "true")
                .with(keys::SOURCE_IP, "192.0.2.1"),
            false,
        ),
    ]);
}

#[test]
fn conditions_take_part_in_evaluation() {
    let policy = identity(
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
            {"Sid": "OfficeOnly", "Effect": "Deny", "Action": "ecr:*", "Resource": "*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}
        ]}"#,
    );
    let attached = [IdentityPolicy {
        name: "office",
        policy: &policy,
    }];
    let policies = Policies {
        identity: &attached,
        session: None,
        repository: None,
        registry: None,
        resource_account: ME,
    };
    let from = |ip: &str| {
        evaluate(
            &Request::new(alice(), "ecr:PutImage", REPO).with_context(keys::SOURCE_IP, ip),
            &policies,
        )
    };
    assert_eq!(from("203.0.113.9"), ALLOW);
    assert_eq!(
        from("198.51.100.1"),
        deny(ident("office"), Some("OfficeOnly"))
    );
    // The principal's own keys are in the context from the start.
    let request = Request::new(alice(), "ecr:PutImage", REPO);
    assert_eq!(
        request.context.get("aws:PrincipalArn"),
        Some(&["arn:aws:iam::111122223333:user/alice".to_string()][..])
    );
}

/// A user's path is part of its ARN: a statement naming `user/team/*`
/// binds `ops` at `/team/`, and the denial names the ARN with the path.
#[test]
fn user_paths_are_part_of_the_principal_arn() {
    let ops = Principal::user_at(ME, "/team/", "ops");
    assert_eq!(ops.arn(), "arn:aws:iam::111122223333:user/team/ops");
    let deny_team = resource(&format!(
        r#"{{"Version": "2012-10-17", "Statement": [
            {{"Effect": "Deny", "Principal": {{"AWS": "arn:aws:iam::{ME}:user/team/ops"}}, "Action": "ecr:*"}}]}}"#
    ));
    let request = Request::new(ops.clone(), "ecr:BatchGetImage", REPO);
    let policies = Policies {
        session: None,
        identity: &[IdentityPolicy {
            name: "all",
            policy: &allow_all(),
        }],
        repository: Some(&deny_team),
        registry: None,
        resource_account: ME,
    };
    let decision = evaluate(&request, &policies);
    assert!(!decision.is_allowed());
    assert!(decision
        .denial_message(&request)
        .unwrap()
        .starts_with("User: arn:aws:iam::111122223333:user/team/ops is not authorized"));
    // The same name at the root path is another principal.
    let request = Request::new(Principal::user(ME, "ops"), "ecr:BatchGetImage", REPO);
    assert!(evaluate(&request, &policies).is_allowed());
    // aws:PrincipalArn carries the path too.
    assert_eq!(
        Request::new(ops, "ecr:BatchGetImage", REPO)
            .context
            .get(keys::PRINCIPAL_ARN)
            .map(|v| v.to_vec()),
        Some(vec!["arn:aws:iam::111122223333:user/team/ops".to_string()])
    );
}

/// An anonymous caller is bound by statements naming everyone, never by
/// ones naming an account or a user, and is allowed by its grant.
#[test]
fn anonymous_callers_meet_everyone_statements_only() {
    let grant = identity(&format!(
        r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Action": ["ecr:BatchGetImage"], "Resource": "arn:aws:ecr:us-east-1:{ME}:repository/*"}}}}"#
    ));
    let check = |repository: Option<&Policy>, action: &str| {
        let request = Request::new(Principal::anonymous(), action, REPO);
        let d = evaluate(
            &request,
            &Policies {
                session: None,
                identity: &[IdentityPolicy {
                    name: "anonymous",
                    policy: &grant,
                }],
                repository,
                registry: None,
                resource_account: ME,
            },
        );
        (d.is_allowed(), d.denial_message(&request))
    };
    assert!(check(None, "ecr:BatchGetImage").0);
    let (allowed, message) = check(None, "ecr:PutImage");
    assert!(!allowed);
    assert!(message
        .unwrap()
        .starts_with("User: anonymous is not authorized to perform: ecr:PutImage"));
    let deny_everyone = resource(
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Principal": "*", "Action": "ecr:BatchGetImage"}}"#,
    );
    assert!(!check(Some(&deny_everyone), "ecr:BatchGetImage").0);
    let deny_account = resource(&format!(
        r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Deny", "Principal": {{"AWS": "{ME}"}}, "Action": "ecr:BatchGetImage"}}}}"#
    ));
    assert!(check(Some(&deny_account), "ecr:BatchGetImage").0);
    let ctx = Request::new(Principal::anonymous(), "ecr:BatchGetImage", REPO).context;
    assert_eq!(
        ctx.get(keys::PRINCIPAL_TYPE).map(|v| v.to_vec()),
        Some(vec!["Anonymous".to_string()])
    );
    assert!(ctx.get(keys::PRINCIPAL_ARN).is_none());
}
