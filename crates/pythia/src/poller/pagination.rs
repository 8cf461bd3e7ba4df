//! Following pages within one poll.

use http::header::LINK;
use serde_json::Value;
use url::Url;

use super::error::ConfigError;
use super::extract::check_pointer;
use crate::http::Response;
use crate::Body;

/// The number of pages fetched in one poll when no cap is set.
pub const DEFAULT_MAX_PAGES: u32 = 10;

/// How one poll walks through pages. Every style stops at the page cap
/// (`pythia_poller_page_cap_total` counts polls that hit it).
///
/// ```
/// use pythia::poller::Pagination;
///
/// let link = Pagination::link_header();
/// let cursor = Pagination::cursor("/next_cursor", "cursor")?;
/// let pages = Pagination::page("page", 1);
/// let offsets = Pagination::offset("offset", "limit", 100);
/// # let _ = (link, cursor, pages, offsets);
/// # Ok::<(), pythia::poller::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pagination {
    /// Follow the `Link` header's `rel="next"` URL until there is none.
    LinkHeader,
    /// Read a cursor from each body at a JSON pointer and send it as a query parameter to get the
    /// next page, until the cursor is missing, `null`, empty or repeats. The cursor of the last
    /// page fetched is remembered, so the next poll resumes there (with a state store, across
    /// restarts too).
    Cursor {
        /// Where the next cursor is in the body.
        pointer: String,
        /// The query parameter that carries it.
        param: String,
    },
    /// Number pages with a query parameter, from `first`, until a page has no items.
    Page {
        /// The query parameter.
        param: String,
        /// The first page number, usually 0 or 1.
        first: u64,
    },
    /// Send an offset (and a limit), advancing by the number of items, until a page has fewer
    /// items than the limit.
    Offset {
        /// The query parameter for the offset.
        param: String,
        /// The query parameter for the limit.
        limit_param: String,
        /// The page size asked for.
        limit: u64,
    },
}

impl Pagination {
    /// Follow `Link: <...>; rel="next"`.
    pub fn link_header() -> Pagination {
        Pagination::LinkHeader
    }

    /// A cursor read at `pointer` and sent back as the query parameter `param`.
    pub fn cursor(pointer: &str, param: &str) -> Result<Pagination, ConfigError> {
        check_pointer(pointer)?;
        Ok(Pagination::Cursor {
            pointer: pointer.to_owned(),
            param: param.to_owned(),
        })
    }

    /// Page numbers in the query parameter `param`, starting at `first`.
    pub fn page(param: &str, first: u64) -> Pagination {
        Pagination::Page {
            param: param.to_owned(),
            first,
        }
    }

    /// Offsets in `param` with a page size of `limit` sent in `limit_param`.
    pub fn offset(param: &str, limit_param: &str, limit: u64) -> Pagination {
        Pagination::Offset {
            param: param.to_owned(),
            limit_param: limit_param.to_owned(),
            limit: limit.max(1),
        }
    }
}

/// The URL of `rel="next"` in a `Link` header value, if any.
pub(crate) fn next_link(header: &str) -> Option<&str> {
    header.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let target = target.strip_prefix('<')?.strip_suffix('>')?;
        let is_next = pieces.any(|param| {
            let param = param.trim();
            let Some(value) = param.strip_prefix("rel=") else {
                return false;
            };
            value
                .trim_matches('"')
                .split_ascii_whitespace()
                .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        is_next.then_some(target)
    })
}

/// Walks the pages of one poll: the URL of each page, and when to stop.
#[derive(Debug)]
pub(crate) struct PageWalk<'a> {
    style: Option<&'a Pagination>,
    base: Url,
    url: Url,
    sent_cursor: Option<String>,
    resume: Option<String>,
    number: u64,
    offset: u64,
}

