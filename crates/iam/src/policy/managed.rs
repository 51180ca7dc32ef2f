//! AWS managed policies that berth knows by ARN: the four for ECR, ECS's
//! task execution role policy (what Fargate and ECS tasks pull with), and
//! AdministratorAccess (what berth's account `admin` users are treated as
//! having attached).
//!
//! Sources (AWS Managed Policy Reference, "JSON policy document" of each
//! page, docs.aws.amazon.com/aws-managed-policy/latest/reference/<Name>.html,
//! and the ECR User Guide page "AWS managed policies for Amazon Elastic
//! Container Registry", security-iam-awsmanpol.html):
//! - AmazonEC2ContainerRegistryReadOnly: v3 (edited 2019-12-10), verbatim.
//! - AmazonEC2ContainerRegistryPowerUser: v3 (edited 2019-12-10), verbatim.
//! - AmazonEC2ContainerRegistryPullOnly: v1 (2024-10-04). The reference
//!   page's text was only found cut off after its third action; the fourth,
//!   `ecr:BatchImportUpstreamImage`, and `"Resource": "*"` come from the
//!   policy's action list as indexed from the same page. Not verbatim.
//! - AmazonEC2ContainerRegistryFullAccess: the first statement (`ecr:*`,
//!   `cloudtrail:LookupEvents` on `*`) is verbatim from the ECR User Guide;
//!   the text found was cut off inside the second statement's Condition
//!   (`iam:CreateServiceLinkedRole` on `*` under `StringEquals`). Its key
//!   and value, `iam:AWSServiceName` = `replication.ecr.amazonaws.com`
//!   (the service-linked role ECR replication creates), are the closest
//!   documented content, not a verbatim copy.
//! - AmazonECSTaskExecutionRolePolicy: v1 (2017-11-16), path
//!   `/service-role/`, as the ECS Developer Guide ("Amazon ECS task
//!   execution IAM role") and moto's copy give it. Its `logs:` actions are
//!   kept and simply never match anything berth asks.
//! - AdministratorAccess: `Allow` `*` on `*`, as AWS publishes it.

use super::document::{Policy, PolicyKind};
use std::sync::OnceLock;

pub struct ManagedPolicy {
    pub name: &'static str,
    pub arn: &'static str,
    pub description: &'static str,
    pub document: &'static str,
    parsed: OnceLock<Policy>,
}

impl ManagedPolicy {
    const fn new(
        name: &'static str,
        arn: &'static str,
        description: &'static str,
        document: &'static str,
    ) -> ManagedPolicy {
        ManagedPolicy {
            name,
            arn,
            description,
            document,
            parsed: OnceLock::new(),
        }
    }

    /// The document, parsed once per process.
    pub fn policy(&self) -> &Policy {
        self.parsed.get_or_init(|| {
            Policy::parse(self.document, PolicyKind::Identity)
                .expect("managed policies are valid (tested)")
        })
    }
}

impl std::fmt::Debug for ManagedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedPolicy")
            .field("arn", &self.arn)
            .finish()
    }
}

pub static FULL_ACCESS: ManagedPolicy = ManagedPolicy::new(
    "AmazonEC2ContainerRegistryFullAccess",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess",
    "Provides administrative access to Amazon ECR resources",
    r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "ecr:*",
        "cloudtrail:LookupEvents"
      ],
      "Resource": "*"
    },
    {
      "Effect": "Allow",
      "Action": [
        "iam:CreateServiceLinkedRole"
      ],
      "Resource": "*",
      "Condition": {
        "StringEquals": {
          "iam:AWSServiceName": [
            "replication.ecr.amazonaws.com"
          ]
        }
      }
    }
  ]
}"#,
);

pub static POWER_USER: ManagedPolicy = ManagedPolicy::new(
    "AmazonEC2ContainerRegistryPowerUser",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser",
    "Provides full access to Amazon EC2 Container Registry repositories, but does not allow repository deletion or policy changes.",
    r#"{
  "Version" : "2012-10-17",
  "Statement" : [
    {
      "Effect" : "Allow",
      "Action" : [
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:GetRepositoryPolicy",
        "ecr:DescribeRepositories",
        "ecr:ListImages",
        "ecr:DescribeImages",
        "ecr:BatchGetImage",
        "ecr:GetLifecyclePolicy",
        "ecr:GetLifecyclePolicyPreview",
        "ecr:ListTagsForResource",
        "ecr:DescribeImageScanFindings",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage"
      ],
      "Resource" : "*"
    }
  ]
}"#,
);

pub static READ_ONLY: ManagedPolicy = ManagedPolicy::new(
    "AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "Provides read-only access to Amazon EC2 Container Registry repositories.",
    r#"{
  "Version" : "2012-10-17",
  "Statement" : [
    {
      "Effect" : "Allow",
      "Action" : [
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:GetRepositoryPolicy",
        "ecr:DescribeRepositories",
        "ecr:ListImages",
        "ecr:DescribeImages",
        "ecr:BatchGetImage",
        "ecr:GetLifecyclePolicy",
        "ecr:GetLifecyclePolicyPreview",
        "ecr:ListTagsForResource",
        "ecr:DescribeImageScanFindings"
      ],
      "Resource" : "*"
    }
  ]
}"#,
);

pub static PULL_ONLY: ManagedPolicy = ManagedPolicy::new(
    "AmazonEC2ContainerRegistryPullOnly",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "Provides access to pull images from Amazon EC2 Container Registry repositories.",
    r#"{
  "Version" : "2012-10-17",
  "Statement" : [
    {
      "Effect" : "Allow",
      "Action" : [
        "ecr:GetAuthorizationToken",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchImportUpstreamImage"
      ],
      "Resource" : "*"
    }
  ]
}"#,
);

pub static ECS_TASK_EXECUTION: ManagedPolicy = ManagedPolicy::new(
    "AmazonECSTaskExecutionRolePolicy",
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
    "Provides access to other AWS service resources that are required to run Amazon ECS tasks",
    r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
        "logs:CreateLogStream",
        "logs:PutLogEvents"
      ],
      "Resource": "*"
    }
  ]
}"#,
);

pub static ADMINISTRATOR_ACCESS: ManagedPolicy = ManagedPolicy::new(
    "AdministratorAccess",
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "Provides full access to AWS services and resources.",
    r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "*",
      "Resource": "*"
    }
  ]
}"#,
);

/// Every managed policy berth knows, ECR's first.
pub static ALL: [&ManagedPolicy; 6] = [
    &FULL_ACCESS,
    &POWER_USER,
    &READ_ONLY,
    &PULL_ONLY,
    &ECS_TASK_EXECUTION,
    &ADMINISTRATOR_ACCESS,
];

/// By ARN, as AttachUserPolicy names them.
pub fn by_arn(arn: &str) -> Option<&'static ManagedPolicy> {
    ALL.iter().copied().find(|p| p.arn == arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_managed_policy_parses_and_is_found_by_arn() {
        for p in ALL {
            assert!(!p.policy().statements.is_empty(), "{}", p.name);
            assert_eq!(by_arn(p.arn).map(|q| q.name), Some(p.name));
            assert!(p.arn.ends_with(p.name));
        }
        assert!(by_arn("arn:aws:iam::aws:policy/Nope").is_none());
    }
}
