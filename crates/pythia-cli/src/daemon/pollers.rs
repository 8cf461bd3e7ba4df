//! `[[poller]]`: each section becomes a library [`Poller`] whose handler hands every message to
//! the section's sink and records it on the status board.

use std::sync::Arc;

use async_trait::async_trait;
use pythia::http::HttpClient;
use pythia::poller::{
    Dedup, Extractor, Handler, Outcome, Pagination, Poller, PollerConfig, Schedule, StateStore,
    TargetLease, DEFAULT_INTERVAL,
};
use pythia::webhook::dispatch::WebhookQueue;
use pythia::{BoxError, Message};

use super::build::{http_builder, retry_policy};
use super::routing::Endpoints;
use super::sinks::Sink;
use super::status::PollerBoard;
use crate::config::env::merge_http;
use crate::config::model::{PaginationSection, PollerSection, SinkSection};
use crate::config::Loaded;

/// What every poller of the daemon shares.
pub(crate) struct Shared<'a> {
    pub(crate) loaded: &'a Loaded,
    pub(crate) queue: &'a WebhookQueue,
    pub(crate) endpoints: &'a Endpoints,
    pub(crate) board: &'a PollerBoard,
    /// The client of pollers without an `http` table of their own.
    pub(crate) client: HttpClient,
    pub(crate) state: Option<Arc<dyn StateStore>>,
    pub(crate) lease: Option<Arc<dyn TargetLease>>,
}

/// The client built from `[http]` (and the `HTTP_*` variables).
pub(crate) fn default_client(loaded: &Loaded) -> Result<HttpClient, String> {
    let config = http_builder(&loaded.http, loaded)?
        .build()
        .map_err(|e| format!("[http]: {e}"))?;
    HttpClient::new(config).map_err(|e| format!("[http]: {e}"))
}

/// The poller of one section, and a description of its sink for the startup line.
pub(crate) fn build(section: &PollerSection, shared: &Shared<'_>) -> Result<Poller, String> {
    let loaded = shared.loaded;
    let env = &loaded.poller_env;
    let name = section.name.get_ref().clone();
    let fail = |e: &dyn std::fmt::Display| format!("poller `{name}`: {e}");

    let url = section
        .url
        .as_ref()
        .map(|u| u.get_ref().clone())
        .or_else(|| env.url.clone())
        .ok_or_else(|| fail(&"no url"))?;
    let interval = section
        .interval
        .or(env.interval)
        .map_or(DEFAULT_INTERVAL, |d| d.0);
    let method = section
        .method
        .as_ref()
        .map(|m| m.get_ref().clone())
        .or_else(|| env.method.clone())
        .unwrap_or_else(|| "GET".to_owned());

    let mut config = PollerConfig::builder()
        .url(&url)
        .interval(interval)
        .method(&method.to_ascii_uppercase());
    if let Some(base) = &loaded.http.base_url {
        config = config.base_url(base.0.as_str());
    }
    if let Some(d) = env.connect_timeout.or(loaded.http.connect_timeout) {
        config = config.connect_timeout(d.0);
    }
    if let Some(d) = env.read_timeout.or(loaded.http.read_timeout) {
        config = config.read_timeout(d.0);
    }
    for (header, value) in &section.headers {
        config = config.header(header, value.expose());
    }
    for (param, value) in &section.params {
        config = config.query(param, value);
    }
    match &section.body {
        None => {}
        Some(toml::Value::String(text)) => config = config.body(text.clone().into_bytes()),
        Some(value) => {
            let json = serde_json::to_vec(value).map_err(|e| fail(&e))?;
            if !section
                .headers
                .keys()
                .any(|h| h.eq_ignore_ascii_case("content-type"))
            {
                config = config.header("content-type", "application/json");
            }
            config = config.body(json);
        }
    }
    let config = config.build().map_err(|e| fail(&e))?;
    let display_url = config.display_url();

    let schedule = match &section.cron {
        Some(cron) => Schedule::cron(cron.get_ref()).map_err(|e| fail(&e))?,
        None => Schedule::every(interval),
    };
    let sink = sink(section, shared).map_err(|e| fail(&e))?;
    shared
        .board
        .register(&name, display_url, schedule.interval(), sink.describe());

    let client = match &section.http {
        Some(own) => {
            let merged = merge_http(own, &loaded.http);
            let built = http_builder(&merged, loaded)?
                .build()
                .map_err(|e| fail(&e))?;
            HttpClient::new(built).map_err(|e| fail(&e))?
        }
        None => shared.client.clone(),
    };
    // Every poll request carries the poller's own policy, which replaces the client's; so the
    // `retry` table (or the HTTP_* retry variables) must be given to the poller itself.
    let retry = section
        .http
        .as_ref()
        .and_then(|own| own.retry.as_ref())
        .or(loaded.http.retry.as_ref());

    let handler = SinkHandler {
        name: name.clone(),
        sink,
        board: shared.board.clone(),
    };
    let mut builder = Poller::builder(config)
        .name(name.clone())
        .schedule(schedule)
        .client(client)
        .deliver_errors(section.deliver_errors)
        .handler(handler);
    if let Some(retry) = retry {
        builder = builder.retry(retry_policy(retry.get_ref(), 3).map_err(|e| fail(&e))?);
    }
    if let Some(jitter) = section.jitter {
        builder = builder.jitter(jitter.0);
    }
    if let Some(pointer) = &section.extract {
        builder = builder.extractor(Extractor::pointer(pointer.get_ref()).map_err(|e| fail(&e))?);
    }
    if let Some(pointer) = &section.dedup_key {
        builder = builder.dedup(Dedup::pointer(pointer.get_ref()).map_err(|e| fail(&e))?);
    }
    if let Some(pagination) = &section.pagination {
        let (pagination, max_pages) = paginate(pagination).map_err(|e| fail(&e))?;
        builder = builder.pagination(pagination);
        if let Some(max) = max_pages {
            builder = builder.max_pages(max);
        }
    }
    if let Some(state) = &shared.state {
        builder = builder.shared_state(state.clone());
    }
    if let Some(lease) = &shared.lease {
        builder = builder.shared_lease(lease.clone());
    }
    builder.build().map_err(|e| fail(&e))
}

