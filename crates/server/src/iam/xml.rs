//! XML as the AWS Query protocol answers: `<{Action}Response xmlns=...>`
//! around `<{Action}Result>` (absent for operations without output) and
//! `<ResponseMetadata>`; errors as `<ErrorResponse>`. Lists are `<member>`
//! elements; timestamps ISO 8601 in UTC, as botocore's parser expects.

use crate::aws_error::QueryError;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// A writer of elements; text is escaped by quick-xml.
pub struct Xml {
    w: Writer<Vec<u8>>,
}

// Writing into a Vec cannot fail; quick-xml's io::Result is for other sinks.
const INFALLIBLE: &str = "writing XML into memory";

impl Xml {
    fn new() -> Self {
        let mut w = Writer::new(Vec::new());
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
            .expect(INFALLIBLE);
        Xml { w }
    }

    fn open_ns(&mut self, name: &str, ns: &str) {
        let start = BytesStart::new(name).with_attributes([("xmlns", ns)]);
        self.w.write_event(Event::Start(start)).expect(INFALLIBLE);
    }

    pub fn open(&mut self, name: &str) {
        self.w
            .write_event(Event::Start(BytesStart::new(name)))
            .expect(INFALLIBLE);
    }

    pub fn close(&mut self, name: &str) {
        self.w
            .write_event(Event::End(BytesEnd::new(name)))
            .expect(INFALLIBLE);
    }

    /// `<name>text</name>`.
    pub fn leaf(&mut self, name: &str, text: &str) {
        self.open(name);
        self.w
            .write_event(Event::Text(BytesText::new(text)))
            .expect(INFALLIBLE);
        self.close(name);
    }

    /// Text inside the element being written (a `<member>` of strings).
    pub fn text(&mut self, t: &str) {
        self.w
            .write_event(Event::Text(BytesText::new(t)))
            .expect(INFALLIBLE);
    }

    /// A leaf only when there is a value (optional members are left out).
    pub fn opt(&mut self, name: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.leaf(name, t);
        }
    }

    pub fn bool(&mut self, name: &str, v: bool) {
        self.leaf(name, if v { "true" } else { "false" });
    }

    /// A timestamp member from milliseconds since the epoch.
    pub fn time(&mut self, name: &str, ms: i64) {
        self.leaf(name, &iso8601(ms));
    }

    /// `<name>...</name>` around what `f` writes.
    pub fn elem(&mut self, name: &str, f: impl FnOnce(&mut Xml)) {
        self.open(name);
        f(self);
        self.close(name);
    }

    /// A list member: `<name><member>...</member>...</name>`.
    pub fn members<T>(&mut self, name: &str, items: &[T], mut f: impl FnMut(&mut Xml, &T)) {
        self.open(name);
        for item in items {
            self.elem("member", |x| f(x, item));
        }
        self.close(name);
    }

    fn finish(self) -> Vec<u8> {
        self.w.into_inner()
    }
}

/// What an operation answers: a writer of the members of its
/// `<{Action}Result>`, or `None` for operations without output.
pub type Render = Option<Box<dyn FnOnce(&mut Xml) + Send>>;

/// A successful answer to `action`.
pub fn response(ns: &str, action: &str, request_id: &str, result: Render) -> Vec<u8> {
    let mut x = Xml::new();
    let root = format!("{action}Response");
    x.open_ns(&root, ns);
    if let Some(f) = result {
        x.elem(&format!("{action}Result"), f);
    }
    x.elem("ResponseMetadata", |x| x.leaf("RequestId", request_id));
    x.close(&root);
    x.finish()
}

/// `<ErrorResponse>` as IAM and STS send it.
pub fn error(ns: &str, e: &QueryError, request_id: &str) -> Vec<u8> {
    let mut x = Xml::new();
    x.open_ns("ErrorResponse", ns);
    x.elem("Error", |x| {
        x.leaf("Type", e.fault());
        x.leaf("Code", e.code);
        x.leaf("Message", &e.message);
    });
    x.leaf("RequestId", request_id);
    x.close("ErrorResponse");
    x.finish()
}

pub use berth_iam::dates::iso8601;

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn responses_wrap_results_and_escape_text() {
        let body = response(
            IAM_NAMESPACE,
            "CreateUser",
            "req-1",
            Some(Box::new(|x: &mut Xml| {
                x.elem("User", |x| {
                    x.leaf("UserName", "a<b&c");
                    x.time("CreateDate", 0);
                })
            })),
        );
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">"#,
                "<CreateUserResult><User><UserName>a&lt;b&amp;c</UserName>",
                "<CreateDate>1970-01-01T00:00:00Z</CreateDate></User></CreateUserResult>",
                "<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>",
                "</CreateUserResponse>"
            )
        );
        // No output: no Result element.
        let text = String::from_utf8(response(IAM_NAMESPACE, "DeleteUser", "r", None)).unwrap();
        assert!(text.contains("<DeleteUserResponse xmlns=") && !text.contains("Result"));
    }

    #[test]
    fn lists_are_members() {
        let mut x = Xml::new();
        x.members("PolicyNames", &["a", "b"], |x, n| x.text(n));
        let text = String::from_utf8(x.finish()).unwrap();
        assert!(text.ends_with("<PolicyNames><member>a</member><member>b</member></PolicyNames>"));
    }

    #[test]
    fn errors_carry_type_code_and_message() {
        let e = QueryError::new(
            StatusCode::NOT_FOUND,
            "NoSuchEntity",
            "The user with name x cannot be found.",
        );
        let text = String::from_utf8(error(IAM_NAMESPACE, &e, "r-2")).unwrap();
        assert!(text.contains(concat!(
            r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">"#,
            "<Error><Type>Sender</Type><Code>NoSuchEntity</Code>",
            "<Message>The user with name x cannot be found.</Message></Error>",
            "<RequestId>r-2</RequestId></ErrorResponse>"
        )));
    }
}
