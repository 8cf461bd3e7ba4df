//! Parsing the `Retry-After` response header.

use std::time::{Duration, SystemTime};

use http::HeaderValue;

/// Parses a `Retry-After` header value into how long to wait from `now`.
///
/// Both forms of RFC 9110 are understood: a number of seconds (`120`) and an HTTP date
/// (`Wed, 21 Oct 2026 07:28:00 GMT`). A date in the past means "now" (a zero wait). Anything
/// else (negative numbers, fractions, garbage) yields `None`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::HeaderValue;
/// use pythia::resilience::parse_retry_after;
///
/// let wait = parse_retry_after(&HeaderValue::from_static("30"), SystemTime::now());
/// assert_eq!(wait, Some(Duration::from_secs(30)));
/// ```
pub fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if text.is_empty() {
        return None;
    }

    if text.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 still means "a very long time".
        let seconds = text.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds));
    }

    let date = httpdate::parse_http_date(text).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, now: SystemTime) -> Option<Duration> {
        parse_retry_after(&HeaderValue::from_str(text).unwrap(), now)
    }

    #[test]
    fn seconds_are_read_as_a_delay() {
        let now = SystemTime::now();

        assert_eq!(parse("0", now), Some(Duration::ZERO));
        assert_eq!(parse(" 120 ", now), Some(Duration::from_secs(120)));
    }

    #[test]
    fn an_http_date_is_read_relative_to_now() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let date = httpdate::fmt_http_date(now + Duration::from_secs(90));

        assert_eq!(parse(&date, now), Some(Duration::from_secs(90)));
    }

    #[test]
    fn a_date_in_the_past_means_no_wait() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let date = httpdate::fmt_http_date(now - Duration::from_secs(90));

        assert_eq!(parse(&date, now), Some(Duration::ZERO));
    }

    #[test]
    fn garbage_negative_and_fractional_values_are_ignored() {
        let now = SystemTime::now();

        for text in ["soon", "-5", "1.5", "", "Wed, 99 Foo 2026"] {
            assert_eq!(parse(text, now), None, "{text:?}");
        }
    }

    #[test]
    fn an_absurd_number_of_seconds_saturates() {
        let delay = parse("99999999999999999999999", SystemTime::now());

        assert_eq!(delay, Some(Duration::from_secs(u64::MAX)));
    }
}
