//! Text with policy variables (`${aws:username}`) and wildcards (`*`, `?`),
//! as `Resource` elements and condition values carry it.
//!
//! A variable's value is always literal: a user named `a*` must not turn a
//! resource pattern into a wildcard, so substitution yields literal tokens
//! and only the policy's own text is read for `*` and `?`.

use super::context::RequestContext;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var {
        key: String,
        default: Option<String>,
    },
}

/// A policy string, parsed once. Variables are recognised only in policies
/// of version 2012-10-17 (AWS reads `${...}` literally in older ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    raw: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(char),
    Star,
    One,
}

impl Template {
    pub(crate) fn parse(raw: &str, variables: bool) -> Template {
        let parts = if variables {
            split_variables(raw)
        } else {
            vec![Part::Text(raw.to_string())]
        };
        Template {
            raw: raw.to_string(),
            parts,
        }
    }

    pub(crate) fn raw(&self) -> &str {
        &self.raw
    }

    pub(crate) fn has_variables(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Var { .. }))
    }

    /// The text with variables substituted; `None` when a variable has no
    /// single value in the request (AWS: the element then matches nothing).
    pub(crate) fn literal(&self, ctx: &RequestContext) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var { key, default } => out.push_str(&resolve(key, default, ctx)?),
            }
        }
        Some(out)
    }

    /// Wildcard tokens with variables substituted as literals.
    pub(crate) fn tokens(&self, ctx: &RequestContext) -> Option<Vec<Tok>> {
        let mut out = Vec::with_capacity(self.raw.len());
        for part in &self.parts {
            match part {
                Part::Text(t) => out.extend(glob_tokens(t)),
                Part::Var { key, default } => {
                    out.extend(resolve(key, default, ctx)?.chars().map(Tok::Lit))
                }
            }
        }
        Some(out)
    }
}

fn resolve(key: &str, default: &Option<String>, ctx: &RequestContext) -> Option<String> {
    match key {
        "*" => return Some("*".into()),
        "?" => return Some("?".into()),
        "$" => return Some("$".into()),
        _ => {}
    }
    match ctx.get(key) {
        Some([one]) => Some(one.clone()),
        _ => default.clone(),
    }
}

/// `${key}` or `${key, 'default'}`; an unclosed `${` stays text.
fn split_variables(raw: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        text.push_str(&rest[..start]);
        if !text.is_empty() {
            parts.push(Part::Text(std::mem::take(&mut text)));
        }
        let inner = &rest[start + 2..start + 2 + len];
        let (key, default) = match inner.split_once(',') {
            Some((k, d)) => {
                let d = d.trim();
                let d = d
                    .strip_prefix('\'')
                    .and_then(|d| d.strip_suffix('\''))
                    .unwrap_or(d);
                (k.trim(), Some(d.to_string()))
            }
            None => (inner.trim(), None),
        };
        parts.push(Part::Var {
            key: key.to_string(),
            default,
        });
        rest = &rest[start + 2 + len + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() || parts.is_empty() {
        parts.push(Part::Text(text));
    }
    parts
}

pub(crate) fn glob_tokens(text: &str) -> impl Iterator<Item = Tok> + '_ {
    text.chars().map(|c| match c {
        '*' => Tok::Star,
        '?' => Tok::One,
        c => Tok::Lit(c),
    })
}

/// Wildcard match; `*` spans any run of characters (including none and
/// including `/` and `:`), `?` exactly one. Linear backtracking on the last
/// star, so no pattern is exponential.
pub(crate) fn glob_match(pattern: &[Tok], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                p += 1;
                t += 1;
            }
            Some(Tok::Lit(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|tok| *tok == Tok::Star)
}

/// ArnLike/ArnEquals: each of the six colon-separated parts is matched on
/// its own, so a `*` in the region never swallows the account.
pub(crate) fn arn_match(pattern: &[Tok], arn: &str) -> bool {
    let pattern_parts: Vec<&[Tok]> = pattern
        .splitn(6, |t| *t == Tok::Lit(':'))
        .collect::<Vec<_>>();
    let arn_parts: Vec<&str> = arn.splitn(6, ':').collect();
    if pattern_parts.len() != 6 || arn_parts.len() != 6 {
        return false;
    }
    pattern_parts
        .iter()
        .zip(&arn_parts)
        .all(|(p, a)| glob_match(p, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        glob_tokens(s).collect()
    }

    #[test]
    fn glob_matches_like_aws() {
        let cases = [
            ("*", "", true),
            ("*", "anything/at:all", true),
            ("ecr:*", "ecr:PutImage", true),
            ("ecr:Get*", "ecr:GetAuthorizationToken", true),
            ("ecr:Get*", "ecr:BatchGetImage", false),
            ("ecr:?utImage", "ecr:PutImage", true),
            ("ecr:?utImage", "ecr:utImage", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("repository/team/*", "repository/team/a/b", true),
            ("repository/team/*", "repository/teams", false),
            ("**", "x", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob_match(&toks(p), t), want, "{p} vs {t}");
        }
    }

    #[test]
    fn arn_like_matches_per_component() {
        let arn = "arn:aws:ecr:us-east-1:111122223333:repository/team/app";
        assert!(arn_match(
            &toks("arn:aws:ecr:*:111122223333:repository/*"),
            arn
        ));
        assert!(arn_match(&toks("arn:aws:ecr:*:*:*"), arn));
        // Fewer than six parts never matches, even with a star at the end.
        assert!(!arn_match(&toks("arn:aws:ecr:*"), arn));
        assert!(!arn_match(&toks("arn:aws:ecr:*:444455556666:*"), arn));
    }

    #[test]
    fn variables_substitute_literally() {
        let ctx = RequestContext::new().with("aws:username", "a*");
        let t = Template::parse("arn:aws:ecr:*:1:repository/${aws:username}/*", true);
        let tokens = t.tokens(&ctx).unwrap();
        assert!(glob_match(&tokens, "arn:aws:ecr:r:1:repository/a*/x"));
        assert!(!glob_match(&tokens, "arn:aws:ecr:r:1:repository/ab/x"));
        // Missing variable: no match at all; a default fills in.
        assert!(t.tokens(&RequestContext::new()).is_none());
        let d = Template::parse("${aws:username, 'nobody'}-${*}", true);
        assert_eq!(d.literal(&RequestContext::new()).unwrap(), "nobody-*");
        // Older policy versions read `${` literally.
        let old = Template::parse("${aws:username}", false);
        assert_eq!(old.literal(&ctx).unwrap(), "${aws:username}");
        assert!(!old.has_variables());
    }
}
