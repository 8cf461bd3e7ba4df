//! What `pythia run` would refuse at start, found without starting anything: the builders of
//! the clients, endpoints, pollers and relays run on the configuration, but no file is opened
//! for writing, no connection is made and no client is created. `check` and `run` both call
//! it while loading, so a file that passes `check` does not fail `run` for these reasons.

use std::ops::Range;
use std::sync::Arc;

use http::{HeaderName, HeaderValue};
use pythia::outbox::{MemoryOutbox, Outbox};

use super::build::{endpoint_config, http_builder, webhook_config};
use super::pollers::Plan;
use super::routing::Endpoints;
use crate::config::types::Secret;
use crate::config::Loaded;

type Problems = Vec<(Option<Range<usize>>, String)>;

/// Every problem found, each with the span of the section it is about (none for `[http]`,
/// whose table has no span).
pub(crate) fn problems(loaded: &Loaded) -> Problems {
    let mut problems = Problems::new();
    let config = &loaded.config;

    if let Err(e) = http_builder(&loaded.poller_http, loaded)
        .and_then(|builder| builder.build().map_err(|e| e.to_string()))
    {
        problems.push((None, format!("[http]: {e}")));
    }

    let mut endpoints = Endpoints::default();
    let mut endpoint_problems = false;
    for section in &config.endpoints {
        let endpoint = section.get_ref();
        endpoints.insert(
            endpoint.name.get_ref().clone(),
            endpoint.event_types.clone(),
        );
        let name = endpoint.name.get_ref();
        let mut found = |message: String| {
            endpoint_problems = true;
            problems.push((Some(section.span()), message));
        };
        if endpoint.timeout.is_some_and(|d| d.0.is_zero()) {
            found(format!("endpoint `{name}`: `timeout` must be above zero"));
        }
        if let Err(e) = endpoint_config(endpoint) {
            found(e);
        }
        if let Err(e) = check_headers(&endpoint.headers) {
            found(format!("endpoint `{name}` headers: {e}"));
        }
    }
    if !endpoint_problems {
        if let Err(e) = webhook_config(loaded) {
            problems.push((None, format!("endpoints: {e}")));
        }
    }

    for section in &config.pollers {
        if let Err(e) = Plan::new(section.get_ref(), loaded, &endpoints) {
            problems.push((Some(section.span()), e));
        }
    }

    let endpoints = Arc::new(endpoints);
    let outbox: Arc<dyn Outbox> = Arc::new(MemoryOutbox::new());
    for section in &config.relays {
        if let Err(e) = super::relays::build(section.get_ref(), &outbox, &endpoints) {
            problems.push((Some(section.span()), e));
        }
    }

    problems
}

/// Header names and values that could not be sent.
fn check_headers<'a>(
    headers: impl IntoIterator<Item = (&'a String, &'a Secret)>,
) -> Result<(), String> {
    for (name, value) in headers {
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!(
                "`{}` is not a valid header name",
                name.escape_default()
            ));
        }
        if HeaderValue::from_str(value.expose()).is_err() {
            return Err(format!(
                "the value of `{}` is not a valid header value",
                name.escape_default()
            ));
        }
    }
    Ok(())
}
