//! [`Route`]: how one path answers.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use http::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LINK};

use crate::{RecordedRequest, Reply};

type ReplyFn = dyn Fn(&RecordedRequest) -> Reply + Send + Sync;

/// How one path answers, whatever the method.
///
/// Register it with [`TestServer::route`](crate::TestServer::route); registering a path again
/// replaces its route (and restarts a sequence) but keeps its hit count.
#[derive(Clone)]
pub struct Route {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Fixed(Reply),
    Sequence(Arc<[Reply]>),
    Function(Arc<ReplyFn>),
    Conditional {
        body: serde_json::Value,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    Pages(Arc<[serde_json::Value]>),
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Fixed(reply) => f.debug_tuple("Route::reply").field(reply).finish(),
            Kind::Sequence(replies) => f.debug_tuple("Route::sequence").field(replies).finish(),
            Kind::Function(_) => f.write_str("Route::from_fn(..)"),
            Kind::Conditional {
                etag,
                last_modified,
                ..
            } => f
                .debug_struct("Route::conditional")
                .field("etag", etag)
                .field("last_modified", last_modified)
                .finish_non_exhaustive(),
            Kind::Pages(pages) => f
                .debug_struct("Route::link_pages")
                .field("pages", &pages.len())
                .finish(),
        }
    }
}

impl Route {
    /// Answers every request with the same reply.
    pub fn reply(reply: Reply) -> Self {
        Self {
            kind: Kind::Fixed(reply),
        }
    }

    /// Answers the first request with the first reply, the second with the second, and so on;
    /// the last reply repeats once the sequence is spent.
    ///
    /// # Panics
    ///
    /// When `replies` is empty.
    pub fn sequence(replies: Vec<Reply>) -> Self {
        assert!(
            !replies.is_empty(),
            "a route sequence needs at least one reply"
        );
        Self {
            kind: Kind::Sequence(replies.into()),
        }
    }

    /// Answers with whatever the function returns for the request.
    pub fn from_fn<F>(f: F) -> Self
    where
        F: Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    {
        Self {
            kind: Kind::Function(Arc::new(f)),
        }
    }

    /// Serves a JSON document with validators: `200` with the body, `ETag` and `Last-Modified`
    /// (those given), or `304 Not Modified` with no body when the request's `If-None-Match`
    /// matches the ETag, or (without `If-None-Match`) its `If-Modified-Since` is not earlier than
    /// `last_modified` (an HTTP date).
    pub fn conditional(
        body_json: serde_json::Value,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Self {
        Self {
            kind: Kind::Conditional {
                body: body_json,
                etag: etag.map(str::to_owned),
                last_modified: last_modified.map(str::to_owned),
            },
        }
    }

    /// Serves `pages` as JSON by the `page` query parameter (1-based, `1` when absent); every
    /// page but the last carries `Link: <{url}?page={n+1}>; rel="next"` with an absolute URL.
    /// A page number out of range answers `404`.
    pub fn link_pages(pages: Vec<serde_json::Value>) -> Self {
        Self {
            kind: Kind::Pages(pages.into()),
        }
    }

    pub(crate) fn answer(
        &self,
        request: &RecordedRequest,
        cursor: &AtomicUsize,
        base: &str,
    ) -> Reply {
        match &self.kind {
            Kind::Fixed(reply) => reply.clone(),
            Kind::Sequence(replies) => {
                let index = cursor.fetch_add(1, Ordering::Relaxed);
                replies[index.min(replies.len() - 1)].clone()
            }
            Kind::Function(f) => f(request),
            Kind::Conditional {
                body,
                etag,
                last_modified,
            } => conditional(request, body, etag.as_deref(), last_modified.as_deref()),
            Kind::Pages(pages) => page(request, pages, base),
        }
    }
}

fn conditional(
    request: &RecordedRequest,
    body: &serde_json::Value,
    etag: Option<&str>,
    last_modified: Option<&str>,
) -> Reply {
    let not_modified = match request.header(IF_NONE_MATCH.as_str()) {
        Some(candidates) => etag.is_some_and(|etag| etag_matches(candidates, etag)),
        None => match (request.header(IF_MODIFIED_SINCE.as_str()), last_modified) {
            (Some(since), Some(modified)) => not_modified_since(since, modified),
            _ => false,
        },
    };

    let mut reply = if not_modified {
        Reply::status(304)
    } else {
        Reply::ok().json(body.clone())
    };
    if let Some(etag) = etag {
        reply = reply.header(ETAG.as_str(), etag);
    }
    if let Some(modified) = last_modified {
        reply = reply.header(LAST_MODIFIED.as_str(), modified);
    }
    reply
}

/// Weak comparison, as `If-None-Match` asks for: `W/` prefixes are ignored.
fn etag_matches(candidates: &str, etag: &str) -> bool {
    let strip = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let etag = strip(etag);
    candidates
        .split(',')
        .any(|candidate| candidate.trim() == "*" || strip(candidate) == etag)
}

fn not_modified_since(since: &str, modified: &str) -> bool {
    let parse = |text: &str| httpdate::parse_http_date(text).ok();
    match (parse(since), parse(modified)) {
        (Some(since), Some(modified)) => modified <= since,
        _ => false,
    }
}

fn page(request: &RecordedRequest, pages: &[serde_json::Value], base: &str) -> Reply {
    let number = match request.query_param("page") {
        None => 1,
        Some(text) => match text.parse::<usize>() {
            Ok(number) => number,
            Err(_) => return Reply::status(400).text("page must be a positive integer"),
        },
    };
    let Some(body) = number.checked_sub(1).and_then(|index| pages.get(index)) else {
        return Reply::status(404).text("no such page");
    };

    let reply = Reply::ok().json(body.clone());
    if number < pages.len() {
        let next = format!("<{base}{}?page={}>; rel=\"next\"", request.path, number + 1);
        reply.header(LINK.as_str(), &next)
    } else {
        reply
    }
}

/// Stamps the current time as an HTTP date, for [`Route::conditional`]'s `last_modified`.
pub fn http_date_now() -> String {
    httpdate::fmt_http_date(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_matching_ignores_weakness_and_accepts_lists_and_stars() {
        assert!(etag_matches("\"a\"", "\"a\""));
        assert!(etag_matches("W/\"a\"", "\"a\""));
        assert!(etag_matches("\"b\", \"a\"", "\"a\""));
        assert!(etag_matches("*", "\"a\""));
        assert!(!etag_matches("\"b\"", "\"a\""));
    }

    #[test]
    fn a_resource_is_not_modified_since_a_later_or_equal_date() {
        let modified = "Wed, 21 Oct 2015 07:28:00 GMT";

        assert!(not_modified_since(modified, modified));
        assert!(not_modified_since(
            "Thu, 22 Oct 2015 07:28:00 GMT",
            modified
        ));
        assert!(!not_modified_since(
            "Tue, 20 Oct 2015 07:28:00 GMT",
            modified
        ));
        assert!(!not_modified_since("not a date", modified));
    }
}
