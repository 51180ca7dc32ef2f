//! What every ECR operation shares: the call's context ([`Call`]), the
//! failure type its handler returns ([`Failure`]), and the checks of the
//! members most operations have (`registryId`, `repositoryName`) in ECR's
//! words. Operation modules import this module; it imports none of them.

use crate::aws_error::AwsError;
use crate::AppState;
use berth_oci::RepositoryName;
use berth_registry::RegistryKey;
use berth_registry::{Principal, Repo, RequestFacts};

/// What an operation knows about its caller.
pub struct Call<'a> {
    pub app: &'a AppState,
    pub principal: Principal,
    /// The registry the request addresses: the account its `registryId`
    /// (or the repository ARN) names, else the caller's own, in the region
    /// the request was signed for.
    pub registry: RegistryKey,
    /// The connection's facts for policy conditions (source address, TLS).
    pub facts: RequestFacts,
    /// The request's Host header (for the URIs and endpoints answered).
    pub host: String,
    /// The caller's access key, which the URLs it asks berth to presign
    /// name (berth signs them with its own derived key).
    pub access_key_id: String,
    /// UploadLayerPart's decoded `layerPartBlob`.
    pub layer_part: Option<bytes::Bytes>,
    /// Sent by another deployment's replication (`X-Berth-Replica`): a
    /// repository CreateRepository makes comes from the registry's
    /// `REPLICATION` template, as replication's own do.
    pub replica: bool,
}

/// How an operation's handler fails: an AWS error it words itself, or a
/// registry failure, whose message names the registry id. `?` converts
/// both; the operation table adds the registry id, in one place
/// ([`Failure::into_aws`]).
#[derive(Debug)]
pub enum Failure {
    Aws(AwsError),
    Registry(berth_registry::Error),
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        Failure::Aws(e)
    }
}

impl From<berth_registry::Error> for Failure {
    fn from(e: berth_registry::Error) -> Self {
        Failure::Registry(e)
    }
}

impl Failure {
    /// The AWS error answered, registry failures worded with the id of the
    /// registry the call addresses.
    pub fn into_aws(self, registry_id: &str) -> AwsError {
        match self {
            Failure::Aws(e) => e,
            Failure::Registry(e) => AwsError::from_registry(e, registry_id),
        }
    }
}

/// ECR's wording for a value that breaks a constraint.
pub fn constraint(member: &str, reason: &str) -> AwsError {
    AwsError::invalid_parameter(format!(
        "Invalid parameter at '{member}' failed to satisfy constraint: '{reason}'"
    ))
}

impl Call<'_> {
    /// Checks a `registryId`'s form. The registry it names is the one the
    /// request addresses (`Call::registry`, chosen from it before
    /// authorization), so another account's id is a cross-account request,
    /// which that account's policies decide.
    pub fn check_registry_id(&self, registry_id: Option<&str>) -> Result<(), AwsError> {
        match registry_id {
            None => Ok(()),
            Some(id) if id == self.registry.account_id => Ok(()),
            Some(_) => Err(constraint(
                "registryId",
                "must satisfy regular expression '[0-9]{12}'",
            )),
        }
    }

    pub fn repository_name(&self, name: &str) -> Result<RepositoryName, AwsError> {
        // ECR's words for each bound.
        if name.len() < 2 {
            return Err(constraint(
                "repositoryName",
                "must have length greater than or equal to 2",
            ));
        }
        if name.len() > 256 {
            return Err(constraint(
                "repositoryName",
                "must have length less than or equal to 256",
            ));
        }
        RepositoryName::parse(name).map_err(|_| {
            constraint(
                "repositoryName",
                "must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*'",
            )
        })
    }

    /// The repository a request names, in the caller's registry.
    pub fn named_repo(&self, registry_id: Option<&str>, name: &str) -> Result<Repo, AwsError> {
        self.check_registry_id(registry_id)?;
        let name: RepositoryName = self.repository_name(name)?;
        Ok(Repo {
            registry: self.registry.clone(),
            name,
        })
    }

    /// As [`named_repo`](Self::named_repo), and it must exist
    /// (`RepositoryNotFoundException` before anything else is checked).
    pub async fn existing_repo(
        &self,
        registry_id: Option<&str>,
        name: &str,
    ) -> Result<Repo, Failure> {
        let repo = self.named_repo(registry_id, name)?;
        self.app
            .registry
            .repository(&self.registry, repo.name.as_str())
            .await?;
        Ok(repo)
    }

    /// Where clients reach the registry this call addresses, for
    /// `repositoryUri` and `proxyEndpoint`. With the default domain
    /// (`localhost`, no DNS behind it) the caller's own registry in the
    /// default region is the address this request reached (`127.0.0.1:5000`
    /// works with docker as it is: loopback needs no TLS, and a plain host
    /// name addresses the caller's own account); every other registry, and
    /// every registry once an operator sets a real domain, is its account
    /// host name `<account>.dkr.ecr.<region>.<domain>[:port]`, the port
    /// being the one this request came in on.
    pub fn registry_host(&self) -> String {
        self.app
            .hosts
            .registry_host(&self.registry, &self.principal.account_id, &self.host)
    }
}

/// Times as the ECR API gives them: Unix seconds (a float) from the
/// registry's milliseconds.
pub fn seconds(millis: i64) -> f64 {
    millis as f64 / 1000.0
}
