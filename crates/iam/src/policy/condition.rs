//! Condition operators and their evaluation against a request context.
//!
//! AWS's rules, as the IAM User Guide states them ("Condition operators",
//! "Single-valued vs. multivalued context keys"):
//! - several keys under one operator, and several operators in one block,
//!   are ANDed; several values for one key are ORed;
//! - a negated operator (`StringNotEquals`, `NotIpAddress`, ...) is true
//!   when the request's value matches none of the policy's values;
//! - a key absent from the request makes a condition false, except for a
//!   negated operator (true), `...IfExists` (true) and `Null`;
//! - `ForAnyValue:` is true when at least one of the request's values
//!   satisfies the operator, and false when the key is absent or empty;
//!   `ForAllValues:` is true when every value does, and true when the key
//!   is absent or empty.

use super::context::RequestContext;
use super::pattern::{arn_match, glob_match, Template};
use ipnet::IpNet;
use std::net::IpAddr;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Bool,
    BinaryEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    IpAddress,
    NotIpAddress,
    Null,
}

use Operator::*;

const ALL_OPERATORS: [Operator; 27] = [
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Bool,
    BinaryEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    IpAddress,
    NotIpAddress,
    Null,
];

impl Operator {
    pub fn name(self) -> &'static str {
        match self {
            StringEquals => "StringEquals",
            StringNotEquals => "StringNotEquals",
            StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            StringLike => "StringLike",
            StringNotLike => "StringNotLike",
            ArnEquals => "ArnEquals",
            ArnNotEquals => "ArnNotEquals",
            ArnLike => "ArnLike",
            ArnNotLike => "ArnNotLike",
            Bool => "Bool",
            BinaryEquals => "BinaryEquals",
            DateEquals => "DateEquals",
            DateNotEquals => "DateNotEquals",
            DateLessThan => "DateLessThan",
            DateLessThanEquals => "DateLessThanEquals",
            DateGreaterThan => "DateGreaterThan",
            DateGreaterThanEquals => "DateGreaterThanEquals",
            NumericEquals => "NumericEquals",
            NumericNotEquals => "NumericNotEquals",
            NumericLessThan => "NumericLessThan",
            NumericLessThanEquals => "NumericLessThanEquals",
            NumericGreaterThan => "NumericGreaterThan",
            NumericGreaterThanEquals => "NumericGreaterThanEquals",
            IpAddress => "IpAddress",
            NotIpAddress => "NotIpAddress",
            Null => "Null",
        }
    }

    /// AWS spells operators in one way; matching ignores case so that a
    /// hand-written `stringEquals` is not refused over capitalisation.
    fn from_name(name: &str) -> Option<Operator> {
        ALL_OPERATORS
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(name))
    }

    /// The operator a negated one negates.
    fn positive(self) -> Option<Operator> {
        Some(match self {
            StringNotEquals => StringEquals,
            StringNotEqualsIgnoreCase => StringEqualsIgnoreCase,
            StringNotLike => StringLike,
            ArnNotEquals => ArnEquals,
            ArnNotLike => ArnLike,
            DateNotEquals => DateEquals,
            NumericNotEquals => NumericEquals,
            NotIpAddress => IpAddress,
            _ => return None,
        })
    }

    fn kind(self) -> Kind {
        match self {
            StringEquals
            | StringNotEquals
            | StringEqualsIgnoreCase
            | StringNotEqualsIgnoreCase
            | StringLike
            | StringNotLike
            | BinaryEquals => Kind::String,
            ArnEquals | ArnNotEquals | ArnLike | ArnNotLike => Kind::Arn,
            Bool | Null => Kind::Bool,
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => Kind::Date,
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => Kind::Numeric,
            IpAddress | NotIpAddress => Kind::Ip,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Arn,
    Bool,
    Date,
    Numeric,
    Ip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

/// One `operator: {key: values}` pair of a Condition block.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub qualifier: Option<SetQualifier>,
    pub operator: Operator,
    pub if_exists: bool,
    /// As written in the policy.
    pub key: String,
    key_lower: String,
    values: Vec<Value>,
}

/// A policy value, checked and converted when the policy is parsed so that
/// evaluation never meets a malformed one.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(Template),
    Bool(bool),
    Date(i128),
    Number(f64),
    Net(IpNet),
}

