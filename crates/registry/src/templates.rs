//! Repository creation templates (ECR's CreateRepositoryCreationTemplate,
//! UpdateRepositoryCreationTemplate, DescribeRepositoryCreationTemplates,
//! DeleteRepositoryCreationTemplate), and applying one when berth creates a
//! repository itself: on a push to a repository that does not exist
//! (`CREATE_ON_PUSH`) and replication creates (`REPLICATION`).
//!
//! A template is stored whole, its settings as JSON (`TemplateSettings`),
//! one per prefix of a registry. The template for a new repository is the
//! one whose prefix is the longest whole-segment prefix of its name (a
//! prefix `prod` covers `prod/...`, never `production`), else `ROOT`'s, and
//! only if it applies to the way the repository is being created.

use crate::repositories::RepositorySettings;
use crate::{Error, Principal, Registry, RegistryKey, Repo, RequestFacts, Result};
use berth_oci::RepositoryName;
use berth_store::{CreateTemplateOutcome, RepoId, ResourceTag, TemplateRecord};
use serde::{Deserialize, Serialize};

/// Templates per registry (berth's limit; LimitExceededException past it).
pub const MAX_TEMPLATES: u32 = 100;
/// The prefix that covers every repository no other template does.
pub const ROOT_PREFIX: &str = "ROOT";
/// How a repository may be created from a template (`appliedFor`).
pub const APPLIED_FOR: [&str; 3] = ["REPLICATION", "PULL_THROUGH_CACHE", "CREATE_ON_PUSH"];
/// Creating a repository on a push.
pub const CREATE_ON_PUSH: &str = "CREATE_ON_PUSH";
/// `appliedFor`: repositories replication creates in a destination.
pub const REPLICATION: &str = "REPLICATION";

/// What a template sets, as stored (the registry's encoding) and as the
/// ECR API answers it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// AES256, KMS or KMS_DSSE.
    pub encryption_type: String,
    /// A key ARN (KMS, KMS_DSSE); none: the AWS-managed key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    #[serde(default)]
    pub resource_tags: Vec<(String, String)>,
    pub image_tag_mutability: String,
    /// JSON text of the exclusion filters, with a `*_WITH_EXCLUSION`
    /// mutability (as repositories keep them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutability_filters: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_policy: Option<String>,
    pub applied_for: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_role_arn: Option<String>,
}

impl TemplateSettings {
    /// The resource tags, as repositories carry them.
    pub fn tags(&self) -> Vec<ResourceTag> {
        self.resource_tags
            .iter()
            .map(|(k, v)| ResourceTag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect()
    }
}

/// A template as the ECR API describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub prefix: String,
    pub settings: TemplateSettings,
    pub created_at: i64,
    pub updated_at: i64,
}

