//! `[[poller]]`: each section becomes a library [`Poller`] whose handler hands every message to
//! the section's sink and records it on the status board.

use std::sync::Arc;

use async_trait::async_trait;
use pythia::http::{HttpClient, HttpClientConfig};
use pythia::poller::{
    Dedup, Extractor, Handler, Outcome, Pagination, Poller, PollerConfig, Schedule, StateStore,
    TargetLease, DEFAULT_INTERVAL,
};
use pythia::resilience::RetryPolicy;
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

/// The client built from `[http]` (with the `HTTP_*` variables and the `POLLER_*` timeouts).
pub(crate) fn default_client(loaded: &Loaded) -> Result<HttpClient, String> {
    let config = http_builder(&loaded.poller_http, loaded)?
        .build()
        .map_err(|e| format!("[http]: {e}"))?;
    HttpClient::new(config).map_err(|e| format!("[http]: {e}"))
}

/// Everything of one poller that follows from the configuration alone, with no file opened and
/// no client made: `check` stops at this, `run` builds the poller from it.
pub(crate) struct Plan {
    name: String,
    config: PollerConfig,
    schedule: Schedule,
    /// The poller's own client, when it has an `http` table.
    own_client: Option<HttpClientConfig>,
    retry: Option<RetryPolicy>,
    extractor: Option<Extractor>,
    dedup: Option<Dedup>,
    pagination: Option<(Pagination, Option<u32>)>,
    /// The endpoints of a webhook sink that take the poller's event type.
    webhooks: Option<Vec<String>>,
    /// Whether the first poll waits for the poller's stable offset in its interval.
    spread: bool,
}

