//! The shape every ECR operation has ([`EcrOperation`]) and the
//! type-erased entry the operation table holds ([`Entry`]): the request's
//! JSON becomes the typed input once, the caller is authorized, the handler
//! runs, and its typed output becomes the response's JSON.

use super::access::{Needs, Scope};
use super::call::{Call, Failure};
use crate::aws_error::AwsError;
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::future::Future;

/// One ECR operation: its name in `X-Amz-Target`, its input and output
/// shapes (botocore's member names), what it must be allowed, and its
/// handler. Implemented by a unit struct in the module of its area.
pub trait EcrOperation: 'static {
    const NAME: &'static str;
    /// The input shape. A body that does not deserialize into it answers
    /// `SerializationException`, after authorization.
    type Input: DeserializeOwned + Send;
    type Output: Serialize;

    /// What the caller must be allowed, from the members that name what
    /// the request touches. By default `ecr:<NAME>` on the repository
    /// `repositoryName` names, or on the registry (resource `*`) without one.
    fn needs(scope: &Scope) -> Result<Needs, AwsError> {
        Ok(Needs::on(Self::NAME, scope.repository_name.clone()))
    }

    fn handle(
        call: &Call<'_>,
        input: Self::Input,
    ) -> impl Future<Output = Result<Self::Output, Failure>> + Send;
}

/// An operation's handler with its types erased: the request's JSON in,
/// the response's JSON bytes out.
pub type Run = for<'a> fn(&'a Call<'a>, Needs, Value) -> BoxFuture<'a, Result<Vec<u8>, AwsError>>;

/// A row of the operation table: an operation of the ECR model, and its
/// handler when berth implements it (else it answers
/// `UnsupportedOperationException`).
pub struct Entry {
    pub name: &'static str,
    pub handler: Option<Handler>,
}

/// An implemented operation, its types erased.
pub struct Handler {
    /// `EcrOperation::needs`.
    pub needs: fn(&Scope) -> Result<Needs, AwsError>,
    /// Parses the input, authorizes what `needs` said, handles, writes the
    /// output.
    pub run: Run,
}

impl Entry {
    pub const fn implemented<O: EcrOperation>() -> Entry {
        Entry {
            name: O::NAME,
            handler: Some(Handler {
                needs: O::needs,
                run: erased::<O>,
            }),
        }
    }

    pub const fn unsupported(name: &'static str) -> Entry {
        Entry {
            name,
            handler: None,
        }
    }
}

fn erased<'a, O: EcrOperation>(
    call: &'a Call<'a>,
    needs: Needs,
    input: Value,
) -> BoxFuture<'a, Result<Vec<u8>, AwsError>> {
    Box::pin(run::<O>(call, needs, input))
}

async fn run<O: EcrOperation>(
    call: &Call<'_>,
    needs: Needs,
    input: Value,
) -> Result<Vec<u8>, AwsError> {
    let input = serde_json::from_value::<O::Input>(input)
        .map_err(|e| AwsError::client("SerializationException", e.to_string()));
    // Authorization comes first, as on AWS: an unauthorised caller learns
    // nothing about the repository, not even whether it exists, nor
    // whether the rest of its input is well formed.
    authorize(call, needs).await?;
    let output = O::handle(call, input?)
        .await
        .map_err(|f| f.into_aws(&call.registry.account_id))?;
    Ok(serde_json::to_vec(&output).expect("output shapes serialize"))
}

async fn authorize(call: &Call<'_>, needs: Needs) -> Result<(), AwsError> {
    let facts = berth_registry::RequestFacts {
        request_tags: needs.request_tags,
        tag_keys: needs.tag_keys,
        ..call.facts.clone()
    };
    for (action, repository) in &needs.checks {
        // The ECR policies, and a repository's KMS key when it has one.
        call.app
            .registry
            .authorize(
                &call.principal,
                action,
                &call.registry,
                repository.as_deref(),
                &facts,
            )
            .await
            .map_err(|e| Failure::from(e).into_aws(&call.registry.account_id))?;
    }
    Ok(())
}
