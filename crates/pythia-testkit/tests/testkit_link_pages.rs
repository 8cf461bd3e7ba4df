//! `Link`-paginated pages.

use pythia_testkit::{Route, TestServer};
use serde_json::json;

#[tokio::test]
async fn following_next_links_walks_every_page_in_order() {
    let server = TestServer::start().await;
    server.route(
        "/items",
        Route::link_pages(vec![json!([1, 2]), json!([3]), json!([4, 5])]),
    );
    let client = reqwest::Client::new();

    let mut url = Some(server.url("/items"));
    let mut items = Vec::new();
    while let Some(next) = url.take() {
        let response = client.get(&next).send().await.unwrap();
        url = response
            .headers()
            .get("link")
            .map(|link| link.to_str().unwrap())
            .and_then(|link| link.strip_prefix('<'))
            .and_then(|link| link.split_once(">; rel=\"next\""))
            .map(|(target, _)| target.to_owned());
        let page: Vec<u32> = response.json().await.unwrap();
        items.extend(page);
    }

    assert_eq!(items, [1, 2, 3, 4, 5]);
    assert_eq!(server.hits("/items"), 3);
    let queries: Vec<_> = server
        .requests_to("/items")
        .iter()
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(
        queries,
        [None, Some("page=2".to_owned()), Some("page=3".to_owned())]
    );
}

#[tokio::test]
async fn a_page_out_of_range_is_404_and_a_bad_number_is_400() {
    let server = TestServer::start().await;
    server.route("/items", Route::link_pages(vec![json!([1])]));

    let beyond = reqwest::get(server.url("/items?page=2")).await.unwrap();
    let garbage = reqwest::get(server.url("/items?page=x")).await.unwrap();
    let last = reqwest::get(server.url("/items?page=1")).await.unwrap();

    assert_eq!(beyond.status(), 404);
    assert_eq!(garbage.status(), 400);
    assert!(last.headers().get("link").is_none());
}
