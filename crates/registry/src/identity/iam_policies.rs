//! Managed policies (customer-managed ones the IAM API creates, and the
//! AWS-managed ECR policies every account can attach), attachments to users,
//! and the one check of policy documents.

use super::authz::Caller;
use super::rules::{check_policy_name, valid_path, validate_policy_document, PolicyKind};
use super::Identity;
use crate::{Error, Result};
use berth_iam::keys;
use berth_store::{DeletePolicyOutcome, ManagedPolicyRecord, PolicyVersionRecord};

/// ListPolicies' `Scope`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyScope {
    All,
    Aws,
    Local,
}

/// An AWS-managed policy berth knows of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AwsManagedPolicy {
    pub name: &'static str,
    /// `/`, or `/service-role/`: part of the ARN.
    pub path: &'static str,
    pub policy_id: &'static str,
    pub description: &'static str,
}

// Their documents are `berth_iam::policy::managed`'s; this table adds what
// IAM's listings show. The policy ids are berth's placeholders in AWS's
// shape, not AWS's ids.
const AWS_MANAGED: [AwsManagedPolicy; 5] = [
    AwsManagedPolicy {
        name: "AmazonEC2ContainerRegistryFullAccess",
        path: "/",
        policy_id: "ANPABERTHECRFULLACCES",
        description: "Provides administrative access to Amazon ECR resources",
    },
    AwsManagedPolicy {
        name: "AmazonEC2ContainerRegistryPowerUser",
        path: "/",
        policy_id: "ANPABERTHECRPOWERUSER",
        description: "Provides full access to Amazon EC2 Container Registry repositories, but does not allow repository deletion or policy changes.",
    },
    AwsManagedPolicy {
        name: "AmazonEC2ContainerRegistryReadOnly",
        path: "/",
        policy_id: "ANPABERTHECRREADONLY0",
        description: "Provides read-only access to Amazon EC2 Container Registry repositories.",
    },
    AwsManagedPolicy {
        name: "AmazonEC2ContainerRegistryPullOnly",
        path: "/",
        policy_id: "ANPABERTHECRPULLONLY0",
        description: "Provides permissions to pull images from Amazon ECR.",
    },
    AwsManagedPolicy {
        name: "AmazonECSTaskExecutionRolePolicy",
        path: "/service-role/",
        policy_id: "ANPABERTHECSTASKEXEC0",
        description: "Provides access to other AWS service resources that are required to run Amazon ECS tasks",
    },
];

/// When berth says the AWS-managed policies were created (ECR's launch,
/// 2015-12-21): AWS's real dates differ per policy and are not modelled.
const AWS_MANAGED_CREATED_MS: i64 = 1_450_656_000_000;

pub fn aws_managed_policies() -> &'static [AwsManagedPolicy] {
    &AWS_MANAGED
}

impl AwsManagedPolicy {
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::aws:policy{}{}", self.path, self.name)
    }
}

pub(crate) fn aws_managed(arn: &str) -> Option<&'static AwsManagedPolicy> {
    AWS_MANAGED.iter().find(|p| p.arn() == arn)
}

