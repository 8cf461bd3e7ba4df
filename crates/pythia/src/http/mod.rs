//! The HTTP client: pooling, timeouts, TLS, authentication, a body cap and the resilience
//! pipeline (rate limit, total deadline, retry, circuit breaker, per-attempt timeout).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use pythia::http::{HttpClient, HttpClientConfig};
//!
//! let client = HttpClient::new(HttpClientConfig::from_env()?)?;
//! let response = client.get("https://api.example.com/health").send().await?;
//! assert!(response.status().is_success());
//! # Ok(()) }
//! ```
//!
//! See [`HttpClient`] for the order of the pipeline's stages and [`HttpClientConfig`] for
//! every knob and its default.

pub(crate) mod attempt;
mod auth;
mod client;
mod config;
mod env;
mod error;
pub(crate) mod guard;
mod hosts;
mod redact;
mod request;
pub(crate) mod response;
mod send;
pub(crate) mod tls;

pub use auth::Auth;
pub use client::HttpClient;
pub use config::{HttpClientConfig, HttpClientConfigBuilder};
pub use env::ENV_VARIABLES;
pub use error::{Error, ErrorKind};
pub use request::RequestBuilder;
pub use response::Response;

pub use crate::resilience::ConfigError;
pub use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
