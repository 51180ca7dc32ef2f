//! The AWS Query protocol's request: a form-encoded body
//! (`Action=CreateUser&Version=2010-05-08&UserName=...`), and the
//! pagination members (`Marker`, `MaxItems`) every IAM listing shares.

use crate::aws_error::QueryError;
use std::collections::HashMap;

/// A parsed request body.
#[derive(Debug, Default)]
pub struct Query {
    pub action: String,
    pub version: String,
    params: HashMap<String, String>,
}

/// IAM's default page size, and the model's bounds of `MaxItems`.
pub const DEFAULT_MAX_ITEMS: usize = 100;
const MAX_MAX_ITEMS: usize = 1000;

impl Query {
    /// Parses a form-encoded body. A member given twice is refused rather
    /// than one silently winning.
    pub fn parse(body: &[u8]) -> Result<Query, QueryError> {
        let mut q = Query::default();
        for (k, v) in form_urlencoded::parse(body) {
            match k.as_ref() {
                "Action" => q.action = v.into_owned(),
                "Version" => q.version = v.into_owned(),
                _ => {
                    if q.params.insert(k.to_string(), v.into_owned()).is_some() {
                        return Err(QueryError::validation(format!(
                            "the parameter {k} is given more than once"
                        )));
                    }
                }
            }
        }
        if q.action.is_empty() {
            return Err(QueryError::new(
                http::StatusCode::BAD_REQUEST,
                "MissingAction",
                "The request must contain the parameter Action.",
            ));
        }
        Ok(q)
    }

    pub fn optional(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A list member: `<name>.member.1`, `.2`, ... (with `field`, each
    /// item's `<name>.member.N.<field>`), until the first gap.
    pub fn list(&self, name: &str, field: Option<&str>) -> Vec<&str> {
        (1..)
            .map_while(|n| {
                let key = match field {
                    Some(f) => format!("{name}.member.{n}.{f}"),
                    None => format!("{name}.member.{n}"),
                };
                self.optional(&key)
            })
            .collect()
    }

    /// `Tags.member.N.Key` / `.Value` pairs.
    pub fn tags(&self) -> Vec<(String, String)> {
        (1..)
            .map_while(|n| {
                let key = self.optional(&format!("Tags.member.{n}.Key"))?;
                let value = self
                    .optional(&format!("Tags.member.{n}.Value"))
                    .unwrap_or("");
                Some((key.to_string(), value.to_string()))
            })
            .collect()
    }

    /// An integer member, refused as IAM words a bad value.
    pub fn int(&self, name: &str) -> Result<Option<i64>, QueryError> {
        self.optional(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    QueryError::validation(format!(
                        "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must be a number",
                        lower_first(name)
                    ))
                })
            })
            .transpose()
    }

    /// A member the operation requires, as AWS words its absence.
    pub fn required(&self, name: &str) -> Result<&str, QueryError> {
        self.optional(name).ok_or_else(|| {
            QueryError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(name)
            ))
        })
    }

    /// A boolean member (`true`/`false`); absent is false.
    pub fn flag(&self, name: &str) -> Result<bool, QueryError> {
        match self.optional(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(QueryError::validation(format!(
                "the value '{other}' of {name} is not a boolean"
            ))),
        }
    }

    /// `Marker` and `MaxItems` (1 to 1000, default 100).
    pub fn page(&self) -> Result<(Option<&str>, usize), QueryError> {
        let max = match self.optional("MaxItems") {
            None => DEFAULT_MAX_ITEMS,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_MAX_ITEMS).contains(&n) => n,
                _ => {
                    return Err(QueryError::validation(format!(
                        "1 validation error detected: Value '{v}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and {MAX_MAX_ITEMS}"
                    )))
                }
            },
        };
        Ok((self.optional("Marker"), max))
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// One page of `items` (sorted by `key`, unique keys): those after
/// `marker`, at most `max`; and the marker of the next page if any remain.
/// The marker is the last key returned, so a listing that changes between
/// pages neither repeats nor skips what stayed.
pub fn paginate<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> &str,
    marker: Option<&str>,
    max: usize,
) -> (Vec<T>, Option<String>) {
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|i| marker.is_none_or(|m| key(i) > m))
        .collect();
    if rest.len() <= max {
        return (rest, None);
    }
    rest.truncate(max);
    let next = rest.last().map(|i| key(i).to_string());
    (rest, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_form_bodies() {
        let q = Query::parse(
            b"Action=PutUserPolicy&Version=2010-05-08&UserName=dev&PolicyName=p&PolicyDocument=%7B%22Statement%22%3A+%5B%5D%7D",
        )
        .unwrap();
        assert_eq!(
            (q.action.as_str(), q.version.as_str()),
            ("PutUserPolicy", "2010-05-08")
        );
        assert_eq!(q.required("UserName").unwrap(), "dev");
        // `+` is a space, `%xx` a byte.
        assert_eq!(q.optional("PolicyDocument"), Some(r#"{"Statement": []}"#));
        assert_eq!(q.optional("Path"), None);
        let e = q.required("Path").unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert!(e.message.contains("'path'"), "{}", e.message);
    }

    #[test]
    fn refuses_bodies_without_action_or_with_repeats() {
        assert_eq!(
            Query::parse(b"Version=2010-05-08").unwrap_err().code,
            "MissingAction"
        );
        assert_eq!(
            Query::parse(b"Action=GetUser&UserName=a&UserName=b")
                .unwrap_err()
                .code,
            "ValidationError"
        );
    }

    #[test]
    fn reads_flags_and_pages() {
        let q = Query::parse(b"Action=ListPolicies&OnlyAttached=true&MaxItems=2&Marker=b").unwrap();
        assert!(q.flag("OnlyAttached").unwrap());
        assert!(!q.flag("Other").unwrap());
        assert_eq!(q.page().unwrap(), (Some("b"), 2));
        assert_eq!(
            Query::parse(b"Action=ListUsers").unwrap().page().unwrap(),
            (None, 100)
        );
        for bad in ["0", "1001", "x"] {
            let body = format!("Action=ListUsers&MaxItems={bad}");
            assert!(
                Query::parse(body.as_bytes()).unwrap().page().is_err(),
                "{bad}"
            );
        }
        assert!(Query::parse(b"Action=X&OnlyAttached=yes")
            .unwrap()
            .flag("OnlyAttached")
            .is_err());
    }

    #[test]
    fn pages_follow_the_marker() {
        let names = vec!["a", "b", "c", "d", "e"];
        let (p1, m1) = paginate(names.clone(), |s| s, None, 2);
        assert_eq!((p1, m1.as_deref()), (vec!["a", "b"], Some("b")));
        let (p2, m2) = paginate(names.clone(), |s| s, Some("b"), 2);
        assert_eq!((p2, m2.as_deref()), (vec!["c", "d"], Some("d")));
        let (p3, m3) = paginate(names.clone(), |s| s, Some("d"), 2);
        assert_eq!((p3, m3), (vec!["e"], None));
        let (all, none) = paginate(names, |s| s, None, 5);
        assert_eq!((all.len(), none), (5, None));
    }
}
