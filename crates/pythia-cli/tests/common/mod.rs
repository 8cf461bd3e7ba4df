//! Helpers shared by the end-to-end tests: run the real `pythia` binary as a child.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn pythia() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pythia"));
    command.env_remove("PYTHIA_LOG").env_remove("PYTHIA_SECRET");
    for (name, _) in std::env::vars() {
        if name.starts_with("HTTP_") || name.starts_with("POLLER_") {
            command.env_remove(name);
        }
    }
    command
}

/// Runs `pythia ARGS` to completion.
pub fn run(args: &[&str]) -> Output {
    pythia().args(args).output().expect("run pythia")
}

/// A daemon started with `pythia run`, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub ready: serde_json::Value,
    pub dir: PathBuf,
}

impl Daemon {
    /// Starts `pythia run CONFIG` and waits (at most 20 s) for its ready file.
    pub fn start(config: &Path, dir: &Path) -> Daemon {
        Daemon::start_with_env(config, dir, &[])
    }

    /// Like [`Daemon::start`], with these environment variables set for the daemon.
    pub fn start_with_env(config: &Path, dir: &Path, env: &[(&str, &str)]) -> Daemon {
        let ready_file = dir.join(format!("ready-{}.json", rand_suffix()));
        let child = pythia()
            .envs(env.iter().copied())
            .args(["--log-format", "json", "--log-level", "info", "run"])
            .arg(config)
            .arg("--ready-file")
            .arg(&ready_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pythia run");
        let mut daemon = Daemon {
            child,
            ready: serde_json::Value::Null,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready_file) {
                if let Ok(value) = serde_json::from_str(&text) {
                    daemon.ready = value;
                    return daemon;
                }
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                let output = daemon.child.wait_with_output_ref();
                panic!("pythia run exited early with {status}: {output}");
            }
            assert!(
                Instant::now() < deadline,
                "pythia run was not ready within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://ADDR` of the ingest listener.
    pub fn ingest_url(&self, path: &str) -> String {
        format!(
            "http://{}{path}",
            self.ready["ingest"].as_str().expect("ingest address")
        )
    }

    /// `http://ADDR` of the admin listener.
    pub fn admin_url(&self, path: &str) -> String {
        format!(
            "http://{}{path}",
            self.ready["admin"].as_str().expect("admin address")
        )
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, signal: i32) {
        let pid = self.child.id() as i32;
        // SAFETY-free: libc::kill is a plain syscall wrapper.
        let rc = unsafe_free_kill(pid, signal);
        assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
    }

    /// Waits (at most `timeout`) for the daemon to exit and returns its status and stderr.
    pub fn wait(mut self, timeout: Duration) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                let stderr = self.child.wait_with_output_ref();
                return (status, stderr);
            }
            assert!(
                Instant::now() < deadline,
                "pythia did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

trait ReadStderr {
    fn wait_with_output_ref(&mut self) -> String;
}

impl ReadStderr for Child {
    fn wait_with_output_ref(&mut self) -> String {
        use std::io::Read;
        let mut text = String::new();
        if let Some(mut stderr) = self.stderr.take() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    }
}

fn unsafe_free_kill(pid: i32, signal: i32) -> i32 {
    // The workspace forbids unsafe code, so signals go through the `kill` command.
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    if status.success() {
        0
    } else {
        -1
    }
}

/// A random suffix for files, keys and queues.
pub fn rand_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    format!("{:x}", hasher.finish())
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

/// Polls `check` every 20 ms until it returns true or `timeout` passes.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// A `pythia listen` child, its bound address and its stdout lines.
pub struct Listener {
    pub child: Child,
    pub addr: String,
    pub lines: std::sync::mpsc::Receiver<serde_json::Value>,
}

impl Listener {
    /// Starts `pythia listen --bind 127.0.0.1:0 EXTRA...` and waits for its address.
    pub fn start(extra: &[&str]) -> Listener {
        use std::io::BufRead;
        let mut child = pythia()
            .args(["--log-format", "json", "listen", "--bind", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pythia listen");
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
                    if let Some(bind) = value["bind"].as_str() {
                        let _ = addr_tx.send(bind.to_owned());
                    }
                }
            }
        });
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let (line_tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).expect("listen prints JSON lines");
                if line_tx.send(value).is_err() {
                    break;
                }
            }
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("pythia listen logs its address");
        Listener { child, addr, lines }
    }

    /// `http://ADDR/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next printed webhook, waiting at most 10 s.
    pub fn next(&self) -> serde_json::Value {
        self.lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a webhook line within 10 s")
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
