//! SigV4 `Authorization` headers, `X-Amz-Date`, and presigned query
//! strings, as an unauthenticated client sends them.
#![no_main]
use berth_iam::sigv4;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = s.splitn(4, '\n');
    let (auth, date, query, path) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next(),
        parts.next().unwrap_or("/"),
    );
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(auth) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
    if let Ok(v) = http::HeaderValue::from_str(date) {
        headers.insert("x-amz-date", v);
    }
    headers.insert("host", http::HeaderValue::from_static("registry.test"));
    let req = sigv4::Request {
        method: "GET",
        path,
        query,
        headers: &headers,
        payload_sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    };
    if let Ok(claim) = sigv4::parse(&req) {
        let _ = claim.check_scope("us-east-1", "ecr");
        let _ = sigv4::signature(&req, &claim, "secret");
    }
    let _ = sigv4::parse_amz_date(date);
    let _ = sigv4::canonical_query(query, true);
    let _ = sigv4::canonical_query(query, false);
    let _ = sigv4::canonical_uri(path);
});
