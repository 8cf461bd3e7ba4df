//! Value types of the configuration: durations, URLs and secrets, each checked while the file
//! is read so that a bad value is reported at its line and column.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A duration written as `"30s"`, `"5m"`, `"1h 30m"`, or a number of seconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Dur(pub(crate) Duration);

impl fmt::Debug for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Dur {
    /// Parses `"30s"`, `"1.5"` (seconds) and the like.
    pub(crate) fn parse(text: &str) -> Result<Dur, String> {
        let trimmed = text.trim();
        if let Ok(seconds) = trimmed.parse::<f64>() {
            return Dur::from_secs(seconds);
        }
        humantime::parse_duration(trimmed).map(Dur).map_err(|_| {
            format!("invalid duration `{text}`: write a number with a unit, such as 30s, 5m or 1h")
        })
    }

    fn from_secs(seconds: f64) -> Result<Dur, String> {
        if (0.0..1e12).contains(&seconds) {
            Ok(Dur(Duration::from_secs_f64(seconds)))
        } else {
            Err(format!(
                "invalid duration {seconds}: must be a non-negative number of seconds"
            ))
        }
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurVisitor;

        impl Visitor<'_> for DurVisitor {
            type Value = Dur;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\" or a number of seconds")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Dur, E> {
                Dur::parse(text).map_err(E::custom)
            }

            fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Dur, E> {
                Dur::from_secs(seconds as f64).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Dur, E> {
                Dur::from_secs(seconds as f64).map_err(E::custom)
            }

            fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Dur, E> {
                Dur::from_secs(seconds).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(DurVisitor)
    }
}

/// An absolute `http` or `https` URL.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct HttpUrl(pub(crate) url::Url);

impl HttpUrl {
    /// Parses and checks the scheme and host.
    pub(crate) fn parse(text: &str) -> Result<HttpUrl, String> {
        let url = url::Url::parse(text.trim())
            .map_err(|e| format!("invalid URL `{}`: {e}", redact_url_text(text)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "invalid URL `{}`: the scheme must be http or https",
                redact_url(&url)
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("invalid URL `{}`: no host", redact_url(&url)));
        }
        Ok(HttpUrl(url))
    }

    /// The URL as text, with any password replaced.
    pub(crate) fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        HttpUrl::parse(&text).map_err(de::Error::custom)
    }
}

/// A URL as text with its password (and any query string, which may hold a key) hidden.
pub(crate) fn redact_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    if shown.query().is_some() {
        shown.set_query(Some("***"));
    }
    shown.to_string()
}

/// Like [`redact_url`] for text that did not parse: everything between `://` and `@` hidden.
pub(crate) fn redact_url_text(text: &str) -> String {
    match (text.find("://"), text.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***{}", &text[..scheme_end + 3], &text[at..])
        }
        _ => text.to_owned(),
    }
}

/// A secret value (token, password, signing key): never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub(crate) struct Secret(pub(crate) String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_seconds() {
        assert_eq!(Dur::parse("30s").unwrap().0, Duration::from_secs(30));
        assert_eq!(Dur::parse("1h 30m").unwrap().0, Duration::from_secs(5400));
        assert_eq!(Dur::parse("1.5").unwrap().0, Duration::from_millis(1500));
        assert!(Dur::parse("5 parsecs").is_err());
        assert!(Dur::parse("-3").is_err());
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(HttpUrl::parse("https://api.example.test/x").is_ok());
        assert!(HttpUrl::parse("ftp://example.test").is_err());
        assert!(HttpUrl::parse("not a url").is_err());
    }

    #[test]
    fn url_errors_and_debug_hide_passwords() {
        let url = HttpUrl::parse("https://user:hunter2@example.test/?key=abc").unwrap();

        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(!format!("{url:?}").contains("abc"));
        assert!(!HttpUrl::parse("ftp://u:hunter2@x")
            .unwrap_err()
            .contains("hunter2"));
        assert!(!redact_url_text("http://u:hunter2@[bad").contains("hunter2"));
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        assert_eq!(format!("{:?}", Secret("whsec_abc".into())), "Secret(***)");
    }
}
