//! `[[relay]]`: broker sources relayed into the outbox by the library's [`Relay`].

use std::sync::Arc;

use async_trait::async_trait;
use pythia::outbox::Outbox;
use pythia::runtime::{Worker, WorkerContext};
use pythia::source::{Relay, Route, Unroutable};
use pythia::BoxError;

use super::routing::Endpoints;
use crate::config::model::{RelaySection, RouteSection, SourceSection};

/// The source kinds this binary was built with.
const BUILT_KINDS: &[&str] = &[
    #[cfg(feature = "redis")]
    "redis_list",
    #[cfg(feature = "redis")]
    "redis_stream",
    #[cfg(feature = "nats")]
    "nats",
    #[cfg(feature = "rabbitmq")]
    "rabbitmq",
];

/// Whether this binary was built with the feature that a source kind needs.
pub(crate) fn kind_is_built(kind: &str) -> bool {
    BUILT_KINDS.contains(&kind)
}

/// Makes a fresh relay (a restarted worker reconnects with a new source).
type Factory = Box<dyn Fn() -> Result<Relay, String> + Send>;

/// One `[[relay]]` as a runtime worker.
pub(crate) struct RelayWorker {
    name: String,
    factory: Factory,
}

impl std::fmt::Debug for RelayWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayWorker")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The worker of one section; the relay is built once here so that a bad section fails the
/// start rather than the first run.
pub(crate) fn build(
    section: &RelaySection,
    outbox: &Arc<dyn Outbox>,
    endpoints: &Arc<Endpoints>,
) -> Result<RelayWorker, String> {
    let name = section.name.get_ref().clone();
    let route = route(section.route.get_ref(), endpoints);
    let unroutable = match section
        .route
        .get_ref()
        .unroutable
        .as_ref()
        .map(|u| u.get_ref().as_str())
    {
        Some("dead_letter") => Unroutable::DeadLetter,
        _ => Unroutable::Drop,
    };
    let source = SourceSpec::from(section.source.get_ref());
    let outbox = outbox.clone();
    let relay_name = name.clone();
    let factory: Factory = Box::new(move || {
        let builder = source.builder(&relay_name, outbox.clone())?;
        builder
            .name(relay_name.clone())
            .route(route.clone())
            .unroutable(unroutable.clone())
            .build()
            .map_err(|e| format!("relay `{relay_name}`: {e}"))
    });
    factory()?;
    Ok(RelayWorker { name, factory })
}

/// The routing rule: a field's value mapped to endpoints (with a default), or the field read
/// as an event type that endpoints subscribe to.
fn route(section: &RouteSection, endpoints: &Endpoints) -> Route {
    let Some(field) = &section.field else {
        let all: Vec<String> = section
            .default
            .iter()
            .flatten()
            .map(|n| n.get_ref().clone())
            .collect();
        return Route::to(all);
    };
    if section.by_event_type {
        let mut route = Route::subscriptions(field.clone());
        for (name, types) in endpoints.subscriptions() {
            route = if types.is_empty() {
                route.subscribe(name, ["*"])
            } else {
                route.subscribe(name, types.iter().cloned())
            };
        }
        return route;
    }
    let mut route = Route::field(field.clone());
    for (value, names) in &section.map {
        route = route.map(value.clone(), names.iter().map(|n| n.get_ref().clone()));
    }
    if let Some(default) = &section.default {
        route = route.otherwise(default.iter().map(|n| n.get_ref().clone()));
    }
    route
}

/// What a source needs, copied out of the configuration. A build without broker features
/// reads only `kind`, to say which feature the source needs.
#[derive(Clone)]
#[cfg_attr(
    not(any(feature = "redis", feature = "nats", feature = "rabbitmq")),
    allow(dead_code)
)]
struct SourceSpec {
    kind: String,
    url: String,
    queue: Option<String>,
    stream: Option<String>,
    subject: Option<String>,
    group: Option<String>,
    consumer: Option<String>,
    prefetch: Option<u32>,
}

