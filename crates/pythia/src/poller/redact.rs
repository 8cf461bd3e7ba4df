//! Showing URLs in logs and messages without the secrets they may carry.

use url::Url;

/// Query parameter names whose values are hidden, compared case-insensitively by substring.
const SENSITIVE: [&str; 8] = [
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "signature",
    "auth",
    "session",
];

/// The URL without user name, password, or the values of query parameters that look secret.
pub(crate) fn redact_url(url: &Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let lower = name.to_ascii_lowercase();
                let hidden = SENSITIVE.iter().any(|word| lower.contains(word));
                let value = if hidden {
                    "redacted".to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

/// Like [`redact_url`] for text that may not parse as a URL.
pub(crate) fn redact_text(text: &str) -> String {
    match Url::parse(text) {
        Ok(url) if url.has_host() => redact_url(&url),
        _ => match text.find('@') {
            Some(at) => format!("<redacted>{}", &text[at..]),
            None => text.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_secret_query_values_are_hidden() {
        let url = Url::parse("https://user:hunter2@api.test/x?api_key=abc123&page=2").unwrap();

        let shown = redact_url(&url);

        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("abc123"), "{shown}");
        assert!(shown.contains("page=2"), "{shown}");
    }

    #[test]
    fn unparsable_text_loses_everything_before_an_at_sign() {
        assert_eq!(redact_text("user:pw@host/x"), "<redacted>@host/x");
    }
}
