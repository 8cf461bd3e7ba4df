//! `pythia check` names the file, line and column of each problem and exits 2.

mod common;

use common::{run, write};

const GOOD: &str = r#"[admin]
bind = "127.0.0.1:9090"
[outbox]
path = "pythia-outbox.db"
[http]
allow_private_networks = true
[[endpoint]]
name = "orders"
url = "http://127.0.0.1:9000/webhooks/orders"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
[[poller]]
name = "payments"
url = "http://127.0.0.1:9100/status"
interval = "30s"
extract = "/events"
sink = { webhook = ["orders"] }
"#;

fn check(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "pythia.toml", text);

    let output = run(&["check", path.to_str().unwrap()]);

    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().unwrap(), stderr)
}

#[test]
fn a_valid_config_passes_with_exit_0() {
    let (code, stderr) = check(GOOD);

    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let text = GOOD.replace("interval = \"30s\"", "interval = \"30s");

    let (code, stderr) = check(&text);

    assert_eq!(code, 2);
    assert!(stderr.contains("pythia.toml:14:"), "{stderr}");
}

#[test]
fn an_unknown_key_names_line_and_column() {
    let text = GOOD.replace(
        "extract = \"/events\"",
        "extract = \"/events\"\nintervall = \"5s\"",
    );

    let (code, stderr) = check(&text);

    assert_eq!(code, 2);
    assert!(
        stderr.contains("pythia.toml:16:1: unknown field `intervall`"),
        "{stderr}"
    );
}

#[test]
fn a_bad_duration_names_line_and_column() {
    let text = GOOD.replace("\"30s\"", "\"thirty seconds\"");

    let (code, stderr) = check(&text);

    assert_eq!(code, 2);
    assert!(
        stderr.contains("pythia.toml:14:12: invalid duration"),
        "{stderr}"
    );
}

#[test]
fn a_bad_url_names_line_and_column() {
    let text = GOOD.replace("http://127.0.0.1:9000/webhooks/orders", "http//nowhere");

    let (code, stderr) = check(&text);

    assert_eq!(code, 2);
    assert!(stderr.contains("pythia.toml:9:7: invalid URL"), "{stderr}");
}

#[test]
fn an_unknown_endpoint_in_a_sink_names_line_and_column() {
    let text = GOOD.replace("webhook = [\"orders\"]", "webhook = [\"order\"]");

    let (code, stderr) = check(&text);

    assert_eq!(code, 2);
    assert!(
        stderr.contains("pythia.toml:16:21: unknown endpoint `order`"),
        "{stderr}"
    );
}

#[test]
fn a_writer_niceness_out_of_range_names_line_and_column() {
    let with = |nice: &str| {
        GOOD.replace(
            "path = \"pythia-outbox.db\"",
            &format!("path = \"pythia-outbox.db\"\nwriter_nice = {nice}"),
        )
    };

    let (code, stderr) = check(&with("-5"));
    assert_eq!(code, 0, "{stderr}");

    let (code, stderr) = check(&with("-40"));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("pythia.toml:5:15: `writer_nice` is a niceness from -20"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_is_reported_with_exit_2() {
    let output = run(&["check", "/nonexistent/pythia.toml"]);

    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read the file"));
}

#[test]
fn what_run_would_refuse_at_start_fails_check_at_the_poller() {
    let slow_reads = GOOD
        .replace("[http]\n", "[http]\nread_timeout = \"30s\"\n")
        .replace("interval = \"30s\"", "interval = \"5s\"");
    let bad_header = GOOD.replace(
        "extract = \"/events\"",
        "extract = \"/events\"\nheaders = { \"X Bad\" = \"1\" }",
    );
    let bad_pagination = GOOD.replace(
        "extract = \"/events\"",
        "extract = \"/events\"\npagination = { link = true, param = \"page\" }",
    );

    let (code, stderr) = check(&slow_reads);
    let (header_code, header_stderr) = check(&bad_header);
    let (pagination_code, pagination_stderr) = check(&bad_pagination);

    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("read timeout of 30s is longer than the poll interval of 5s"),
        "{stderr}"
    );
    assert!(stderr.contains("pythia.toml:"), "{stderr}");
    assert_eq!(header_code, 2, "{header_stderr}");
    assert!(header_stderr.contains("X Bad"), "{header_stderr}");
    assert_eq!(pagination_code, 2, "{pagination_stderr}");
    assert!(
        pagination_stderr.contains("pagination"),
        "{pagination_stderr}"
    );
}
