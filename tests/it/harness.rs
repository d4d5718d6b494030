//! Helpers for the integration tests: free loopback ports, a real Mosquitto,
//! the real `rampart` binary, and an MQTT watcher that collects what the
//! daemon publishes. Every wait is bounded.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use tokio::sync::mpsc;

/// A port that was free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Finds a program on PATH or in the usual sbin directories.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// True when the tests must fail rather than skip without Mosquitto.
fn mosquitto_required() -> bool {
    std::env::var("RAMPART_REQUIRE_MOSQUITTO").is_ok_and(|v| v == "1")
}

/// Finds a Mosquitto tool, or says visibly why the test is skipped (and
/// fails instead when `RAMPART_REQUIRE_MOSQUITTO=1`).
pub fn require_tool(name: &str, test: &str) -> Option<PathBuf> {
    match find_program(name) {
        Some(p) => Some(p),
        None if mosquitto_required() => {
            panic!("{test}: `{name}` is not installed and RAMPART_REQUIRE_MOSQUITTO=1")
        }
        None => {
            eprintln!("SKIPPED {test}: `{name}` is not installed (apt-get install mosquitto mosquitto-clients)");
            None
        }
    }
}

/// A Mosquitto broker on a free loopback port, killed on drop.
pub struct Mosquitto {
    pub port: u16,
    child: Option<Child>,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts Mosquitto, or returns None (with a visible skip) if absent.
    pub fn start(test: &str) -> Option<Self> {
        Self::start_with(test, "")
    }

    /// Starts Mosquitto with its persistence on (saved after every change),
    /// so sessions and queued messages survive [`Self::stop`] and
    /// [`Self::start_again`] — even a SIGKILL, up to the last save.
    pub fn start_persistent(test: &str) -> Option<Self> {
        Self::configured(test, true, "")
    }

    /// [`Mosquitto::start`] with `extra` lines appended to its config.
    pub fn start_with(test: &str, extra: &str) -> Option<Self> {
        Self::configured(test, false, extra)
    }

    /// Mosquitto on the whole config `make(port, dir)` returns (which must
    /// listen on `port` on loopback; `dir` is the broker's own directory);
    /// `log_dest stderr` is added.
    pub fn start_config(test: &str, make: impl FnOnce(u16, &Path) -> String) -> Option<Self> {
        let bin = require_tool("mosquitto", test)?;
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        std::fs::write(
            dir.path().join("mosquitto.conf"),
            format!("{}\nlog_dest stderr\n", make(port, dir.path())),
        )
        .expect("write mosquitto.conf");
        let mut broker = Self {
            port,
            child: None,
            bin,
            dir,
        };
        broker.start_again();
        Some(broker)
    }

    fn configured(test: &str, persistence: bool, extra: &str) -> Option<Self> {
        Self::start_config(test, |port, dir| {
            let persist = if persistence {
                // Mosquitto started as root drops to its own user: the
                // persistence directory must be writable by it, or it saves
                // nothing (and says so only in its log).
                let store = dir.join("persistence");
                std::fs::create_dir(&store).expect("persistence dir");
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o777))
                    .expect("chmod persistence dir");
                format!(
                    "persistence true\npersistence_location {}/\nautosave_on_changes true\nautosave_interval 1\n",
                    store.display()
                )
            } else {
                "persistence false\n".to_owned()
            };
            format!("listener {port} 127.0.0.1\nallow_anonymous true\n{persist}{extra}")
        })
    }

    /// What the broker has logged so far (connections, refusals).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// Starts the broker again on the same port and config.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "mosquitto is running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mosquitto.log"))
            .expect("log file");
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        assert!(
            wait_for_port(self.port, Duration::from_secs(10)),
            "mosquitto did not start on port {}",
            self.port
        );
    }

    /// Stops the broker with `signal` (SIGTERM: it saves and exits; SIGKILL:
    /// it dies on the spot) and waits for it.
    pub fn stop(&mut self, signal: i32) {
        let mut child = self.child.take().expect("mosquitto is not running");
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(child.id() as i32, signal) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().expect("wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The limits the input path counts on, as the shipped broker config
/// (`config/mosquitto/mosquitto.conf`) sets them.
pub const SHIPPED_LIMITS: [&str; 3] = [
    "max_queued_messages",
    "max_inflight_messages",
    "max_packet_size",
];

/// The lines of the shipped `config/mosquitto/mosquitto.conf` that set
/// [`SHIPPED_LIMITS`], except those named in `without`, ready to append to
/// a test broker's config ([`Mosquitto::start_with`]). Panics if the
/// shipped file lacks one of them (or sets one twice): the tests must run
/// with what is shipped.
pub fn shipped_limits(without: &[&str]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mosquitto/mosquitto.conf");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = String::new();
    for name in SHIPPED_LIMITS {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| l.split_whitespace().next() == Some(name))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "{} must set `{name}` exactly once: {lines:?}",
            path.display()
        );
        let value = lines[0].split_whitespace().nth(1);
        assert!(
            value.is_some_and(|v| v.parse::<u64>().is_ok()),
            "{}: `{}` has no numeric value",
            path.display(),
            lines[0]
        );
        if !without.contains(&name) {
            out.push_str(lines[0]);
            out.push('\n');
        }
    }
    out
}