impl Identity {
    /// CreatePolicy: a customer-managed policy, version `v1` the default.
    pub async fn create_policy(
        &self,
        caller: &Caller,
        name: &str,
        path: Option<&str>,
        document: &str,
        description: Option<&str>,
    ) -> Result<ManagedPolicyRecord> {
        let path = path.unwrap_or("/");
        let arn = format!("arn:aws:iam::{}:policy{path}{name}", caller.account_id);
        self.authorize_iam(caller, "iam:CreatePolicy", None, &arn)
            .await?;
        check_policy_name(name)?;
        if !valid_path(path) {
            return Err(Error::InvalidParameter(format!(
                "path '{path}' must be '/' or start and end with '/'"
            )));
        }
        if description.is_some_and(|d| d.chars().count() > 1000) {
            return Err(Error::InvalidParameter(
                "the description may have at most 1000 characters".into(),
            ));
        }
        validate_policy_document(document, PolicyKind::Managed)?;
        let now = self.now();
        let record = ManagedPolicyRecord {
            account_id: caller.account_id.clone(),
            name: name.to_string(),
            path: path.to_string(),
            arn,
            policy_id: keys::new_policy_id(),
            description: description.map(str::to_string),
            default_version: "v1".into(),
            created_at: now,
            updated_at: now,
            attachment_count: 0,
        };
        if self.meta.create_managed_policy(&record, document).await? {
            Ok(record)
        } else {
            Err(Error::EntityAlreadyExists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )))
        }
    }

    /// GetPolicy: a customer-managed policy of the caller's account or an
    /// AWS-managed one (with the account's attachment count).
    pub async fn get_policy(&self, caller: &Caller, arn: &str) -> Result<ManagedPolicyRecord> {
        self.authorize_iam(caller, "iam:GetPolicy", None, arn)
            .await?;
        if let Some(p) = aws_managed(arn) {
            let count = self
                .meta
                .policy_attachment_count(&caller.account_id, arn)
                .await?;
            return Ok(aws_record(p, count));
        }
        self.meta
            .get_managed_policy(&caller.account_id, arn)
            .await?
            .ok_or_else(|| no_such_policy(arn))
    }

    pub async fn get_policy_version(
        &self,
        caller: &Caller,
        arn: &str,
        version_id: &str,
    ) -> Result<PolicyVersionRecord> {
        self.authorize_iam(caller, "iam:GetPolicyVersion", None, arn)
            .await?;
        if let Some(m) = berth_iam::policy::managed::by_arn(arn) {
            return if version_id == "v1" {
                Ok(PolicyVersionRecord {
                    version_id: "v1".into(),
                    document: m.document.to_string(),
                    is_default: true,
                    created_at: AWS_MANAGED_CREATED_MS,
                })
            } else {
                Err(Error::NoSuchEntity(format!(
                    "Policy {arn} version {version_id} does not exist or is not attachable."
                )))
            };
        }
        match self
            .meta
            .get_policy_version(&caller.account_id, arn, version_id)
            .await?
        {
            Some(v) => Ok(v),
            None => {
                self.get_policy(caller, arn).await?;
                Err(Error::NoSuchEntity(format!(
                    "Policy {arn} version {version_id} does not exist or is not attachable."
                )))
            }
        }
    }

    /// ListPolicies: the account's and/or the AWS-managed ones, by ARN.
    pub async fn list_policies(
        &self,
        caller: &Caller,
        scope: PolicyScope,
        only_attached: bool,
        path_prefix: Option<&str>,
    ) -> Result<Vec<ManagedPolicyRecord>> {
        self.authorize_iam(
            caller,
            "iam:ListPolicies",
            None,
            &format!("arn:aws:iam::{}:policy/", caller.account_id),
        )
        .await?;
        let mut all = Vec::new();
        if scope != PolicyScope::Local {
            for p in &AWS_MANAGED {
                let count = self
                    .meta
                    .policy_attachment_count(&caller.account_id, &p.arn())
                    .await?;
                all.push(aws_record(p, count));
            }
        }
        if scope != PolicyScope::Aws {
            all.extend(self.meta.list_managed_policies(&caller.account_id).await?);
        }
        let prefix = path_prefix.unwrap_or("/");
        all.retain(|p| p.path.starts_with(prefix) && (!only_attached || p.attachment_count > 0));
        all.sort_by(|a, b| a.arn.cmp(&b.arn));
        Ok(all)
    }

    /// DeletePolicy, refused while the policy is attached. AWS-managed
    /// policies cannot be deleted.
    pub async fn delete_policy(&self, caller: &Caller, arn: &str) -> Result<()> {
        self.authorize_iam(caller, "iam:DeletePolicy", None, arn)
            .await?;
        if aws_managed(arn).is_some() {
            return Err(Error::AccessDenied(format!(
                "User: {} is not authorized to perform: iam:DeletePolicy on resource: policy {arn} because it is an AWS managed policy",
                caller.arn()
            )));
        }
        let outcome = self
            .meta
            .delete_managed_policy(&caller.account_id, arn)
            .await?;
        self.authz.changed();
        match outcome {
            // Sessions may name it in their PolicyArns: open them again.
            DeletePolicyOutcome::Deleted => {
                self.forget_tokens();
                Ok(())
            }
            DeletePolicyOutcome::NotFound => Err(no_such_policy(arn)),
            DeletePolicyOutcome::Attached(_) => Err(Error::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            )),
        }
    }
}

fn aws_record(p: &AwsManagedPolicy, attachment_count: u64) -> ManagedPolicyRecord {
    ManagedPolicyRecord {
        account_id: "aws".into(),
        name: p.name.into(),
        path: p.path.into(),
        arn: p.arn(),
        policy_id: p.policy_id.into(),
        description: Some(p.description.into()),
        default_version: "v1".into(),
        created_at: AWS_MANAGED_CREATED_MS,
        updated_at: AWS_MANAGED_CREATED_MS,
        attachment_count,
    }
}

pub(crate) fn no_such_policy(arn: &str) -> Error {
    Error::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_ecr_policies_are_known_by_arn() {
        assert_eq!(aws_managed_policies().len(), 5);
        let ecs =
            aws_managed("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
                .unwrap();
        assert_eq!(ecs.path, "/service-role/");
        for p in aws_managed_policies() {
            assert!(
                berth_iam::policy::managed::by_arn(&p.arn()).is_some(),
                "{} has no document",
                p.name
            );
        }
        let p = aws_managed("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly").unwrap();
        assert_eq!(p.name, "AmazonEC2ContainerRegistryReadOnly");
        assert!(aws_managed("arn:aws:iam::aws:policy/AdministratorAccess").is_none());
        for p in aws_managed_policies() {
            assert_eq!(p.policy_id.len(), 21, "{}", p.name);
        }
    }
}
