//! The examples, run as their users run them: each compiled example binary against a real
//! in-process server, asserting what arrives (paths, headers, signatures, bodies), the exit
//! status, and for the data sync the rows of its SQLite file.
//!
//! `cargo test` builds the examples before the integration tests; this file finds them in
//! `target/<profile>/examples/`, next to the `deps/` directory its own binary runs from, and
//! fails with a clear message when one is missing or older than its source.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use pythia::webhook::Verifier;
use pythia_testkit::{RecordedRequest, Reply, Route, TestServer};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

/// The longest any example may run; a child still running then is killed and the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// The secret the webhook examples sign with when `WEBHOOK_SECRET` is not set.
const TEST_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The other published Standard Webhooks test secret, for `WEBHOOK_SECRET`.
const OTHER_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

// ---- running an example ----

/// The compiled example `name`, checked to exist and to be newer than its sources.
fn example_binary(name: &str) -> PathBuf {
    let test_binary = std::env::current_exe().expect("the path of the test binary");
    let profile_dir = test_binary
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps/");
    let binary = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let rebuild = "run `cargo test -p pythia --all-features`, which builds the examples before \
                   the tests (or `cargo build -p pythia --examples --all-features` first)";
    let built = std::fs::metadata(&binary)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("example binary {} is missing: {rebuild}", binary.display()));

    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let sources = [
        examples.join(format!("{name}.rs")),
        examples.join("cli/mod.rs"),
        examples.join("poller_common/mod.rs"),
        examples.join("webhook_common/mod.rs"),
    ];
    for source in sources {
        let changed = std::fs::metadata(&source).and_then(|m| m.modified());
        if changed.is_ok_and(|changed| changed > built) {
            panic!(
                "example binary {} is older than {}: {rebuild}",
                binary.display(),
                source.display()
            );
        }
    }
    binary
}