/// The value the shipped broker config gives `name` (one of [`SHIPPED_LIMITS`]).
pub fn shipped_limit(name: &str) -> u64 {
    shipped_limits(&[])
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no shipped `{name}`"))
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Every message in the alert store under `data_dir`, oldest first, as
/// `rampart alerts --json` prints them (`seq`, `topic`, `delivered_at`,
/// `message`).
pub fn stored_alerts(data_dir: &Path, extra: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["alerts", "--json", "--limit", "0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .output()
        .expect("run rampart alerts");
    assert!(
        out.status.success(),
        "rampart alerts failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// The real `rampart` binary running a config file; killed on drop.
pub struct Daemon {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    /// Writes `config` to `dir/rampart.toml` and runs `rampart run` on it.
    pub fn start(dir: &Path, config: &str) -> Self {
        Self::start_with_env(dir, config, &[])
    }

    /// [`Daemon::start`] with these environment variables added.
    pub fn start_with_env(dir: &Path, config: &str, env: &[(&str, &str)]) -> Self {
        let path = dir.join("rampart.toml");
        std::fs::write(&path, config).expect("write config");
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = dir.join(format!("rampart-{run}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args(["run", "--config"])
            .arg(&path)
            .env("RUST_LOG", "info")
            // Not systemd's child here, whatever runs the tests.
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start rampart");
        Self {
            child: Some(child),
            log,
        }
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends SIGHUP: the daemon reloads its config file.
    pub fn hangup(&self) {
        let child = self.child.as_ref().expect("running");
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    }

    /// Kills the daemon with SIGKILL, as a power cut would, and waits.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "rampart did not exit within 15 s of SIGTERM; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (bounded) for the daemon to exit on its own; its status.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "rampart did not exit within {within:?}; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits (bounded) until the daemon's log has `count` lines containing
    /// `text`; panics with the log otherwise.
    pub async fn wait_log(&self, text: &str, count: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.log_text().lines().filter(|l| l.contains(text)).count() >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no `{text}` (x{count}) in the log within {within:?}:\n{}",
            self.log_text()
        );
    }

    /// The daemon's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                eprintln!(
                    "--- rampart log ({}) ---\n{}",
                    self.log.display(),
                    self.log_text()
                );
            }
        }
    }
}

/// One message the watcher received.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).unwrap_or(Value::Null)
    }
}

/// An MQTT client that subscribes to `filters` and collects every message.
pub struct Watcher {
    rx: mpsc::UnboundedReceiver<Received>,
    pub seen: Vec<Received>,
    pub client: AsyncClient,
}

impl Watcher {
    /// Connects to 127.0.0.1:`port` and subscribes (retrying until the broker is up).
    pub async fn start(port: u16, filters: &[&str]) -> Self {
        Self::connect(port, filters, None).await
    }

