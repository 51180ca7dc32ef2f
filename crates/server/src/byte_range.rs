//! Byte ranges in request headers: `Range` on blob GETs (RFC 9110 §14), as
//! far as a registry needs it: one byte range (containerd resumes
//! interrupted layer downloads with `Range: bytes=<n>-`); and the
//! `Content-Range` of an upload chunk. Public for the fuzz targets.

use berth_registry::{ByteRange, ChunkRange};

/// The `Range` an upload holding `size` bytes answers with (`0-<last>`,
/// the form docker expects; `0-0` when empty).
pub fn upload_range(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

/// `Content-Range: <start>-<end>` of an upload chunk (also accepting the
/// RFC 9110 form `bytes <start>-<end>/<total>` that some clients send).
/// Whether the range fits the session is the registry's to decide.
pub fn content_range(v: &str) -> Option<ChunkRange> {
    let v = v.trim();
    let v = v.strip_prefix("bytes ").unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    Some(ChunkRange {
        start: a.trim().parse().ok()?,
        end: b.trim().parse().ok()?,
    })
}

/// What a request's `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No header, another unit, or several ranges: the whole blob (RFC 9110
    /// lets a server ignore a `Range` it does not serve).
    Whole,
    One(ByteRange),
    /// `bytes=` with a range that cannot be satisfied by any blob, such as
    /// an inverted `500-0`: answered with 416, never with a truncated body.
    Invalid,
}

pub fn parse(header: Option<&str>) -> RangeRequest {
    let Some(v) = header else {
        return RangeRequest::Whole;
    };
    let v = v.trim();
    let Some(spec) = v
        .split_once('=')
        .filter(|(unit, _)| unit.trim().eq_ignore_ascii_case("bytes"))
        .map(|(_, spec)| spec.trim())
    else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Invalid;
    };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => RangeRequest::Invalid,
        (true, false) => match num(last) {
            Some(n) if n > 0 => RangeRequest::One(ByteRange::Suffix(n)),
            _ => RangeRequest::Invalid,
        },
        (false, true) => match num(first) {
            Some(a) => RangeRequest::One(ByteRange::From(a)),
            None => RangeRequest::Invalid,
        },
        (false, false) => match (num(first), num(last)) {
            (Some(a), Some(b)) if a <= b => RangeRequest::One(ByteRange::Bounded(a, b)),
            _ => RangeRequest::Invalid,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms_and_refuses_inverted_ones() {
        assert_eq!(parse(None), RangeRequest::Whole);
        assert_eq!(
            parse(Some("bytes=0-9")),
            RangeRequest::One(ByteRange::Bounded(0, 9))
        );
        assert_eq!(
            parse(Some("bytes=10-")),
            RangeRequest::One(ByteRange::From(10))
        );
        assert_eq!(
            parse(Some("bytes=-5")),
            RangeRequest::One(ByteRange::Suffix(5))
        );
        assert_eq!(
            parse(Some("Bytes = 1-2")),
            RangeRequest::One(ByteRange::Bounded(1, 2))
        );
        assert_eq!(parse(Some("bytes=500-0")), RangeRequest::Invalid);
        assert_eq!(parse(Some("bytes=-0")), RangeRequest::Invalid);
        assert_eq!(parse(Some("bytes=-")), RangeRequest::Invalid);
        assert_eq!(parse(Some("bytes=a-b")), RangeRequest::Invalid);
        assert_eq!(parse(Some("bytes=+1-2")), RangeRequest::Invalid);
        assert_eq!(parse(Some("bytes=0-1,4-5")), RangeRequest::Whole);
        assert_eq!(parse(Some("items=0-1")), RangeRequest::Whole);
    }
}
