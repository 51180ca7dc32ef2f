//! The date forms berth reads and writes, through the `time` crate (no
//! calendar arithmetic of our own): SigV4's `yyyymmddThhmmssZ`, RFC 1123
//! `Date` headers, and ISO 8601 UTC for IAM's timestamps and
//! `aws:CurrentTime`.

use time::macros::format_description;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

const AMZ: &[time::format_description::FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
const ISO8601: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

fn utc(unix: i64) -> OffsetDateTime {
    // Beyond ±9999 years nothing berth handles is meaningful; the epoch
    // stands in rather than a panic.
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `20150830T123600Z` for Unix seconds `unix`.
pub fn format_amz_date(unix: i64) -> String {
    utc(unix).format(AMZ).expect("a four-digit year formats")
}

/// SigV4's `yyyymmddThhmmssZ` as Unix seconds; `None` unless the text is
/// exactly that shape and a real calendar time.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' || !digits(0..8) || !digits(9..15) {
        return None;
    }
    PrimitiveDateTime::parse(s, AMZ)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// RFC 1123 dates (`Sun, 06 Nov 1994 08:49:37 GMT`), also with the numeric
/// zone `-0000`/`+0000` that Python's `formatdate` writes, as Unix
/// seconds. The weekday is not checked: it adds nothing the rest does not
/// already fix.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let fields: Vec<&str> = s.split_ascii_whitespace().collect();
    let [_weekday, day, month, year, clock, zone] = fields[..] else {
        return None;
    };
    if !matches!(zone, "GMT" | "UTC" | "+0000" | "-0000") {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as u8 + 1;
    let clock: Vec<&str> = clock.split(':').collect();
    let [hh, mm, ss] = clock[..] else {
        return None;
    };
    let two_digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    let day_ok = (1..=2).contains(&day.len()) && day.bytes().all(|b| b.is_ascii_digit());
    let year_ok = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit());
    if !day_ok || !year_ok || ![hh, mm, ss].iter().all(|p| two_digits(p)) {
        return None;
    }
    let date = Date::from_calendar_date(
        year.parse().ok()?,
        Month::try_from(month).ok()?,
        day.parse().ok()?,
    )
    .ok()?;
    let time = Time::from_hms(hh.parse().ok()?, mm.parse().ok()?, ss.parse().ok()?).ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// `2026-11-24T02:30:00Z` for Unix milliseconds `millis` (whole seconds:
/// IAM's timestamps and `aws:CurrentTime` carry none).
pub fn iso8601(millis: i64) -> String {
    utc(millis.div_euclid(1000))
        .format(ISO8601)
        .expect("a four-digit year formats")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_round_trip_and_refuse_what_is_not_one() {
        assert_eq!(format_amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(parse_amz_date("20000229T000000Z"), Some(951_782_400));
        for bad in [
            "20150230T000000Z",
            "20150830T246000Z",
            "2015083T123600ZZ",
            "+0150830T123600Z",
            "20150830 123600Z",
            "",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
        for unix in [0, 951_782_400, 1_798_761_599, 4_102_444_800] {
            assert_eq!(parse_amz_date(&format_amz_date(unix)), Some(unix));
        }
    }

    #[test]
    fn http_dates_in_both_zone_spellings() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sun, 6 Nov 1994 08:49:37 -0000"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 CET"), None);
    }

    #[test]
    fn iso8601_is_utc_to_the_second() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_450_656_000_000), "2015-12-21T00:00:00Z");
        assert_eq!(iso8601(951_782_400_999), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_798_761_599_000), "2026-12-31T23:59:59Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59Z");
    }
}
