//! Following pages within one poll.

use super::error::ConfigError;
use super::extract::check_pointer;

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
}