impl<'a> PageWalk<'a> {
    /// The first page: the configured URL, with the remembered cursor, the first page number
    /// or offset zero.
    pub(crate) fn start(style: Option<&'a Pagination>, base: Url, cursor: Option<String>) -> Self {
        let mut walk = PageWalk {
            style,
            url: base.clone(),
            base,
            sent_cursor: None,
            resume: cursor.clone(),
            number: 0,
            offset: 0,
        };
        match style {
            Some(Pagination::Cursor { param, .. }) => {
                if let Some(cursor) = cursor.filter(|c| !c.is_empty()) {
                    walk.url = with_param(&walk.base, param, &cursor);
                    walk.sent_cursor = Some(cursor);
                }
            }
            Some(Pagination::Page { param, first }) => {
                walk.number = *first;
                walk.url = with_param(&walk.base, param, &first.to_string());
            }
            Some(Pagination::Offset {
                param,
                limit_param,
                limit,
            }) => {
                let url = with_param(&walk.base, param, "0");
                walk.url = with_param(&url, limit_param, &limit.to_string());
            }
            Some(Pagination::LinkHeader) | None => {}
        }
        walk
    }

    /// The URL of the current page.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The next cursor in a page's body, for cursor pagination.
    pub(crate) fn cursor_in(&self, body: &Body) -> Option<String> {
        let Some(Pagination::Cursor { pointer, .. }) = self.style else {
            return None;
        };
        match body.pointer(pointer)? {
            Value::Null => None,
            Value::String(text) if text.is_empty() => None,
            Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        }
    }

    /// Moves to the next page after one that held `count` items; `false` when there is none.
    pub(crate) fn advance(
        &mut self,
        response: &Response,
        found: Option<String>,
        count: usize,
    ) -> bool {
        let next = match self.style {
            None => None,
            Some(Pagination::LinkHeader) => response
                .headers()
                .get_all(LINK)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .find_map(next_link)
                .and_then(|link| self.url.join(link).ok())
                .filter(|url| matches!(url.scheme(), "http" | "https") && *url != self.url),
            Some(Pagination::Cursor { param, .. }) => {
                let fresh = found.filter(|c| Some(c) != self.sent_cursor.as_ref());
                match fresh {
                    Some(cursor) => {
                        let url = with_param(&self.base, param, &cursor);
                        self.resume = Some(cursor.clone());
                        self.sent_cursor = Some(cursor);
                        Some(url)
                    }
                    None => {
                        self.resume = self.sent_cursor.clone().or(self.resume.take());
                        None
                    }
                }
            }
            Some(Pagination::Page { param, .. }) => (count > 0).then(|| {
                self.number += 1;
                with_param(&self.base, param, &self.number.to_string())
            }),
            Some(Pagination::Offset {
                param,
                limit_param,
                limit,
            }) => (count as u64 >= *limit).then(|| {
                self.offset += count as u64;
                let url = with_param(&self.base, param, &self.offset.to_string());
                with_param(&url, limit_param, &limit.to_string())
            }),
        };
        match next {
            Some(url) => {
                self.url = url;
                true
            }
            None => false,
        }
    }

    /// The cursor the next poll starts from: the next page not fetched yet, or the last page
    /// fetched when the end was reached.
    pub(crate) fn resume_cursor(&self) -> Option<String> {
        self.resume.clone()
    }
}

/// `url` with the query parameter `name` set to `value` (replacing earlier values).
fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let mut url = url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != name)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(name, value);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_others() {
        let header =
            r#"<https://a.test/x?page=1>; rel="prev", <https://a.test/x?page=3>; rel="next""#;

        assert_eq!(next_link(header), Some("https://a.test/x?page=3"));
        assert_eq!(next_link(r#"<https://a.test/x>; rel="last""#), None);
    }

    #[test]
    fn parameters_replace_earlier_values_and_keep_the_others() {
        let url = Url::parse("https://a.test/x?page=1&q=a").unwrap();

        assert_eq!(
            with_param(&url, "page", "2").as_str(),
            "https://a.test/x?q=a&page=2"
        );
    }
}
