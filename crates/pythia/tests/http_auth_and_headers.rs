//! Authentication, default headers and the user agent reach the server on every request.

use pythia::http::{Auth, HttpClient, HttpClientConfig};
use pythia_testkit::{Reply, Route, TestServer};

async fn received(auth: Auth) -> pythia_testkit::RecordedRequest {
    let server = TestServer::start().await;
    server.route("/who", Route::reply(Reply::ok()));
    let config = HttpClientConfig::builder()
        .base_url(server.base_url())
        .auth(auth)
        .default_header("X-Tenant", "acme")
        .user_agent("MyApp/1.0")
        .build()
        .unwrap();

    HttpClient::new(config)
        .unwrap()
        .get("/who")
        .send()
        .await
        .unwrap();

    server.requests_to("/who").remove(0)
}

#[tokio::test]
async fn a_bearer_token_is_sent_as_an_authorization_header() {
    let request = received(Auth::Bearer("tok-123".into())).await;

    assert_eq!(request.header("authorization"), Some("Bearer tok-123"));
}

#[tokio::test]
async fn an_api_key_is_sent_in_its_own_header() {
    let auth = Auth::ApiKey {
        header: "X-API-Key".into(),
        key: "key-456".into(),
    };

    let request = received(auth).await;

    assert_eq!(request.header("x-api-key"), Some("key-456"));
    assert_eq!(request.header("authorization"), None);
}

#[tokio::test]
async fn basic_credentials_are_sent_base64_encoded() {
    let auth = Auth::Basic {
        user: "aladdin".into(),
        password: "opensesame".into(),
    };

    let request = received(auth).await;

    assert_eq!(
        request.header("authorization"),
        Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l")
    );
}

#[tokio::test]
async fn default_headers_and_the_user_agent_are_sent() {
    let request = received(Auth::None).await;

    assert_eq!(request.header("x-tenant"), Some("acme"));
    assert_eq!(request.header("user-agent"), Some("MyApp/1.0"));
    assert_eq!(request.header("authorization"), None);
}

#[tokio::test]
async fn a_request_header_replaces_a_default_of_the_same_name() {
    let server = TestServer::start().await;
    let config = HttpClientConfig::builder()
        .default_header("X-Tenant", "acme")
        .build()
        .unwrap();
    let client = HttpClient::new(config).unwrap();

    client
        .get(server.url("/who"))
        .header("X-Tenant", "other")
        .send()
        .await
        .unwrap();

    let request = server.requests_to("/who").remove(0);
    let values: Vec<_> = request.headers.get_all("x-tenant").iter().collect();
    assert_eq!(values, ["other"]);
}
