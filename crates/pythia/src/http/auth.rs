//! [`Auth`]: how requests authenticate.

use std::fmt;

use base64::Engine;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION};

use crate::resilience::ConfigError;

/// How every request of a client authenticates. `Debug` never shows the secret.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// No authentication (the default).
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// The key in a header of its own, such as `X-API-Key: <key>`.
    ApiKey {
        /// The header's name.
        header: String,
        /// The key.
        key: String,
    },
    /// `Authorization: Basic <base64(user:password)>`.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
}

impl Auth {
    /// The header this scheme adds, marked sensitive, or `None` for [`Auth::None`].
    pub(crate) fn header(&self) -> Result<Option<(HeaderName, HeaderValue)>, ConfigError> {
        let (name, value) = match self {
            Auth::None => return Ok(None),
            Auth::Bearer(token) => (AUTHORIZATION, format!("Bearer {token}")),
            Auth::ApiKey { header, key } => {
                let name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
                    ConfigError::invalid("auth", format!("{header:?} is not a valid header name"))
                })?;
                (name, key.clone())
            }
            Auth::Basic { user, password } => {
                let credentials = format!("{user}:{password}");
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                (AUTHORIZATION, format!("Basic {encoded}"))
            }
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            ConfigError::invalid(
                "auth",
                format!(
                    "the {} credential is not a valid header value",
                    self.scheme()
                ),
            )
        })?;
        value.set_sensitive(true);
        Ok(Some((name, value)))
    }

    /// The scheme's name: `none`, `bearer`, `api_key` or `basic`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Bearer(_) => "bearer",
            Auth::ApiKey { .. } => "api_key",
            Auth::Basic { .. } => "basic",
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Auth::ApiKey { header, .. } => f
                .debug_struct("ApiKey")
                .field("header", header)
                .field("key", &format_args!("<redacted>"))
                .finish(),
            Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &format_args!("<redacted>"))
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_secret() {
        let auths = [
            Auth::Bearer("tok-secret".into()),
            Auth::ApiKey {
                header: "X-API-Key".into(),
                key: "key-secret".into(),
            },
            Auth::Basic {
                user: "ann".into(),
                password: "pw-secret".into(),
            },
        ];

        for auth in auths {
            let debug = format!("{auth:?}");
            assert!(!debug.contains("secret"), "{debug}");
        }
    }

    #[test]
    fn basic_auth_encodes_user_and_password() {
        let auth = Auth::Basic {
            user: "aladdin".into(),
            password: "opensesame".into(),
        };

        let (name, value) = auth.header().unwrap().unwrap();

        assert_eq!(name, AUTHORIZATION);
        assert_eq!(value, "Basic YWxhZGRpbjpvcGVuc2VzYW1l");
        assert!(value.is_sensitive());
    }

    #[test]
    fn a_token_that_is_not_a_header_value_is_refused_without_showing_it() {
        let auth = Auth::Bearer("line\nbreak-secret".into());

        let error = auth.header().unwrap_err().to_string();

        assert!(
            error.contains("bearer") && !error.contains("secret"),
            "{error}"
        );
    }
}