impl Condition {
    /// The operator's full name as written (`ForAnyValue:StringLikeIfExists`).
    pub fn operator_name(&self) -> String {
        let prefix = match self.qualifier {
            Some(SetQualifier::ForAnyValue) => "ForAnyValue:",
            Some(SetQualifier::ForAllValues) => "ForAllValues:",
            None => "",
        };
        let suffix = if self.if_exists { "IfExists" } else { "" };
        format!("{prefix}{}{suffix}", self.operator.name())
    }
}

/// A problem in a Condition block; `document` adds where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConditionProblem {
    UnknownOperator(String),
    Invalid(String),
}

/// Parses the operator name with its qualifier and `IfExists` suffix.
pub(crate) fn parse_operator(
    name: &str,
) -> Result<(Option<SetQualifier>, Operator, bool), ConditionProblem> {
    let unknown = || ConditionProblem::UnknownOperator(name.to_string());
    let (qualifier, rest) = match name.split_once(':') {
        Some((q, rest)) if q.eq_ignore_ascii_case("ForAnyValue") => {
            (Some(SetQualifier::ForAnyValue), rest)
        }
        Some((q, rest)) if q.eq_ignore_ascii_case("ForAllValues") => {
            (Some(SetQualifier::ForAllValues), rest)
        }
        Some(_) => return Err(unknown()),
        None => (None, name),
    };
    if let Some(op) = Operator::from_name(rest) {
        return Ok((qualifier, op, false));
    }
    let lower = rest.to_ascii_lowercase();
    let base = lower
        .strip_suffix("ifexists")
        .map(|b| &rest[..b.len()])
        .ok_or_else(unknown)?;
    match Operator::from_name(base) {
        // AWS: "Null" tests existence itself; "NullIfExists" is refused.
        Some(Null) | None => Err(unknown()),
        Some(op) => Ok((qualifier, op, true)),
    }
}

/// Builds one condition from its key and values; `document` has already
/// turned JSON numbers and booleans into their text, as AWS compares them.
pub(crate) fn build(
    qualifier: Option<SetQualifier>,
    operator: Operator,
    if_exists: bool,
    key: &str,
    raw_values: &[String],
    variables: bool,
) -> Result<Condition, ConditionProblem> {
    if key.is_empty() {
        return Err(ConditionProblem::Invalid(format!(
            "{} has an empty condition key",
            operator.name()
        )));
    }
    let bad = |what: &str, v: &str| {
        ConditionProblem::Invalid(format!(
            "{} value '{v}' for key '{key}' is not {what}",
            operator.name()
        ))
    };
    let values = raw_values
        .iter()
        .map(|v| match operator.kind() {
            Kind::String | Kind::Arn => Ok(Value::Text(Template::parse(v, variables))),
            Kind::Bool => match v.to_ascii_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(bad("\"true\" or \"false\"", v)),
            },
            Kind::Date => parse_date(v)
                .map(Value::Date)
                .ok_or_else(|| bad("an ISO 8601 date or epoch seconds", v)),
            Kind::Numeric => parse_number(v)
                .map(Value::Number)
                .ok_or_else(|| bad("a number", v)),
            Kind::Ip => parse_net(v)
                .map(Value::Net)
                .ok_or_else(|| bad("an IP address or CIDR block", v)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Condition {
        qualifier,
        operator,
        if_exists,
        key: key.to_string(),
        key_lower: key.to_ascii_lowercase(),
        values,
    })
}

impl Condition {
    pub fn evaluate(&self, ctx: &RequestContext) -> bool {
        let present = ctx.get(&self.key_lower).filter(|v| !v.is_empty());
        if self.operator == Null {
            let absent = present.is_none();
            return self.values.contains(&Value::Bool(absent));
        }
        let negated = self.operator.positive().is_some();
        let base = self.operator.positive().unwrap_or(self.operator);
        let satisfies = |v: &str| self.matches_any(base, v, ctx) != negated;
        match (self.qualifier, present) {
            (None, None) => self.if_exists || negated,
            // Without a qualifier a negated operator asks that no value of
            // the request match any of the policy's.
            (None, Some(vals)) => vals.iter().any(|v| self.matches_any(base, v, ctx)) != negated,
            (Some(SetQualifier::ForAnyValue), None) => self.if_exists,
            (Some(SetQualifier::ForAnyValue), Some(vals)) => vals.iter().any(|v| satisfies(v)),
            (Some(SetQualifier::ForAllValues), None) => true,
            (Some(SetQualifier::ForAllValues), Some(vals)) => vals.iter().all(|v| satisfies(v)),
        }
    }

    fn matches_any(&self, op: Operator, request_value: &str, ctx: &RequestContext) -> bool {
        self.values
            .iter()
            .any(|policy_value| matches(op, policy_value, request_value, ctx))
    }
}

fn matches(op: Operator, policy: &Value, request: &str, ctx: &RequestContext) -> bool {
    match (op, policy) {
        (StringEquals | BinaryEquals, Value::Text(t)) => {
            t.literal(ctx).is_some_and(|p| p == request)
        }
        (StringEqualsIgnoreCase, Value::Text(t)) => t
            .literal(ctx)
            .is_some_and(|p| p.to_lowercase() == request.to_lowercase()),
        (StringLike, Value::Text(t)) => t.tokens(ctx).is_some_and(|p| glob_match(&p, request)),
        (ArnEquals | ArnLike, Value::Text(t)) => {
            t.tokens(ctx).is_some_and(|p| arn_match(&p, request))
        }
        (Bool, Value::Bool(b)) => request.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        (
            DateEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals,
            Value::Date(p),
        ) => parse_date(request).is_some_and(|r| compare(op, r.cmp(p))),
        (
            NumericEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals,
            Value::Number(p),
        ) => parse_number(request)
            .and_then(|r| r.partial_cmp(p))
            .is_some_and(|o| compare(op, o)),
        (IpAddress, Value::Net(net)) => request
            .trim()
            .parse::<IpAddr>()
            .is_ok_and(|ip| net.contains(&ip)),
        _ => false,
    }
}

/// `ordering` is the request's value compared with the policy's.
fn compare(op: Operator, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        DateEquals | NumericEquals => ordering == Equal,
        DateLessThan | NumericLessThan => ordering == Less,
        DateLessThanEquals | NumericLessThanEquals => ordering != Greater,
        DateGreaterThan | NumericGreaterThan => ordering == Greater,
        DateGreaterThanEquals | NumericGreaterThanEquals => ordering != Less,
        _ => false,
    }
}

fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Nanoseconds since the epoch, from epoch seconds (`aws:EpochTime`) or
/// ISO 8601 as AWS writes it: a full timestamp with an offset, or a date.
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if let Some(secs) = parse_number(s) {
        return Some((secs * 1e9) as i128);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    // AWS's own examples also write bare dates ("2019-07-16") and times
    // without an offset; both are read as UTC.
    if let Ok(d) = time::Date::parse(s, format_description!("[year]-[month]-[day]")) {
        return Some(d.midnight().assume_utc().unix_timestamp_nanos());
    }
    let no_offset = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, no_offset)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp_nanos())
}

fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_parse_with_qualifiers_and_if_exists() {
        assert_eq!(
            parse_operator("ForAnyValue:StringLikeIfExists").unwrap(),
            (Some(SetQualifier::ForAnyValue), StringLike, true)
        );
        assert_eq!(
            parse_operator("NumericLessThanEquals").unwrap(),
            (None, NumericLessThanEquals, false)
        );
        assert_eq!(
            parse_operator("DateGreaterThanIfExists").unwrap(),
            (None, DateGreaterThan, true)
        );
        for bad in [
            "StringEqualz",
            "NullIfExists",
            "ForSomeValues:StringEquals",
            "IfExists",
            "",
        ] {
            assert_eq!(
                parse_operator(bad),
                Err(ConditionProblem::UnknownOperator(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn dates_parse_in_aws_forms() {
        let z = parse_date("2020-01-01T00:00:00Z").unwrap();
        assert_eq!(parse_date("1577836800"), Some(z));
        assert_eq!(parse_date("2020-01-01"), Some(z));
        assert_eq!(parse_date("2020-01-01T01:00:00+01:00"), Some(z));
        assert_eq!(parse_date("2020-01-01T00:00:00"), Some(z));
        assert!(parse_date("yesterday").is_none());
        assert!(parse_date("2020-13-01").is_none());
    }
}
