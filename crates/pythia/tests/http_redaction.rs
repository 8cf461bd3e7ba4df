//! No secret shows in the `Debug` of a configuration, a request or an error, nor in an
//! error's message: credentials, header values, URL passwords and query strings are hidden.

use pythia::http::{Auth, ErrorKind, HttpClient, HttpClientConfig};
use pythia::resilience::RetryPolicy;
use pythia_testkit::closed_port;

#[test]
fn the_debug_of_a_configuration_shows_no_secret() {
    for auth in [
        Auth::Bearer("tok-secret".into()),
        Auth::ApiKey {
            header: "X-API-Key".into(),
            key: "key-secret".into(),
        },
        Auth::Basic {
            user: "ann".into(),
            password: "pw-secret".into(),
        },
    ] {
        let config = HttpClientConfig::builder()
            .base_url("https://ann:url-secret@api.example.com/v1?token=query-secret")
            .default_header("X-Session", "header-secret")
            .auth(auth)
            .build()
            .unwrap();
        let client = HttpClient::new(config.clone()).unwrap();

        let shown = format!("{config:?} {client:?}");

        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("api.example.com") && shown.contains("x-session"));
    }
}

#[tokio::test]
async fn an_error_shows_neither_the_url_credentials_nor_the_query() {
    let url = format!(
        "http://ann:url-secret@{}/hook?token=query-secret",
        closed_port()
    );
    let config = HttpClientConfig::builder()
        .auth(Auth::Bearer("tok-secret".into()))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let client = HttpClient::new(config).unwrap();

    let error = client.get(&url).send().await.unwrap_err();

    let mut shown = format!("{error} {error:?}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        shown.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    assert_eq!(error.kind(), ErrorKind::Connect);
    assert!(!shown.contains("secret"), "{shown}");
    assert!(shown.contains("/hook"), "{shown}");
}

#[test]
fn the_debug_of_a_request_shows_header_names_but_not_values() {
    let client = HttpClient::new(HttpClientConfig::default()).unwrap();

    let request = client
        .post("https://api.example.com/x?sig=query-secret")
        .header("X-Signature", "header-secret")
        .body("body-secret");
    let shown = format!("{request:?}");

    assert!(!shown.contains("secret"), "{shown}");
    assert!(shown.contains("x-signature"), "{shown}");
}