    /// The same on a persistent session under a fixed client id: the broker
    /// keeps the subscription and queues messages while the watcher is
    /// disconnected (say, while the broker restarts).
    pub async fn start_persistent(port: u16, filters: &[&str], id: &str) -> Self {
        Self::connect(port, filters, Some(id)).await
    }

    async fn connect(port: u16, filters: &[&str], persistent_id: Option<&str>) -> Self {
        let id = persistent_id.map_or_else(|| format!("watcher-{}", free_port()), str::to_owned);
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_clean_session(persistent_id.is_none());
        Self::with_options(options, filters).await
    }

    /// A watcher with options of the caller's (credentials, say).
    pub async fn with_options(mut options: MqttOptions, filters: &[&str]) -> Self {
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (tx, rx) = mpsc::unbounded_channel();
        let filters: Vec<String> = filters.iter().map(|s| s.to_string()).collect();
        let sub = client.clone();
        let (ready_tx, mut ready_rx) = mpsc::channel(1);
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        for f in &filters {
                            let _ = sub.subscribe(f.clone(), QoS::AtLeastOnce).await;
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.try_send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send(Received {
                            topic: p.topic.clone(),
                            payload: p.payload.to_vec(),
                        });
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), ready_rx.recv())
            .await
            .expect("watcher could not subscribe within 10 s");
        Self {
            rx,
            seen: Vec::new(),
            client,
        }
    }

    /// Waits up to `within` for a message matching `pred`, looking at what
    /// was already received first.
    pub async fn wait_for(
        &mut self,
        within: Duration,
        what: &str,
        pred: impl Fn(&Received) -> bool,
    ) -> Received {
        if let Some(r) = self.seen.iter().find(|r| pred(r)) {
            return r.clone();
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(r)) => {
                    self.seen.push(r.clone());
                    if pred(&r) {
                        return r;
                    }
                }
                _ => panic!(
                    "timed out after {within:?} waiting for {what}; received:\n{}",
                    self.seen
                        .iter()
                        .map(|r| format!("{} {}", r.topic, String::from_utf8_lossy(&r.payload)))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }

    /// Collects whatever arrives within `within`, without expecting anything.
    pub async fn drain(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while let Ok(Some(r)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            self.seen.push(r);
        }
    }

    /// Waits for an alert message whose JSON satisfies `pred`.
    pub async fn alert(
        &mut self,
        within: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_for(within, what, |r| {
            r.topic.contains("/v1/alert/") && pred(&r.json())
        })
        .await
        .json()
    }

    /// Publishes one message at QoS 1.
    pub async fn publish(&self, topic: &str, payload: &[u8]) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
            .await
            .expect("publish");
    }
}

/// A sentence in wire form with a correct checksum.
pub fn sentence(body: &str) -> String {
    let cs = body.bytes().fold(0u8, |a, b| a ^ b);
    format!("${body}*{cs:02X}\r\n")
}

/// The firmware simulator on `config`, running `scenario` (TOML text) for
/// `devices`, with its pseudo-terminals in `pty_dir`.
pub fn simulator(
    config: &rampart::config::Config,
    scenario: &str,
    devices: &[&str],
    pty_dir: &Path,
) -> rampart::sim::Simulator {
    let devices = devices.iter().map(|d| d.to_string()).collect();
    let scenario = rampart::sim::scenario::Scenario::parse("scenario", scenario, &devices)
        .expect("valid scenario");
    let options = rampart::sim::SimOptions {
        pty_dir: pty_dir.to_owned(),
        truth: None,
        identities: None,
    };
    rampart::sim::Simulator::new(config, scenario, options).expect("simulator")
}

/// A cheap random number (xorshift) for kill and restart moments, between
/// `from` and `to` (exclusive).
pub fn random_ms(state: &mut u64, from: u64, to: u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    from + *state % (to - from)
}

/// A seed for [`random_ms`] from the clock (printed by the tests that use
/// it, so a failing run can be told apart).
pub fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1
}
