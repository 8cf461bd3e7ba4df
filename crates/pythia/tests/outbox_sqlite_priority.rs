//! The SQLite outbox's writer thread runs at the niceness it is given (Linux, where each thread
//! has its own). A file of its own: the threads are told apart by name, so no other test's
//! outbox may be open in this process.
#![cfg(all(target_os = "linux", feature = "sqlite"))]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use pythia::outbox::{SqliteOutbox, SqliteOutboxBuilder, DEFAULT_WRITER_NICE};

/// The writer's thread name as `/proc` shows it (cut to 15 bytes).
const WRITER: &str = "pythia-outbox-s";

/// The niceness of each live thread of this process named `name`, by thread id.
fn threads_named(name: &str) -> HashMap<String, i32> {
    let mut found = HashMap::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let task = task.expect("a task entry");
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue; // the thread ended meanwhile
        };
        // "tid (comm) state ppid ...": the name may hold spaces, so split at its parenthesis.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if &stat[open + 1..close] != name {
            continue;
        }
        // After the name: state is field 3, niceness field 19.
        let nice = stat[close + 1..]
            .split_whitespace()
            .nth(16)
            .and_then(|field| field.parse().ok())
            .expect("a niceness in /proc stat");
        found.insert(task.file_name().to_string_lossy().into_owned(), nice);
    }
    found
}

/// Opens `builder` and returns the outbox with the niceness of its new writer thread: `expected`
/// as soon as it shows, else the last one seen within a few seconds (the thread sets its own as
/// it starts).
fn open_and_read_nice(builder: SqliteOutboxBuilder, expected: i32) -> (SqliteOutbox, i32) {
    let before = threads_named(WRITER);
    let outbox = builder.open().expect("the outbox opens");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = None;
    loop {
        let new: Vec<i32> = threads_named(WRITER)
            .into_iter()
            .filter(|(tid, _)| !before.contains_key(tid))
            .map(|(_, nice)| nice)
            .collect();
        assert!(new.len() <= 1, "one writer thread per outbox: {new:?}");
        if let Some(&nice) = new.first() {
            seen = Some(nice);
            if nice == expected {
                break;
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let nice = seen.expect("the writer thread started");
    (outbox, nice)
}

/// Whether a thread of this process may take the niceness `nice` (a priority above the
/// process's needs `CAP_SYS_NICE` or a `RLIMIT_NICE` that allows it): found out on a thread of
/// its own, which then ends.
fn may_take(nice: i32) -> bool {
    std::thread::spawn(move || {
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice).is_ok()
    })
    .join()
    .expect("the probe thread")
}

#[test]
fn the_writer_thread_runs_at_the_niceness_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let process = rustix::process::getpriority_process(None).expect("this thread's niceness");

    // The lowest priority needs no privilege.
    let (_lower, nice) = open_and_read_nice(
        SqliteOutbox::builder(dir.path().join("lower.db")).writer_nice(19),
        19,
    );
    assert_eq!(nice, 19);

    // 0 leaves the thread at the niceness of the thread that opened the outbox.
    let (_left, nice) = open_and_read_nice(
        SqliteOutbox::builder(dir.path().join("left.db")).writer_nice(0),
        process,
    );
    assert_eq!(nice, process);

    // The default asks for a higher priority, and the outbox opens and works without it too.
    let permitted = may_take(DEFAULT_WRITER_NICE);
    if !permitted {
        println!("this process may not raise a thread's priority: the writer keeps {process}");
    }
    let expected = if permitted {
        DEFAULT_WRITER_NICE
    } else {
        process
    };
    let (outbox, nice) = open_and_read_nice(
        SqliteOutbox::builder(dir.path().join("default.db")),
        expected,
    );
    assert_eq!(nice, expected);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        use pythia::outbox::{NewMessage, Outbox};
        let enqueued = outbox.enqueue(NewMessage::new("orders", "{}")).await;
        assert!(enqueued.is_ok(), "{enqueued:?}");
    });
}
