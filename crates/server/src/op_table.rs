//! The table of an AWS JSON API's operations (KMS's, ECR Public's): for
//! each operation of the service's model, its handler, or the reason berth
//! answers it with the service's "unsupported" error.

pub struct Entry<H: 'static> {
    pub name: &'static str,
    pub handler: Option<H>,
    /// Why berth does not answer it (the unsupported error's message).
    pub why_not: &'static str,
}

pub const fn yes<H>(name: &'static str, handler: H) -> Entry<H> {
    Entry {
        name,
        handler: Some(handler),
        why_not: "",
    }
}

pub const fn no<H>(name: &'static str, why_not: &'static str) -> Entry<H> {
    Entry {
        name,
        handler: None,
        why_not,
    }
}

pub fn find<H>(table: &'static [Entry<H>], name: &str) -> Option<&'static Entry<H>> {
    table.iter().find(|e| e.name == name)
}

/// `&[&str]`: the names of the operations of `$table` that have a
/// handler, in the table's order, computed at compile time.
macro_rules! implemented_names {
    ($table:expr) => {
        &{
            const N: usize = {
                let mut n = 0;
                let mut i = 0;
                while i < $table.len() {
                    if $table[i].handler.is_some() {
                        n += 1;
                    }
                    i += 1;
                }
                n
            };
            let mut out = [""; N];
            let (mut i, mut j) = (0, 0);
            while i < $table.len() {
                if $table[i].handler.is_some() {
                    out[j] = $table[i].name;
                    j += 1;
                }
                i += 1;
            }
            out
        }
    };
}
pub(crate) use implemented_names;

/// An operation's handler for a table's API, in a module under the API's
/// own: the input type parsed from the request's JSON by `$parse`, then
/// `$body`, which answers the output's JSON; `$call` is the API's call
/// struct (in the parent module).
macro_rules! json_handler {
    ($call:ident, $parse:path; $name:ident, $input:ty, |$c:ident, $in:ident| $body:block) => {
        pub fn $name<'a>(
            $c: &'a super::$call<'a>,
            v: serde_json::Value,
        ) -> futures_util::future::BoxFuture<
            'a,
            Result<serde_json::Value, crate::aws_error::AwsError>,
        > {
            Box::pin(async move {
                #[allow(unused_variables)]
                let $in: $input = $parse(v)?;
                $body
            })
        }
    };
}
pub(crate) use json_handler;
