//! `pythia send` signs webhooks that `pythia listen` verifies, keeps one `webhook-id` across
//! attempts, and exits 1 when a webhook is not delivered.

mod common;

use common::{run, write, Listener};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn stdout_lines(output: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("send prints JSON lines"))
        .collect()
}

#[test]
fn a_webhook_sent_with_a_secret_is_verified_by_listen() {
    let listener = Listener::start(&["--secret", SECRET]);

    let output = run(&[
        "send",
        &listener.url("/hooks/orders"),
        "--data",
        r#"{"order": 42}"#,
        "--secret",
        SECRET,
        "-H",
        "X-Source: e2e",
    ]);

    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let line = listener.next();
    assert_eq!(line["verified"], true);
    assert_eq!(line["body"]["order"], 42);
    assert_eq!(line["headers"]["x-source"], "e2e");
    let printed = stdout_lines(&output);
    assert_eq!(printed[0]["delivered"], true);
    assert_eq!(printed[0]["id"], line["id"]);
}

#[test]
fn every_line_of_a_file_is_sent_and_a_bad_line_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "hooks.jsonl",
        "{\"n\": 1}\n{\"n\": 2}\nnot json\n\n{\"n\": 3}\n",
    );
    let listener = Listener::start(&["--secret", SECRET]);

    let output = run(&[
        "send",
        &listener.url("/"),
        "--file",
        file.to_str().unwrap(),
        "--secret",
        SECRET,
        "--concurrency",
        "2",
    ]);

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let mut seen: Vec<i64> = (0..3)
        .map(|_| {
            let line = listener.next();
            assert_eq!(line["verified"], true);
            line["body"]["n"].as_i64().unwrap()
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, [1, 2, 3]);
    let printed = stdout_lines(&output);
    let summary = printed.last().unwrap();
    assert_eq!(summary["delivered"], 3);
    assert_eq!(summary["invalid"], 1);
    assert!(printed
        .iter()
        .any(|l| l["line"] == 3 && l["delivered"] == false));
}

#[test]
fn retries_carry_the_same_webhook_id_and_a_failure_exits_1() {
    let listener = Listener::start(&["--status", "503"]);

    let output = run(&[
        "send",
        &listener.url("/"),
        "--data",
        "{}",
        "--max-attempts",
        "2",
    ]);

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let first = listener.next();
    let second = listener.next();
    assert_eq!(first["id"], second["id"]);
    let printed = stdout_lines(&output);
    assert_eq!(printed[0]["attempts"], 2);
    assert_eq!(printed[0]["status"], 503);
}

#[test]
fn send_exits_1_when_the_target_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let output = run(&[
        "send",
        &format!("http://127.0.0.1:{port}/"),
        "--data",
        "{}",
        "--max-attempts",
        "1",
    ]);

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(stdout_lines(&output)[0]["delivered"], false);
}

#[test]
fn bad_usage_exits_2() {
    let no_payload = run(&["send", "http://127.0.0.1:9/"]);
    let bad_json = run(&["send", "http://127.0.0.1:9/", "--data", "{oops"]);
    let bad_secret = run(&[
        "send",
        "http://127.0.0.1:9/",
        "--data",
        "{}",
        "--secret",
        "whsec_not base64!",
    ]);

    assert_eq!(no_payload.status.code(), Some(2));
    assert_eq!(bad_json.status.code(), Some(2));
    assert_eq!(bad_secret.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&bad_secret.stderr).contains("not base64"));
}
