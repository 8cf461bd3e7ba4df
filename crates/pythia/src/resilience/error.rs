//! The error returned when a configuration cannot be built.

use std::borrow::Cow;

/// A configuration that cannot be built: a knob out of range, a bad environment variable, a
/// missing companion setting.
///
/// The message names the knob (or the environment variable) and the problem. It never contains
/// the value of a secret such as a token or a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A builder setting is out of range or inconsistent with another one.
    #[error("invalid {field}: {problem}")]
    Invalid {
        /// The setting, as named by its builder method.
        field: Cow<'static, str>,
        /// What is wrong with it.
        problem: String,
    },
    /// An environment variable holds a value that cannot be used.
    #[error("environment variable {var}: {problem}")]
    Env {
        /// The variable's name.
        var: String,
        /// What is wrong with its value (never the value of a secret).
        problem: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: Cow::Borrowed(field),
            problem: problem.into(),
        }
    }

    pub(crate) fn env(var: &str, problem: impl Into<String>) -> Self {
        ConfigError::Env {
            var: var.to_owned(),
            problem: problem.into(),
        }
    }

    /// Always false: a configuration does not fix itself by trying again.
    pub fn is_retryable(&self) -> bool {
        false
    }

    /// The builder setting or environment variable at fault.
    pub fn field(&self) -> &str {
        match self {
            ConfigError::Invalid { field, .. } => field,
            ConfigError::Env { var, .. } => var,
        }
    }
}