impl Plan {
    /// Works out the poller of `section`; an error names the poller.
    pub(crate) fn new(
        section: &PollerSection,
        loaded: &Loaded,
        endpoints: &Endpoints,
    ) -> Result<Plan, String> {
        let env = &loaded.poller_env;
        let name = section.name.get_ref().clone();
        let fail = |e: &dyn std::fmt::Display| format!("poller `{name}`: {e}");

        // `[http]` with the HTTP_* variables and the POLLER_* timeouts, under this poller's
        // own `http` table.
        let http = match &section.http {
            Some(own) => merge_http(own, &loaded.poller_http),
            None => loaded.poller_http.clone(),
        };
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
        if let Some(base) = &http.base_url {
            config = config.base_url(base.0.as_str());
        }
        if let Some(max) = http.max_body_bytes {
            config = config.max_body_bytes(max);
        }
        if let Some(d) = http.connect_timeout {
            config = config.connect_timeout(d.0);
        }
        if let Some(d) = http.read_timeout {
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

        let schedule = match &section.cron {
            Some(cron) => Schedule::cron(cron.get_ref()).map_err(|e| fail(&e))?,
            None => Schedule::every(interval),
        };
        let own_client = match &section.http {
            Some(_) => Some(
                http_builder(&http, loaded)
                    .map_err(|e| fail(&e))?
                    .build()
                    .map_err(|e| fail(&e))?,
            ),
            None => None,
        };
        // Every poll request carries the poller's own policy, which replaces the client's; so
        // the `retry` table (or the HTTP_* retry variables) must be given to the poller.
        let retry = http
            .retry
            .as_ref()
            .map(|retry| retry_policy(retry.get_ref(), 3).map_err(|e| fail(&e)))
            .transpose()?;
        let extractor = section
            .extract
            .as_ref()
            .map(|pointer| Extractor::pointer(pointer.get_ref()).map_err(|e| fail(&e)))
            .transpose()?;
        let dedup = section
            .dedup_key
            .as_ref()
            .map(|pointer| Dedup::pointer(pointer.get_ref()).map_err(|e| fail(&e)))
            .transpose()?;
        let pagination = section
            .pagination
            .as_ref()
            .map(|pagination| paginate(pagination).map_err(|e| fail(&e)))
            .transpose()?;
        let webhooks = match section.sink.get_ref() {
            SinkSection::Webhook(names) => {
                let names: Vec<String> = names
                    .iter()
                    .map(|n| n.get_ref().clone())
                    .filter(|n| {
                        section
                            .event_type
                            .as_deref()
                            .is_none_or(|t| endpoints.accepts(n, t))
                    })
                    .collect();
                if names.is_empty() {
                    return Err(fail(
                        &"no endpoint of the webhook sink takes the poller's event type",
                    ));
                }
                Some(names)
            }
            SinkSection::Stdout | SinkSection::File(_) => None,
        };

        Ok(Plan {
            name,
            config,
            schedule,
            own_client,
            retry,
            extractor,
            dedup,
            pagination,
            webhooks,
            spread: section.spread.unwrap_or(true),
        })
    }
}

/// The poller of one section.
pub(crate) fn build(section: &PollerSection, shared: &Shared<'_>) -> Result<Poller, String> {
    let plan = Plan::new(section, shared.loaded, shared.endpoints)?;
    let name = plan.name;
    let fail = |e: &dyn std::fmt::Display| format!("poller `{name}`: {e}");

    let display_url = plan.config.display_url();
    let sink = sink(section, plan.webhooks, shared).map_err(|e| fail(&e))?;
    shared.board.register(
        &name,
        display_url,
        plan.schedule.interval(),
        sink.describe(),
    );

    let client = match plan.own_client {
        Some(config) => HttpClient::new(config).map_err(|e| fail(&e))?,
        None => shared.client.clone(),
    };

    let handler = SinkHandler {
        name: name.clone(),
        sink,
        board: shared.board.clone(),
    };
    let mut builder = Poller::builder(plan.config)
        .name(name.clone())
        .schedule(plan.schedule)
        .client(client)
        .spread(plan.spread)
        .deliver_errors(section.deliver_errors)
        .handler(handler);
    if let Some(retry) = plan.retry {
        builder = builder.retry(retry);
    }
    if let Some(jitter) = section.jitter {
        builder = builder.jitter(jitter.0);
    }
    if let Some(extractor) = plan.extractor {
        builder = builder.extractor(extractor);
    }
    if let Some(dedup) = plan.dedup {
        builder = builder.dedup(dedup);
    }
    if let Some((pagination, max_pages)) = plan.pagination {
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
    if section.max_pages == Some(0) {
        return Err("pagination `max_pages` must be at least 1".into());
    }
    Ok((pagination, section.max_pages))
}

fn sink(
    section: &PollerSection,
    webhooks: Option<Vec<String>>,
    shared: &Shared<'_>,
) -> Result<Sink, String> {
    Ok(match (section.sink.get_ref(), webhooks) {
        (SinkSection::File(path), _) => {
            let path = shared.loaded.resolve(path);
            Sink::file(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?
        }
        // The plan has checked that the list is not empty.
        (SinkSection::Webhook(_), names) => Sink::Webhook {
            queue: shared.queue.clone(),
            endpoints: names.unwrap_or_default().into(),
            event_type: section.event_type.clone(),
        },
        (SinkSection::Stdout, _) => Sink::Stdout,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<Plan, String> {
        let loaded =
            crate::config::parse_with(std::path::Path::new("p.toml"), text, &|_| None).unwrap();
        Plan::new(
            loaded.config.pollers[0].get_ref(),
            &loaded,
            &Endpoints::default(),
        )
    }

    #[test]
    fn pollers_are_spread_unless_they_opt_out() {
        let text = "[[poller]]\nname = \"p\"\nurl = \"https://a.example.test/\"\n\
                    sink = \"stdout\"\n";
        let opted_out = text.replace("sink", "spread = false\nsink");

        assert!(plan(text).unwrap().spread);
        assert!(!plan(&opted_out).unwrap().spread);
    }

    #[test]
    fn a_pollers_own_base_url_resolves_its_url() {
        let text = "[http]\nbase_url = \"https://top.example.test/\"\n[[poller]]\n\
                    name = \"p\"\nurl = \"items\"\nsink = \"stdout\"\n\
                    http = { base_url = \"https://own.example.test/v2/\" }\n";

        let plan = plan(text).unwrap();

        assert_eq!(
            plan.config.url().as_str(),
            "https://own.example.test/v2/items"
        );
    }

    #[test]
    fn http_max_body_bytes_is_the_poll_cap_above_and_below_the_default() {
        let big = "[http]\nmax_body_bytes = 33554432\n[[poller]]\nname = \"p\"\n\
                   url = \"https://a.example.test/\"\nsink = \"stdout\"\n";
        let own = "[[poller]]\nname = \"p\"\nurl = \"https://a.example.test/\"\n\
                   sink = \"stdout\"\nhttp = { max_body_bytes = 1024 }\n";

        assert_eq!(plan(big).unwrap().config.max_body_bytes(), 32 * 1024 * 1024);
        assert_eq!(plan(own).unwrap().config.max_body_bytes(), 1024);
    }
}