impl From<&SourceSection> for SourceSpec {
    fn from(section: &SourceSection) -> Self {
        SourceSpec {
            kind: section.kind.get_ref().clone(),
            url: section.url.expose().to_owned(),
            queue: section.queue.clone(),
            stream: section.stream.clone(),
            subject: section.subject.clone(),
            group: section.group.clone(),
            consumer: section.consumer.clone(),
            prefetch: section.prefetch,
        }
    }
}

impl SourceSpec {
    #[cfg_attr(
        not(any(feature = "redis", feature = "nats", feature = "rabbitmq")),
        allow(unused_variables)
    )]
    fn builder(
        &self,
        relay: &str,
        outbox: Arc<dyn Outbox>,
    ) -> Result<pythia::source::RelayBuilder, String> {
        let missing = |key: &str| format!("relay `{relay}`: `{}` needs `{key}`", self.kind);
        match self.kind.as_str() {
            #[cfg(feature = "redis")]
            "redis_list" => {
                let queue = self.queue.as_ref().ok_or_else(|| missing("queue"))?;
                let mut source = pythia::source::RedisListSource::builder(&self.url, queue)
                    .name(relay.to_owned());
                if let Some(consumer) = &self.consumer {
                    source = source.consumer(consumer.clone());
                }
                let source = source
                    .build()
                    .map_err(|e| format!("relay `{relay}`: {e}"))?;
                Ok(Relay::builder(source, outbox))
            }
            #[cfg(feature = "redis")]
            "redis_stream" => {
                let stream = self.stream.as_ref().ok_or_else(|| missing("stream"))?;
                let group = self.group.as_ref().ok_or_else(|| missing("group"))?;
                let mut source =
                    pythia::source::RedisStreamSource::builder(&self.url, stream, group)
                        .name(relay.to_owned());
                if let Some(consumer) = &self.consumer {
                    source = source.consumer(consumer.clone());
                }
                let source = source
                    .build()
                    .map_err(|e| format!("relay `{relay}`: {e}"))?;
                Ok(Relay::builder(source, outbox))
            }
            #[cfg(feature = "nats")]
            "nats" => {
                let stream = self.stream.as_ref().ok_or_else(|| missing("stream"))?;
                let durable = self.group.as_deref().unwrap_or("pythia");
                let mut source = pythia::source::NatsSource::builder(&self.url, stream, durable)
                    .name(relay.to_owned());
                if let Some(subject) = &self.subject {
                    source = source
                        .subjects([subject.clone()])
                        .filter_subject(subject.clone());
                }
                if let Some(batch) = self.prefetch {
                    source = source.batch(batch as usize);
                }
                let source = source
                    .build()
                    .map_err(|e| format!("relay `{relay}`: {e}"))?;
                Ok(Relay::builder(source, outbox))
            }
            #[cfg(feature = "rabbitmq")]
            "rabbitmq" => {
                let queue = self.queue.as_ref().ok_or_else(|| missing("queue"))?;
                let mut source = pythia::source::RabbitMqSource::builder(&self.url, queue)
                    .name(relay.to_owned());
                if let Some(tag) = &self.consumer {
                    source = source.consumer_tag(tag.clone());
                }
                if let Some(prefetch) = self.prefetch {
                    source = source.prefetch(u16::try_from(prefetch).unwrap_or(u16::MAX));
                }
                let source = source
                    .build()
                    .map_err(|e| format!("relay `{relay}`: {e}"))?;
                Ok(Relay::builder(source, outbox))
            }
            other => Err(format!(
                "relay `{relay}`: source kind `{other}` is not built into this binary"
            )),
        }
    }
}

#[async_trait]
impl Worker for RelayWorker {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run(&mut self, ctx: WorkerContext) -> Result<(), BoxError> {
        let relay = (self.factory)()?;
        ctx.health.success();
        let shutdown = ctx.shutdown.clone();
        relay
            .run_until(async move { shutdown.triggered().await })
            .await?;
        Ok(())
    }
}
