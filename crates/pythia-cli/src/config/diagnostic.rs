//! Configuration errors that point at the file, line and column they come from.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A configuration error, located in its file when the location is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// What is wrong, lowercase, without a trailing period and without secrets.
    pub(crate) message: String,
    /// The file the error is in.
    pub(crate) file: PathBuf,
    /// Where in the file, when known.
    pub(crate) location: Option<Location>,
}

/// A 1-based line and column, with the text of the line for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// 1-based line number.
    pub(crate) line: usize,
    /// 1-based column, counted in characters.
    pub(crate) column: usize,
    /// The whole line, for the excerpt under the message.
    pub(crate) text: String,
    /// How many characters of the line to underline (at least one).
    pub(crate) width: usize,
}

impl ConfigError {
    /// An error at a byte span of `source`, the text of `file`.
    pub(crate) fn at(
        file: &Path,
        source: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            message: message.into(),
            file: file.to_path_buf(),
            location: span.map(|span| locate(source, span)),
        }
    }

    /// An error about the file as a whole, or about something outside it (an environment
    /// variable).
    pub(crate) fn whole(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
            file: file.to_path_buf(),
            location: None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            None => write!(f, "{}: {}", self.file.display(), self.message),
            Some(at) => {
                writeln!(
                    f,
                    "{}:{}:{}: {}",
                    self.file.display(),
                    at.line,
                    at.column,
                    self.message
                )?;
                let gutter = at.line.to_string().len();
                writeln!(f, "{:gutter$} |", "")?;
                writeln!(f, "{} | {}", at.line, at.text)?;
                write!(
                    f,
                    "{:gutter$} | {}{}",
                    "",
                    " ".repeat(at.column - 1),
                    "^".repeat(at.width.max(1))
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Turns a byte span into a line, a column and the line's text.
fn locate(source: &str, span: Range<usize>) -> Location {
    let start = floor_char_boundary(source, span.start.min(source.len()));
    let line_start = source[..start].rfind('\n').map_or(0, |at| at + 1);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |at| start + at);
    let text = source[line_start..line_end].trim_end_matches('\r');
    let column = source[line_start..start].chars().count() + 1;
    let end = floor_char_boundary(source, span.end.clamp(start, line_end));
    let width = source[start..end].chars().count();
    Location {
        line: source[..start].matches('\n').count() + 1,
        column,
        text: hide_secrets(text),
        width,
    }
}

/// The excerpt under an error is the user's own line, but it may land in a log: mask quoted
/// values of keys that name a secret, `whsec_` keys and passwords in URLs. Characters are
/// replaced one for one so that the column under the line stays right. A `${VAR}` reference
/// is not a secret but the name of where one lives, so it stays readable: an error about a
/// missing variable must show which one.
fn hide_secrets(line: &str) -> String {
    let mut chars: Vec<char> = line.chars().collect();
    let in_reference = variable_references(&chars);
    let lower = line.to_ascii_lowercase();
    let key = lower.split('=').next().unwrap_or("");
    let secret_key = ["token", "secret", "password", "key", "authorization"]
        .iter()
        .any(|word| key.contains(word));
    let mut in_quotes = false;
    let mut masked_from = None;
    for (at, c) in line.chars().enumerate() {
        if c == '"' || c == '\'' {
            in_quotes = !in_quotes;
            masked_from = None;
            continue;
        }
        let rest: String = line.chars().skip(at).collect();
        if in_quotes && (secret_key || rest.starts_with("whsec_")) && masked_from.is_none() {
            masked_from = Some(at);
        }
        if let Some(from) = masked_from {
            if at >= from && !in_reference[at] {
                chars[at] = '*';
            }
        }
    }
    let text: String = chars.into_iter().collect();
    hide_url_passwords(&text)
}

/// For each character, whether it belongs to a `${NAME}` or `${NAME:-default}` reference. The
/// default of a reference may itself be a secret, so only `${`, the name and `}` are marked.
fn variable_references(chars: &[char]) -> Vec<bool> {
    let mut marked = vec![false; chars.len()];
    let mut at = 0;
    while at + 1 < chars.len() {
        if chars[at] == '$' && chars[at + 1] == '{' {
            let name_end = (at + 2..chars.len())
                .find(|&i| !(chars[i].is_ascii_alphanumeric() || chars[i] == '_'))
                .unwrap_or(chars.len());
            let close = (name_end..chars.len()).find(|&i| chars[i] == '}');
            if let Some(close) = close {
                marked[at..name_end].iter_mut().for_each(|m| *m = true);
                marked[close] = true;
                at = close + 1;
                continue;
            }
        }
        at += 1;
    }
    marked
}

fn hide_url_passwords(line: &str) -> String {
    let mut out = line.to_owned();
    let mut search = 0;
    while let Some(found) = out[search..].find("://") {
        let start = search + found + 3;
        let end = out[start..]
            .find(|c: char| c == '/' || c == '"' || c == '\'' || c.is_whitespace())
            .map_or(out.len(), |at| start + at);
        if let Some(at) = out[start..end].rfind('@') {
            let userinfo = &out[start..start + at];
            if let Some(colon) = userinfo.find(':') {
                let from = start + colon + 1;
                let to = start + at;
                let stars = "*".repeat(out[from..to].chars().count());
                out.replace_range(from..to, &stars);
            }
        }
        search = end.min(out.len());
    }
    out
}

fn floor_char_boundary(source: &str, mut at: usize) -> usize {
    while !source.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_becomes_a_one_based_line_and_column() {
        let source = "a = 1\nbb = \"x\"\n";

        let error = ConfigError::at(Path::new("c.toml"), source, Some(11..14), "bad");

        let at = error.location.unwrap();
        assert_eq!((at.line, at.column, at.width), (2, 6, 3));
        assert_eq!(at.text, "bb = \"x\"");
    }

    #[test]
    fn the_excerpt_masks_secrets_but_keeps_columns() {
        let source = "token = \"abc\"\nurl = \"http://u:pw@h/x\"\ns = [\"whsec_Zm9v\"]\n";

        let lines: Vec<String> = [0..5, 14..17, 38..42]
            .into_iter()
            .map(|span| locate(source, span).text)
            .collect();

        assert_eq!(lines[0], "token = \"***\"");
        assert_eq!(lines[1], "url = \"http://u:**@h/x\"");
        assert_eq!(lines[2], "s = [\"**********\"]");
    }

    #[test]
    fn a_variable_reference_stays_readable_but_its_default_is_masked() {
        let source = "token = \"${TOKEN}\"\nsecret = \"${S:-hunter2}\"\n";

        let first = locate(source, 0..5).text;
        let second = locate(source, 20..26).text;

        assert_eq!(first, "token = \"${TOKEN}\"");
        assert_eq!(second, "secret = \"${S*********}\"");
    }

    #[test]
    fn the_display_names_file_line_and_column_and_underlines() {
        let error = ConfigError::at(Path::new("c.toml"), "key = 5\n", Some(6..7), "bad value");

        let text = error.to_string();

        assert!(text.starts_with("c.toml:1:7: bad value"), "{text}");
        assert!(text.ends_with("|       ^"), "{text}");
    }
}
