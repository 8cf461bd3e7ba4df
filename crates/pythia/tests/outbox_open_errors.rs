//! Opening a SQLite outbox that cannot be used fails with a clear error naming the path.
#![cfg(feature = "sqlite")]

use pythia::outbox::{OutboxError, SqliteOutbox};

fn open_error(path: &std::path::Path) -> (String, String) {
    match SqliteOutbox::open(path) {
        Err(OutboxError::Open { location, reason }) => (location, reason),
        other => panic!("expected an open error, got {other:?}"),
    }
}

#[test]
fn a_corrupt_file_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();

    let (location, reason) = open_error(&path);

    assert_eq!(location, path.display().to_string());
    assert!(reason.contains("not a database"), "reason: {reason}");
}

#[test]
fn a_path_under_a_regular_file_is_reported_as_unwritable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let path = file.join("outbox.db");

    let (location, reason) = open_error(&path);

    assert_eq!(location, path.display().to_string());
    assert!(reason.contains("unable to open"), "reason: {reason}");
}

#[test]
fn a_missing_directory_is_reported_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("outbox.db");

    let (location, _) = open_error(&path);

    assert_eq!(location, path.display().to_string());
    assert!(!dir.path().join("no-such-dir").exists());
}

#[test]
fn a_file_from_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    drop(SqliteOutbox::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);

    let (_, reason) = open_error(&path);

    assert!(reason.contains("schema version 99"), "reason: {reason}");
}

#[tokio::test]
async fn a_reopened_file_keeps_its_messages() {
    use pythia::outbox::{NewMessage, Outbox};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let first = SqliteOutbox::open(&path).unwrap();
    let id = first
        .enqueue(NewMessage::new("orders", "1"))
        .await
        .unwrap()
        .id;
    drop(first);

    let reopened = SqliteOutbox::open(&path).unwrap();
    let claimed = reopened
        .claim(10, std::time::Duration::from_secs(30))
        .await
        .unwrap();

    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].message.id, id);
}
