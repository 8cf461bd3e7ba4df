//! `${VAR}` and `${VAR:-default}` interpolation of string values.
//!
//! Interpolation runs on the parsed document, value by value, so that line and column numbers
//! in errors stay those of the file. `$$` stands for a literal `$`.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// An interpolation failure at a span of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InterpolationError {
    pub(crate) span: Range<usize>,
    pub(crate) message: String,
}

/// Replaces variables in every string value of `table` (keys are left alone).
pub(crate) fn interpolate_table(
    table: &mut DeTable<'_>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), InterpolationError> {
    for (_, value) in table.iter_mut() {
        interpolate_value(value, lookup)?;
    }
    Ok(())
}

fn interpolate_value(
    value: &mut Spanned<DeValue<'_>>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), InterpolationError> {
    let span = value.span();
    match value.get_mut() {
        DeValue::String(text) if text.contains('$') => {
            let replaced = expand(text, lookup).map_err(|message| InterpolationError {
                span: span.clone(),
                message,
            })?;
            *text = replaced.into();
        }
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                interpolate_value(item, lookup)?;
            }
        }
        DeValue::Table(table) => interpolate_table(table, lookup)?,
        _ => {}
    }
    Ok(())
}

/// Expands `${VAR}`, `${VAR:-default}` and `$$` in one string.
pub(crate) fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some(inner) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(close) = inner.find('}') else {
            return Err("unclosed `${` in value (write `$$` for a literal dollar sign)".into());
        };
        let expression = &inner[..close];
        let (name, default) = match expression.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (expression, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid variable name `{name}` in `${{...}}`"));
        }
        match (
            lookup(name).filter(|v| !v.is_empty() || default.is_none()),
            default,
        ) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(format!(
                    "environment variable {name} is not set (write ${{{name}:-default}} to \
                     give a default)"
                ))
            }
        }
        rest = &inner[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.test".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn variables_defaults_and_escapes_expand() {
        let expanded = expand(
            "https://${HOST}:${PORT:-8443}/$${x} ${EMPTY:-e} ${EMPTY}",
            &env,
        );

        assert_eq!(expanded.unwrap(), "https://example.test:8443/${x} e ");
    }

    #[test]
    fn an_unset_variable_without_default_is_an_error_naming_it() {
        let error = expand("${MISSING}", &env).unwrap_err();

        assert!(error.contains("MISSING"), "{error}");
    }

    #[test]
    fn an_unclosed_brace_is_an_error() {
        assert!(expand("${HOST", &env).is_err());
    }

    #[test]
    fn a_lone_dollar_is_kept() {
        assert_eq!(expand("cost $5", &env).unwrap(), "cost $5");
    }
}