fn paginate(section: &PaginationSection) -> Result<(Pagination, Option<u32>), String> {
    let pagination = match (
        section.link,
        &section.cursor,
        &section.param,
        section.page_start,
    ) {
        (true, None, None, None) => Pagination::link_header(),
        (false, Some(pointer), Some(param), None) => {
            Pagination::cursor(pointer, param).map_err(|e| e.to_string())?
        }
        (false, None, Some(param), first) => Pagination::page(param, first.unwrap_or(1)),
        _ => {
            return Err(
                "pagination is one of `link = true`, `cursor` with `param`, or `param` with \
                 `page_start`"
                    .into(),
            )
        }
    };
    Ok((pagination, section.max_pages))
}

fn sink(section: &PollerSection, shared: &Shared<'_>) -> Result<Sink, String> {
    Ok(match section.sink.get_ref() {
        SinkSection::Stdout => Sink::Stdout,
        SinkSection::File(path) => {
            let path = shared.loaded.resolve(path);
            Sink::file(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?
        }
        SinkSection::Webhook(names) => {
            let names: Vec<String> = names
                .iter()
                .map(|n| n.get_ref().clone())
                .filter(|n| {
                    section
                        .event_type
                        .as_deref()
                        .is_none_or(|t| shared.endpoints.accepts(n, t))
                })
                .collect();
            if names.is_empty() {
                return Err("no endpoint of the webhook sink takes the poller's event type".into());
            }
            Sink::Webhook {
                queue: shared.queue.clone(),
                endpoints: names.into(),
                event_type: section.event_type.clone(),
            }
        }
    })
}

/// Hands each message to the sink; an error is returned to the poller, which logs and counts
/// it.
struct SinkHandler {
    name: String,
    sink: Sink,
    board: PollerBoard,
}

#[async_trait]
impl Handler for SinkHandler {
    async fn process_message(&self, message: Message) -> Result<Outcome, BoxError> {
        let result = self.sink.deliver(&self.name, &message).await;
        self.board.message(
            &self.name,
            message.status_code(),
            result.as_ref().err().map(ToString::to_string),
        );
        result?;
        Ok(Outcome::Processed)
    }
}

/// Gives the board each poller's counters, for `/status`.
pub(crate) fn attach_stats(board: &PollerBoard, poller: &Poller) {
    board.attach(poller.name(), poller.stats());
}