/// The example with `args`, its output captured, in an environment cleared of the variables
/// the examples read.
fn example(name: &str, args: &[&str]) -> Command {
    let mut command = Command::new(example_binary(name));
    command
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("WEBHOOK_SECRET")
        .env_remove("PAYMENTS_TOKEN")
        .env_remove("API_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// What a finished example printed and how it exited.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn assert_success(&self) {
        assert!(self.status.success(), "expected success, got {self:#?}");
    }

    fn assert_failure(&self) {
        assert_eq!(
            self.status.code(),
            Some(1),
            "expected exit status 1, got {self:#?}"
        );
    }

    /// The report line of `endpoint`: `<endpoint> <result> attempts=<n> status=<code>`.
    fn report(&self, endpoint: &str) -> &str {
        let prefix = format!("{endpoint} ");
        self.stdout
            .lines()
            .find(|line| line.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no report line for {endpoint} in {self:#?}"))
    }
}

/// Waits for the child to exit, killing it (by dropping it) after [`PATIENCE`].
async fn finish(child: Child) -> Finished {
    let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the example did not exit within {PATIENCE:?} and was killed"))
        .expect("the example's output");
    Finished {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn run(command: &mut Command) -> Finished {
    finish(command.spawn().expect("start the example")).await
}

// ---- what arrived ----

fn only_request(server: &TestServer, path: &str) -> RecordedRequest {
    let requests = server.requests_to(path);
    assert_eq!(requests.len(), 1, "requests to {path}: {requests:#?}");
    requests.into_iter().next().unwrap()
}

fn body(request: &RecordedRequest) -> Value {
    request.json().expect("a json body")
}

fn webhook_id(request: &RecordedRequest) -> &str {
    request.header("webhook-id").expect("a webhook-id header")
}

/// Checks the Standard Webhooks signature of a request against `secret`.
fn signed_with(request: &RecordedRequest, secret: &str) -> bool {
    let verifier = Verifier::from_secrets([secret]).expect("a valid secret");
    verifier.verify(&request.headers, &request.body).is_ok()
}

// ---- webhook_order_notification ----

#[tokio::test]
async fn order_notification_posts_a_signed_order_created_event_with_its_source_header() {
    let server = TestServer::start().await;
    server.route("/orders/created", Route::reply(Reply::ok()));
    let order = r#"{"id":"ord_7","customer_id":"cus_3","total":12.5,
        "created_at":"2025-01-02T03:04:05Z"}"#;

    let finished = run(&mut example(
        "webhook_order_notification",
        &[server.base_url(), "--allow-private", "--order", order],
    ))
    .await;

    finished.assert_success();
    let request = only_request(&server, "/orders/created");
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("x-event-source"), Some("order-service"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(signed_with(&request, TEST_SECRET), "{request:#?}");
    assert_eq!(
        body(&request),
        json!({
            "event": "order_created",
            "order_id": "ord_7",
            "customer_id": "cus_3",
            "amount": 12.5,
            "timestamp": "2025-01-02T03:04:05Z",
        })
    );
    assert_eq!(
        finished.report("/orders/created"),
        "/orders/created delivered attempts=1 status=200"
    );
}

#[tokio::test]
async fn order_notification_to_a_named_endpoint_uses_its_path_and_the_secret_from_the_env() {
    let server = TestServer::start().await;
    server.route("/orders/webhook", Route::reply(Reply::ok()));

    let finished = run(example(
        "webhook_order_notification",
        &[server.base_url(), "--allow-private", "--endpoint", "orders"],
    )
    .env("WEBHOOK_SECRET", OTHER_SECRET))
    .await;

    finished.assert_success();
    let request = only_request(&server, "/orders/webhook");
    assert!(signed_with(&request, OTHER_SECRET), "{request:#?}");
    assert!(!signed_with(&request, TEST_SECRET));
    assert_eq!(body(&request)["event"], "order_created");
    assert_eq!(server.hits("/orders/created"), 0);
}

#[tokio::test]
async fn order_notification_refuses_a_loopback_address_without_allow_private() {
    let server = TestServer::start().await;
    server.route("/orders/created", Route::reply(Reply::ok()));

    let finished = run(&mut example(
        "webhook_order_notification",
        &[server.base_url()],
    ))
    .await;

    finished.assert_failure();
    assert!(server.requests().is_empty(), "{:#?}", server.requests());
    assert!(finished
        .report("/orders/created")
        .starts_with("/orders/created invalid_request attempts="));
    assert!(finished
        .stderr
        .contains("failed to send order created webhook"));
}

#[tokio::test]
async fn order_notification_exits_non_zero_when_the_endpoint_refuses_the_event() {
    let server = TestServer::start().await;
    server.route("/orders/created", Route::reply(Reply::status(422)));

    let finished = run(&mut example(
        "webhook_order_notification",
        &[server.base_url(), "--allow-private"],
    ))
    .await;

    finished.assert_failure();
    assert_eq!(server.hits("/orders/created"), 1, "a 422 is not retried");
    assert_eq!(
        finished.report("/orders/created"),
        "/orders/created status attempts=1 status=422"
    );
}

// ---- webhook_alert_broadcast ----

#[tokio::test]
async fn a_normal_alert_reaches_both_endpoints_with_one_webhook_id_and_normal_priority() {
    let server = TestServer::start().await;
    for path in ["/general/alerts", "/slack/alerts"] {
        server.route(path, Route::reply(Reply::ok()));
    }

    let finished = run(&mut example(
        "webhook_alert_broadcast",
        &[server.base_url(), "--allow-private"],
    ))
    .await;

    finished.assert_success();
    let general = only_request(&server, "/general/alerts");
    let slack = only_request(&server, "/slack/alerts");
    assert_eq!(webhook_id(&general), webhook_id(&slack));
    for request in [&general, &slack] {
        assert_eq!(request.header("x-alert-priority"), Some("normal"));
        assert_eq!(body(request)["severity"], "normal");
        assert!(signed_with(request, TEST_SECRET));
    }
    assert_eq!(server.requests().len(), 2, "only the two normal endpoints");
}

#[tokio::test]
async fn a_failing_endpoint_of_a_normal_alert_does_not_cancel_the_other() {
    let server = TestServer::start().await;
    server.route("/general/alerts", Route::reply(Reply::status(400)));
    // Slower than the refusal, so fail-fast (wrong for a normal alert) would cancel it.
    let slow_ok = Reply::ok().delay(Duration::from_millis(300));
    server.route("/slack/alerts", Route::reply(slow_ok));

    let finished = run(&mut example(
        "webhook_alert_broadcast",
        &[server.base_url(), "--allow-private"],
    ))
    .await;

    finished.assert_failure();
    assert_eq!(
        finished.report("/slack/alerts"),
        "/slack/alerts delivered attempts=1 status=200"
    );
    assert_eq!(
        finished.report("/general/alerts"),
        "/general/alerts status attempts=1 status=400"
    );
}

#[tokio::test]
async fn an_urgent_alert_fails_fast_cancelling_the_deliveries_still_running() {
    let server = TestServer::start().await;
    server.route("/critical/alerts", Route::reply(Reply::status(400)));
    // Without fail-fast these would be waited for (30 s per attempt, with retries).
    for path in ["/slack/alerts", "/email/alerts", "/sms/alerts"] {
        server.route(path, Route::reply(Reply::hang()));
    }

    let finished = run(&mut example(
        "webhook_alert_broadcast",
        &[server.base_url(), "--allow-private", "--urgent"],
    ))
    .await;

    finished.assert_failure();
    assert_eq!(
        finished.report("/critical/alerts"),
        "/critical/alerts status attempts=1 status=400"
    );
    for endpoint in ["/slack/alerts", "/email/alerts", "/sms/alerts"] {
        let report = finished.report(endpoint);
        assert!(
            report.starts_with(&format!("{endpoint} cancelled ")),
            "{report}"
        );
    }
    let critical = only_request(&server, "/critical/alerts");
    assert_eq!(critical.header("x-alert-priority"), Some("high"));
    assert_eq!(body(&critical)["severity"], "urgent");
    assert!(server.requests_to("/general/alerts").is_empty());
}

#[tokio::test]
async fn an_urgent_alert_reaches_all_four_endpoints_with_high_priority() {
    let server = TestServer::start().await;
    let endpoints = [
        "/critical/alerts",
        "/slack/alerts",
        "/email/alerts",
        "/sms/alerts",
    ];
    for path in endpoints {
        server.route(path, Route::reply(Reply::ok()));
    }
    let alert = r#"{"type":"disk_full","message":"/var is at 97%","source":"db-1"}"#;

    let finished = run(&mut example(
        "webhook_alert_broadcast",
        &[
            server.base_url(),
            "--allow-private",
            "--urgent",
            "--alert",
            alert,
        ],
    ))
    .await;

    finished.assert_success();
    let requests: Vec<RecordedRequest> = endpoints
        .iter()
        .map(|path| only_request(&server, path))
        .collect();
    for request in &requests {
        assert_eq!(request.header("x-alert-priority"), Some("high"));
        assert_eq!(webhook_id(request), webhook_id(&requests[0]));
        assert!(signed_with(request, TEST_SECRET));
        let alert = body(request);
        assert_eq!(alert["alert_type"], "disk_full");
        assert_eq!(alert["source"], "db-1");
        assert_eq!(alert["severity"], "urgent");
    }
}

// ---- webhook_critical_retry ----

#[tokio::test]
async fn a_critical_webhook_is_retried_with_the_same_id_until_delivered() {
    let server = TestServer::start().await;
    let replies = vec![Reply::status(503), Reply::status(503), Reply::ok()];
    server.route("/critical/alerts", Route::sequence(replies));

    let finished = run(&mut example(
        "webhook_critical_retry",
        &[server.base_url(), "--allow-private"],
    ))
    .await;

    finished.assert_success();
    let attempts = server.requests_to("/critical/alerts");
    assert_eq!(attempts.len(), 3);
    for attempt in &attempts {
        assert_eq!(attempt.header("x-priority"), Some("critical"));
        assert_eq!(webhook_id(attempt), webhook_id(&attempts[0]));
        assert!(signed_with(attempt, TEST_SECRET));
    }
    assert_eq!(
        finished.report("/critical/alerts"),
        "/critical/alerts delivered attempts=3 status=200"
    );
}

#[tokio::test]
async fn a_critical_webhook_gives_up_after_five_attempts_with_an_error_log_and_no_payload() {
    let server = TestServer::start().await;
    server.route("/critical/alerts", Route::reply(Reply::status(503)));
    let marker = "card-4111-1111-marker";
    let data = json!({"alert": "payments_down", "detail": marker}).to_string();

    let finished = run(example(
        "webhook_critical_retry",
        &[server.base_url(), "--allow-private", "--data", &data],
    )
    .env("RUST_LOG", "debug"))
    .await;

    finished.assert_failure();
    assert_eq!(server.hits("/critical/alerts"), 5, "max_attempts is 5");
    assert_eq!(
        body(&server.requests_to("/critical/alerts")[0])["detail"],
        marker
    );
    assert_eq!(
        finished.report("/critical/alerts"),
        "/critical/alerts status attempts=5 status=503"
    );
    let error_line = finished
        .stderr
        .lines()
        .find(|line| line.contains("critical webhook failed after all retries"))
        .unwrap_or_else(|| panic!("no error log in {finished:#?}"));
    assert!(error_line.contains("ERROR"), "{error_line}");
    assert!(!finished.stderr.contains(marker), "the payload was logged");
    assert!(!finished.stdout.contains(marker), "the payload was printed");
}

// ---- webhook_payment_processor ----

// The example needs the `sqlite` feature (its `--outbox` is a SQLite outbox).
#[cfg(feature = "sqlite")]
mod payments {
    use super::*;
    use pythia::outbox::{Outbox, OutboxStats, SqliteOutbox};
    use tokio::io::AsyncWriteExt;

    /// Starts the example with `input` written to its stdin, then closed.
    async fn start_with_stdin(command: &mut Command, input: &str) -> Child {
        let mut child = command
            .stdin(Stdio::piped())
            .spawn()
            .expect("start the example");
        let mut stdin = child.stdin.take().expect("a piped stdin");
        stdin
            .write_all(input.as_bytes())
            .await
            .expect("write stdin");
        drop(stdin);
        child
    }

    async fn wait_for_hits(server: &TestServer, path: &str, count: usize) {
        tokio::time::timeout(PATIENCE, server.wait_for_hits(path, count))
            .await
            .unwrap_or_else(|_| panic!("{count} requests to {path} did not arrive in time"));
    }

    async fn stats(path: &Path) -> OutboxStats {
        let outbox = SqliteOutbox::open(path).expect("open the example's outbox");
        outbox.stats(None).await.expect("outbox stats")
    }

    /// Waits until the outbox holds one message, pending again after a failed attempt.
    async fn wait_until_rescheduled(path: &Path) {
        let rescheduled = async {
            loop {
                let now = stats(path).await;
                if now.pending == 1 && now.in_flight == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(PATIENCE, rescheduled)
            .await
            .expect("the failed attempt is rescheduled in the outbox");
    }

    const PAYMENTS: &str = concat!(
        r#"{"id":"pay_1","status":"completed","amount":4200}"#,
        "\n",
        r#"{"id":"pay_2","status":"failed","error":"card_declined"}"#,
        "\n",
        r#"{"id":"pay_3","status":"pending"}"#,
        "\n",
    );

    #[tokio::test]
    async fn payment_events_are_sent_to_the_endpoint_of_their_status() {
        let server = TestServer::start().await;
        server.route("/payments/completed", Route::reply(Reply::ok()));
        server.route("/payments/failed", Route::reply(Reply::ok()));

        let mut command = example(
            "webhook_payment_processor",
            &[server.base_url(), "--allow-private"],
        );
        let finished = finish(start_with_stdin(&mut command, PAYMENTS).await).await;

        finished.assert_success();
        let completed = only_request(&server, "/payments/completed");
        let failed = only_request(&server, "/payments/failed");
        assert_eq!(
            body(&completed),
            json!({"id": "pay_1", "status": "completed", "amount": 4200})
        );
        assert_eq!(body(&failed)["error"], "card_declined");
        assert!(signed_with(&completed, TEST_SECRET));
        assert_eq!(
            server.requests().len(),
            2,
            "a pending payment needs no webhook"
        );
    }

    #[tokio::test]
    async fn payment_events_through_the_outbox_are_delivered_and_leave_it_empty() {
        let server = TestServer::start().await;
        server.route("/payments/completed", Route::reply(Reply::ok()));
        server.route("/payments/failed", Route::reply(Reply::ok()));
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("payments.db");

        let mut command = example(
            "webhook_payment_processor",
            &[
                server.base_url(),
                "--allow-private",
                "--outbox",
                outbox.to_str().unwrap(),
            ],
        );
        let finished = finish(start_with_stdin(&mut command, PAYMENTS).await).await;

        finished.assert_success();
        assert!(finished
            .report("/payments/completed")
            .contains(" queued id="));
        assert_eq!(
            body(&only_request(&server, "/payments/completed"))["id"],
            "pay_1"
        );
        assert_eq!(
            body(&only_request(&server, "/payments/failed"))["id"],
            "pay_2"
        );
        let left = stats(&outbox).await;
        assert_eq!((left.depth(), left.dead), (0, 0), "{left:?}");
    }

    #[tokio::test]
    async fn a_payment_webhook_the_endpoint_refuses_is_dead_lettered_and_fails_the_run() {
        let server = TestServer::start().await;
        server.route("/payments/completed", Route::reply(Reply::status(400)));
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("payments.db");
        let input = r#"{"id":"pay_9","status":"completed"}"#;

        let mut command = example(
            "webhook_payment_processor",
            &[
                server.base_url(),
                "--allow-private",
                "--outbox",
                outbox.to_str().unwrap(),
            ],
        );
        let finished = finish(start_with_stdin(&mut command, input).await).await;

        finished.assert_failure();
        assert_eq!(server.hits("/payments/completed"), 1);
        let left = stats(&outbox).await;
        assert_eq!((left.depth(), left.dead), (0, 1), "{left:?}");
    }

    #[tokio::test]
    async fn a_processor_killed_while_retrying_delivers_on_the_next_run_exactly_once() {
        let server = TestServer::start().await;
        server.route("/payments/completed", Route::reply(Reply::status(503)));
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("payments.db");
        let input = r#"{"id":"pay_5","status":"completed","amount":100}"#;
        let args = [
            server.base_url(),
            "--allow-private",
            "--outbox",
            outbox.to_str().unwrap(),
        ];

        // First life: the attempt fails, the retry is scheduled, and the process is killed.
        let mut first =
            start_with_stdin(&mut example("webhook_payment_processor", &args), input).await;
        wait_for_hits(&server, "/payments/completed", 1).await;
        wait_until_rescheduled(&outbox).await;
        first.start_kill().expect("SIGKILL the first run");
        first.wait().await.expect("reap the first run");

        // Second life, fed the same event again: it is not stored twice, and goes out when its
        // retry is due.
        server.route("/payments/completed", Route::reply(Reply::ok()));
        let mut command = example("webhook_payment_processor", &args);
        let second = finish(start_with_stdin(&mut command, input).await).await;

        second.assert_success();
        assert!(second
            .report("/payments/completed")
            .contains(" duplicate id="));
        let attempts = server.requests_to("/payments/completed");
        assert_eq!(
            attempts.len(),
            2,
            "one failed attempt, one delivery: {attempts:#?}"
        );
        assert_eq!(webhook_id(&attempts[0]), webhook_id(&attempts[1]));
        assert_eq!(attempts[0].body, attempts[1].body);
        assert_eq!(stats(&outbox).await.depth(), 0);
    }

    #[tokio::test]
    async fn ctrl_c_stops_the_processor_and_keeps_the_pending_webhook_queued() {
        let server = TestServer::start().await;
        server.route("/payments/failed", Route::reply(Reply::status(503)));
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("payments.db");
        let input = r#"{"id":"pay_6","status":"failed"}"#;
        let mut command = example(
            "webhook_payment_processor",
            &[
                server.base_url(),
                "--allow-private",
                "--outbox",
                outbox.to_str().unwrap(),
            ],
        );
        let child = start_with_stdin(&mut command, input).await;
        wait_for_hits(&server, "/payments/failed", 1).await;
        wait_until_rescheduled(&outbox).await;

        let pid = child.id().expect("the child is running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let finished = finish(child).await;

        finished.assert_success();
        assert!(
            finished.stderr.contains("pending webhooks stay queued"),
            "{finished:#?}"
        );
        let left = stats(&outbox).await;
        assert_eq!((left.pending, left.dead), (1, 0), "{left:?}");
    }
}

// ---- the poller examples, with --count ----

#[tokio::test]
async fn payment_status_poller_asks_for_pending_payments_with_the_token() {
    let server = TestServer::start().await;
    let payments = json!([
        {"id": "p1", "status": "completed"},
        {"id": "p2", "status": "failed", "error": "card_declined"},
    ]);
    server.route("/status", Route::reply(Reply::ok().json(payments)));

    let finished = run(example(
        "poller_payment_status",
        &[&server.url("/status"), "--count", "1"],
    )
    .env("PAYMENTS_TOKEN", "tok_test"))
    .await;

    finished.assert_success();
    let poll = only_request(&server, "/status");
    assert_eq!(poll.method, "GET");
    assert_eq!(poll.query_param("status"), Some("pending"));
    assert_eq!(poll.header("authorization"), Some("Bearer tok_test"));
}

#[tokio::test]
async fn advanced_config_poller_posts_json_with_its_user_agent() {
    let server = TestServer::start().await;
    server.route(
        "/events",
        Route::reply(Reply::ok().json(json!({"ok": true}))),
    );

    let finished = run(example(
        "poller_advanced_config",
        &[&server.url("/events"), "--count", "1"],
    )
    .env("API_TOKEN", "tok_adv"))
    .await;

    finished.assert_success();
    let poll = only_request(&server, "/events");
    assert_eq!(poll.method, "POST");
    assert_eq!(poll.header("user-agent"), Some("MyApp/1.0"));
    assert_eq!(poll.header("authorization"), Some("Bearer tok_adv"));
    assert_eq!(poll.header("content-type"), Some("application/json"));
    assert_eq!(body(&poll), json!({"since": "last-poll"}));
}

#[tokio::test]
async fn event_poller_makes_one_message_per_extracted_event() {
    let server = TestServer::start().await;
    let feed = json!({"events": [{"type": "user_signup"}, {"type": "purchase"}]});
    server.route("/feed", Route::reply(Reply::ok().json(feed)));

    // Two messages from one poll end the run; one message per response would wait 120 s.
    let finished = run(&mut example(
        "poller_event_extractor",
        &[&server.url("/feed"), "--count", "2"],
    ))
    .await;

    finished.assert_success();
    assert_eq!(server.hits("/feed"), 1);
}

#[tokio::test]
async fn monitored_poller_handles_one_response() {
    let server = TestServer::start().await;
    let metrics = json!({"requests": 10, "errors": 0});
    server.route("/metrics", Route::reply(Reply::ok().json(metrics)));

    let finished = run(&mut example(
        "poller_monitored",
        &[&server.url("/metrics"), "--count", "1"],
    ))
    .await;

    finished.assert_success();
    assert_eq!(server.hits("/metrics"), 1);
    assert!(
        finished.stderr.contains("processing api response"),
        "{finished:#?}"
    );
}

#[tokio::test]
async fn health_check_poller_is_handed_an_error_response() {
    let server = TestServer::start().await;
    server.route("/health", Route::reply(Reply::status(503)));

    // Only a 503 delivered to the handler counts towards --count 1.
    let finished = run(&mut example(
        "poller_health_check",
        &[&server.url("/health"), "--count", "1"],
    ))
    .await;

    finished.assert_success();
    assert!(server.hits("/health") >= 1);
    assert!(
        finished.stderr.contains("api health check failed"),
        "{finished:#?}"
    );
}

#[tokio::test]
async fn api_monitor_alerts_the_ops_team_when_the_api_is_not_operational() {
    let server = TestServer::start().await;
    let report = json!({"status": "degraded", "components": {"db": "slow"}});
    server.route("/api", Route::reply(Reply::ok().json(report.clone())));
    server.route("/ops/alerts", Route::reply(Reply::ok()));

    let finished = run(&mut example(
        "poller_api_monitor",
        &[
            &server.url("/api"),
            "--count",
            "1",
            "--alert-url",
            &server.url("/ops/alerts"),
        ],
    ))
    .await;

    finished.assert_success();
    let alert = body(&only_request(&server, "/ops/alerts"));
    assert_eq!(alert["alert"], "api_not_operational");
    assert_eq!(alert["status"], "degraded");
    assert_eq!(alert["status_code"], 200);
    assert_eq!(alert["report"], report);
}

#[tokio::test]
async fn api_monitor_stays_quiet_while_the_api_is_operational() {
    let server = TestServer::start().await;
    let report = json!({"status": "operational"});
    server.route("/api", Route::reply(Reply::ok().json(report)));
    server.route("/ops/alerts", Route::reply(Reply::ok()));

    let finished = run(&mut example(
        "poller_api_monitor",
        &[
            &server.url("/api"),
            "--count",
            "1",
            "--alert-url",
            &server.url("/ops/alerts"),
        ],
    ))
    .await;

    finished.assert_success();
    assert_eq!(server.hits("/api"), 1);
    assert_eq!(server.hits("/ops/alerts"), 0);
}

#[tokio::test]
async fn data_sync_upserts_each_item_by_id_into_the_sqlite_file() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("items.db");
    let db_arg = db.to_str().unwrap();
    let first = json!([
        {"id": "a", "name": "first"},
        {"id": 2, "name": "second"},
        {"name": "no id"},
    ]);
    server.route("/items", Route::reply(Reply::ok().json(first)));
    let url = server.url("/items");
    let args = [url.as_str(), "--count", "1", "--db", db_arg];

    let first_run = run(&mut example("poller_data_sync", &args)).await;
    server.route(
        "/items",
        Route::reply(Reply::ok().json(json!([{"id": "a", "name": "renamed"}]))),
    );
    let second_run = run(&mut example("poller_data_sync", &args)).await;

    first_run.assert_success();
    second_run.assert_success();
    assert_eq!(server.hits("/items"), 2);
    let rows = rows(&db);
    assert_eq!(
        rows,
        vec![
            ("2".to_owned(), json!({"id": 2, "name": "second"})),
            ("a".to_owned(), json!({"id": "a", "name": "renamed"})),
        ]
    );
}

/// The `(id, data)` rows of the data sync's table, by id; every `synced_at` is RFC 3339.
fn rows(db: &Path) -> Vec<(String, Value)> {
    let connection = rusqlite::Connection::open(db).expect("open the synced database");
    let mut query = connection
        .prepare("SELECT id, data, synced_at FROM synced_items ORDER BY id")
        .expect("the synced_items table");
    let rows = query
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .expect("query the rows");
    rows.map(|row| {
        let (id, data, synced_at) = row.expect("a row");
        chrono::DateTime::parse_from_rfc3339(&synced_at).expect("synced_at in rfc 3339");
        (id, serde_json::from_str(&data).expect("json data"))
    })
    .collect()
}
