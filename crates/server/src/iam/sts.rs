//! STS: GetCallerIdentity (what `aws sts get-caller-identity` and every
//! SDK's "who am I" call).

use super::action::{reg, render, QueryAction, Service};
use super::query::Query;
use super::xml::Render;
use crate::aws_error::QueryError;
use crate::AppState;
use berth_registry::Caller;

pub struct GetCallerIdentity;

impl QueryAction for GetCallerIdentity {
    const SERVICE: Service = Service::Sts;
    const NAME: &'static str = "GetCallerIdentity";

    async fn handle(app: &AppState, caller: &Caller, _: &Query) -> Result<Render, QueryError> {
        let u = reg(app.registry.identity().caller_identity(caller).await)?;
        render(move |x| {
            x.leaf("UserId", &u.user_id);
            x.leaf("Account", &u.account_id);
            x.leaf("Arn", &u.arn);
        })
    }
}
