//! The shape every IAM and STS action has ([`QueryAction`]), the
//! type-erased entry the action table holds ([`Entry`]), and the helpers
//! the actions share (rendering, registry failures, paging members).

use super::query::Query;
use super::xml::{Render, Xml};
use crate::aws_error::QueryError;
use crate::AppState;
use berth_registry::Caller;
use futures_util::future::BoxFuture;
use std::future::Future;

/// The two services and the protocol version each accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Service {
    Iam,
    Sts,
}

impl Service {
    pub fn namespace(self) -> &'static str {
        match self {
            Service::Iam => super::xml::IAM_NAMESPACE,
            Service::Sts => super::xml::STS_NAMESPACE,
        }
    }
    pub fn version(self) -> &'static str {
        match self {
            Service::Iam => "2010-05-08",
            Service::Sts => "2011-06-15",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Sts => "sts",
        }
    }
}

/// One action of the IAM or STS Query API: its service and name
/// (`Action=`), and its handler, which reads the members it needs from the
/// query and says what to render. Implemented by a unit struct in the
/// module of its area. Who may call it is the registry's rule
/// (`authorize_iam`), applied inside the registry call.
pub trait QueryAction: 'static {
    const SERVICE: Service;
    const NAME: &'static str;

    fn handle(
        app: &AppState,
        caller: &Caller,
        q: &Query,
    ) -> impl Future<Output = Result<Render, QueryError>> + Send;
}

/// An action's handler with its types erased.
pub type Run =
    for<'a> fn(&'a AppState, &'a Caller, &'a Query) -> BoxFuture<'a, Result<Render, QueryError>>;

/// A row of the action table: an action of the service's model, and its
/// handler when berth implements it (else it answers `InvalidAction`, as
/// a name the model lacks does).
pub struct Entry {
    pub service: Service,
    pub name: &'static str,
    pub run: Option<Run>,
}

impl Entry {
    pub const fn implemented<A: QueryAction>() -> Entry {
        Entry {
            service: A::SERVICE,
            name: A::NAME,
            run: Some(erased::<A>),
        }
    }

    pub const fn unsupported(service: Service, name: &'static str) -> Entry {
        Entry {
            service,
            name,
            run: None,
        }
    }
}

fn erased<'a, A: QueryAction>(
    app: &'a AppState,
    caller: &'a Caller,
    q: &'a Query,
) -> BoxFuture<'a, Result<Render, QueryError>> {
    Box::pin(A::handle(app, caller, q))
}

/// The answer `InvalidAction`: an action the service does not have (or
/// berth does not implement), or a version it does not speak.
pub fn invalid_action(action: &str, version: &str) -> QueryError {
    QueryError::new(
        http::StatusCode::BAD_REQUEST,
        "InvalidAction",
        format!("Could not find operation {action} for version {version}"),
    )
}

/// An answer with a `<{Action}Result>` its closure writes.
pub fn render(f: impl FnOnce(&mut Xml) + Send + 'static) -> Result<Render, QueryError> {
    Ok(Some(Box::new(f)))
}

/// A registry result, its failure as the Query protocol words it.
pub fn reg<T>(r: berth_registry::Result<T>) -> Result<T, QueryError> {
    r.map_err(QueryError::from_registry)
}

/// `IsTruncated`, and `Marker` when there is a next page.
pub fn truncation(x: &mut Xml, next: Option<String>) {
    x.bool("IsTruncated", next.is_some());
    x.opt("Marker", next.as_deref());
}
