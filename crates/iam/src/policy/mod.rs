//! The IAM policy language: documents (`document`), condition operators
//! (`condition`), the request context they read (`context`), evaluation
//! (`evaluate`) and AWS's managed policies for ECR (`managed`). Pure: no
//! I/O, no clock (time arrives as `aws:CurrentTime`/`aws:EpochTime` in the
//! context).
//!
//! The HTTP layer parses stored policy text with `Policy::parse`, builds a
//! `Request` per call, and asks `evaluate`; `Decision::denial_message`
//! gives AWS's AccessDenied wording.

pub mod condition;
pub mod context;
pub mod document;
pub mod evaluate;
pub mod managed;
mod pattern;

pub use condition::{Condition, Operator, SetQualifier};
pub use context::{keys, RequestContext};
pub use document::{
    ActionElement, ActionPattern, AwsPrincipal, Effect, Policy, PolicyError, PolicyKind,
    PrincipalElement, Principals, ResourceElement, ResourcePattern, Statement, Version,
};
pub use evaluate::{
    evaluate, evaluate_trust, iam_arn, role_arn, user_arn, AssumedRole, Decision, IdentityPolicy,
    MissingAllow, Policies, PolicySource, Principal, Request, SessionFacts,
};
pub use managed::ManagedPolicy;