fn encode(t: &Template) -> TemplateRecord {
    TemplateRecord {
        prefix: t.prefix.clone(),
        body: serde_json::to_string(&t.settings).expect("settings serialize"),
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

fn decode(r: TemplateRecord) -> Result<Template> {
    let settings = serde_json::from_str(&r.body).map_err(|e| {
        Error::Store(berth_store::StoreError::Corrupt(format!(
            "repository creation template {:?} does not decode: {e}",
            r.prefix
        )))
    })?;
    Ok(Template {
        prefix: r.prefix,
        settings,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

/// A prefix as the model allows it (ECR's name grammar, a trailing `/`
/// allowed, or `ROOT`), without its trailing `/`.
pub fn normalize_prefix(prefix: &str) -> Result<String> {
    if prefix == ROOT_PREFIX {
        return Ok(prefix.to_string());
    }
    let bare = prefix.strip_suffix('/').unwrap_or(prefix);
    let ok = (1..=256).contains(&prefix.len()) && RepositoryName::parse(bare).is_ok();
    if !ok {
        return Err(Error::InvalidParameter(format!(
            "Invalid parameter at 'prefix' failed to satisfy constraint: 'Member must satisfy regular expression pattern: ^([a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*\\/?|ROOT)$' (got '{prefix}')"
        )));
    }
    Ok(bare.to_string())
}

/// The prefixes whose template may apply to repository `name`, most
/// specific first: each parent namespace, then `ROOT`.
fn covering_prefixes(name: &str) -> Vec<String> {
    let mut out: Vec<String> = name
        .match_indices('/')
        .map(|(i, _)| name[..i].to_string())
        .collect();
    out.reverse();
    out.push(ROOT_PREFIX.to_string());
    out
}

impl Registry {
    /// Checks what a template would set as creating a repository would: tags,
    /// policies, `appliedFor`, encryption.
    fn check_template(&self, s: &TemplateSettings) -> Result<()> {
        if s.applied_for.is_empty() {
            return Err(Error::InvalidParameter(
                "Invalid parameter at 'appliedFor' failed to satisfy constraint: 'Member must have length greater than or equal to 1'".into(),
            ));
        }
        if let Some(bad) = s
            .applied_for
            .iter()
            .find(|a| !APPLIED_FOR.contains(&a.as_str()))
        {
            return Err(Error::InvalidParameter(format!(
                "Invalid parameter at 'appliedFor' failed to satisfy constraint: 'Member must satisfy enum value set: [REPLICATION, PULL_THROUGH_CACHE, CREATE_ON_PUSH]' (got '{bad}')"
            )));
        }
        if s.description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 256)
        {
            return Err(Error::InvalidParameter(
                "Invalid parameter at 'description' failed to satisfy constraint: 'Member must have length less than or equal to 256'".into(),
            ));
        }
        self.check_encryption(&s.encryption_type, s.kms_key.as_deref())?;
        if s.kms_key
            .as_deref()
            .is_some_and(|k| crate::kms::rules::parse_key_arn(k).is_none())
        {
            return Err(Error::InvalidParameter(
                "Invalid parameter at 'encryptionConfiguration.kmsKey' failed to satisfy constraint: 'Member must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)'".into(),
            ));
        }
        crate::repositories::check_resource_tags(&s.tags(), "the template")?;
        if let Some(p) = &s.lifecycle_policy {
            crate::lifecycle::check_policy(p)?;
        }
        if let Some(p) = &s.repository_policy {
            crate::identity::check_repository_policy(p)?;
        }
        Ok(())
    }

    pub async fn create_template(
        &self,
        registry: &RegistryKey,
        prefix: &str,
        settings: TemplateSettings,
    ) -> Result<Template> {
        let prefix = normalize_prefix(prefix)?;
        self.check_template(&settings)?;
        let now = self.now();
        let t = Template {
            prefix,
            settings,
            created_at: now,
            updated_at: now,
        };
        match self
            .meta
            .create_template(registry, &encode(&t), MAX_TEMPLATES)
            .await?
        {
            CreateTemplateOutcome::Created => Ok(t),
            CreateTemplateOutcome::Exists => Err(Error::TemplateAlreadyExists(t.prefix)),
            CreateTemplateOutcome::Full => Err(Error::TooManyTemplates { max: MAX_TEMPLATES }),
        }
    }

    /// Writes template `t` (read with `template`, its settings changed)
    /// once they check as Create's do.
    pub async fn update_template(
        &self,
        registry: &RegistryKey,
        mut t: Template,
    ) -> Result<Template> {
        self.check_template(&t.settings)?;
        t.updated_at = self.now();
        if !self.meta.update_template(registry, &encode(&t)).await? {
            return Err(Error::TemplateNotFound(t.prefix));
        }
        Ok(t)
    }

    pub async fn delete_template(&self, registry: &RegistryKey, prefix: &str) -> Result<Template> {
        let prefix = normalize_prefix(prefix)?;
        match self.meta.delete_template(registry, &prefix).await? {
            Some(r) => decode(r),
            None => Err(Error::TemplateNotFound(prefix)),
        }
    }

    /// One template, or `TemplateNotFound`.
    pub async fn template(&self, registry: &RegistryKey, prefix: &str) -> Result<Template> {
        let prefix = normalize_prefix(prefix)?;
        match self.meta.get_template(registry, &prefix).await? {
            Some(r) => decode(r),
            None => Err(Error::TemplateNotFound(prefix)),
        }
    }

    /// Templates in prefix order after `after`, at most `limit`.
    pub async fn templates(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Template>> {
        self.meta
            .list_templates(registry, after, limit)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// The template a repository `name` created `how` (`CREATE_ON_PUSH`)
    /// takes: the most specific covering prefix's, else ROOT's, if it
    /// applies to `how`. One read per namespace level.
    pub async fn template_for(
        &self,
        registry: &RegistryKey,
        name: &str,
        how: &str,
    ) -> Result<Option<Template>> {
        for prefix in covering_prefixes(name) {
            if let Some(r) = self.meta.get_template(registry, &prefix).await? {
                let t = decode(r)?;
                // The most specific template decides, whether or not it
                // applies to `how`.
                return Ok(t.settings.applied_for.iter().any(|a| a == how).then_some(t));
            }
        }
        Ok(None)
    }

    /// Creates repository `repo` with template `t`'s settings, tags and
    /// policies. The key of a KMS template is used as the registry's own
    /// (ECR acts through the template's role); a key that is gone or not
    /// enabled refuses, as creating the repository by hand would.
    pub(crate) async fn create_from_template(&self, repo: &Repo, t: &Template) -> Result<RepoId> {
        let s = &t.settings;
        let kms_key = match s.encryption_type.as_str() {
            "AES256" => None,
            _ => {
                let arn = match &s.kms_key {
                    Some(arn) => arn.clone(),
                    None => {
                        self.kms()
                            .managed_key_arn(&repo.registry.account_id, &repo.registry.region)
                            .await?
                    }
                };
                self.kms.require_enabled(&arn).await?;
                Some(arn)
            }
        };
        let settings = RepositorySettings {
            image_tag_mutability: s.image_tag_mutability.clone(),
            mutability_filters: s.mutability_filters.clone(),
            scan_on_push: false,
            encryption_type: s.encryption_type.clone(),
            kms_key,
        };
        let record = match self
            .create_repository(&repo.registry, &repo.name, settings, &s.tags())
            .await
        {
            Ok(r) => r,
            // Another push created it first: theirs stands.
            Err(Error::RepositoryAlreadyExists(_)) => return self.repo_id(repo).await,
            Err(e) => return Err(e),
        };
        let name = repo.name.as_str();
        if let Some(p) = &s.lifecycle_policy {
            self.put_lifecycle_policy(&repo.registry, name, p).await?;
        }
        if let Some(p) = &s.repository_policy {
            self.identity
                .set_repository_policy_as_template(&repo.registry, name, p)
                .await?;
        }
        tracing::info!(repository = %name, prefix = %t.prefix, "created a repository from its creation template");
        Ok(record.id)
    }
}

impl Registry {
    /// A push to a repository that does not exist creates it when a
    /// `CREATE_ON_PUSH` creation template covers the name, or when
    /// `create_on_push` is on; that needs `ecr:CreateRepository` on it as
    /// well as the push's own action, as ECR's create on push does. `/v2`
    /// checks this before an upload start or a manifest PUT (the ECR API's
    /// InitiateLayerUpload and PutImage need the repository to exist).
    pub async fn authorize_create_on_push(
        &self,
        caller: &Principal,
        repo: &Repo,
        facts: &RequestFacts,
    ) -> Result<()> {
        if repo.registry.region == crate::PUBLIC_REGION || self.find_repo_id(repo).await?.is_some()
        {
            return Ok(()); // a public push to a missing repository fails with NAME_UNKNOWN
        }
        let template = self
            .template_for(&repo.registry, repo.name.as_str(), CREATE_ON_PUSH)
            .await?;
        if template.is_none() && !self.config.create_on_push {
            return Ok(()); // the push fails with NAME_UNKNOWN
        }
        self.identity
            .authorize(
                caller,
                "ecr:CreateRepository",
                &repo.registry,
                Some(repo.name.as_str()),
                facts,
            )
            .await?;
        // The repository will be under the template's key: this first push
        // must be allowed to use it, as every later one is.
        let Some(t) = template.filter(|t| t.settings.encryption_type != "AES256") else {
            return Ok(());
        };
        let arn = match t.settings.kms_key {
            Some(arn) => arn,
            None => {
                self.kms()
                    .managed_key_arn(&repo.registry.account_id, &repo.registry.region)
                    .await?
            }
        };
        let caller = crate::identity::Caller {
            principal: caller.clone(),
            facts: facts.clone(),
        };
        self.kms()
            .use_through_ecr(
                &caller,
                &repo.registry.region,
                &arn,
                "kms:GenerateDataKey",
                None,
            )
            .await
    }
}

impl Registry {
    /// A template's `customRoleArn`: a role ARN, which the caller may pass
    /// (`iam:PassRole` on it, as ECR asks), so that no one hands ECR a role
    /// they may not use. berth itself never assumes it.
    pub async fn authorize_template_role(&self, caller: &crate::Caller, role: &str) -> Result<()> {
        let is_role = role
            .strip_prefix("arn:aws:iam::")
            .and_then(|r| r.split_once(":role/"))
            .is_some_and(|(account, name)| {
                account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit())
                    && !name.is_empty()
            });
        if !is_role {
            return Err(Error::InvalidParameter(format!(
                "Invalid parameter at 'customRoleArn' failed to satisfy constraint: 'Member must be an IAM role ARN' (got '{role}')"
            )));
        }
        self.identity
            .authorize_iam(caller, "iam:PassRole", None, role)
            .await
    }
}
