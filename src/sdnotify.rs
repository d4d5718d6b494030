//! systemd service notifications (`sd_notify`): readiness, status lines,
//! stopping, and a watchdog that pings only while the engine is alive.
//!
//! Under `Type=notify`, systemd names a Unix datagram socket in
//! `$NOTIFY_SOCKET` — a path, or a name in the abstract namespace when it
//! starts with `@` — and each notification is one datagram of
//! newline-separated `KEY=value` lines. The daemon sends `READY=1` once its
//! tasks are started, `STOPPING=1` when shutdown begins, and `STATUS=...`
//! lines saying what it is doing. No crate is needed for that.
//!
//! With `WatchdogSec=`, systemd sets `$WATCHDOG_USEC` (and `$WATCHDOG_PID`)
//! and restarts the service when no `WATCHDOG=1` arrives within that time.
//! The daemon pings every half of it, but only while the engine task's
//! pulse ([`Shared::engine_ticked`], once per engine tick) is at most
//! [`ENGINE_STALL`] old: an engine that hangs, or a task that dies, stops
//! the pings and systemd restarts the daemon. The pulse's age, not whether
//! it moved since the last ping, is what counts, so a healthy engine
//! ticking once a second keeps even a watchdog shorter than that satisfied.
//!
//! Without `$NOTIFY_SOCKET` (not started by systemd) nothing is sent.
//! Sending never blocks the caller: a notification that cannot be sent is
//! dropped, and the first failure is logged.

use std::ffi::OsString;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::runtime::Shared;

/// How old the engine's pulse may be for the watchdog to ping: three
/// engine ticks ([`crate::app::TICK`]).
pub const ENGINE_STALL: Duration = Duration::from_secs(3);

/// Sends notifications to systemd, or nothing when not run by it.
#[derive(Debug, Default)]
pub struct Notifier {
    target: Option<Target>,
}

#[derive(Debug)]
struct Target {
    socket: UnixDatagram,
    addr: SocketAddr,
    /// Set once a send failed (and was logged).
    failed: AtomicBool,
}

impl Notifier {
    /// A notifier that sends nothing.
    pub fn off() -> Self {
        Self::default()
    }

    /// The notifier `$NOTIFY_SOCKET` asks for; off without it (or, with a
    /// warning, when it cannot be used).
    pub fn from_env() -> Self {
        Self::from_name(std::env::var_os("NOTIFY_SOCKET"))
    }

    /// The notifier for a `$NOTIFY_SOCKET` value; off for `None` or empty.
    pub fn from_name(name: Option<OsString>) -> Self {
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Self::off();
        };
        match name.to_str().map(Self::connect) {
            Some(Ok(notifier)) => notifier,
            Some(Err(e)) => {
                warn!(socket = ?name, error = %e, "NOTIFY_SOCKET cannot be used; systemd will not hear from the daemon");
                Self::off()
            }
            None => {
                warn!(socket = ?name, "NOTIFY_SOCKET is not UTF-8; systemd will not hear from the daemon");
                Self::off()
            }
        }
    }

    /// A notifier for the socket `name`: an absolute path, or `@name` in
    /// the abstract namespace.
    pub fn connect(name: &str) -> io::Result<Self> {
        let addr = address(name)?;
        let socket = UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?;
        Ok(Self {
            target: Some(Target {
                socket,
                addr,
                failed: AtomicBool::new(false),
            }),
        })
    }

    /// True when notifications go somewhere.
    pub fn is_on(&self) -> bool {
        self.target.is_some()
    }

    /// Sends one notification (`KEY=value` lines) as one datagram; does
    /// nothing when off.
    pub fn send(&self, state: &str) -> io::Result<()> {
        match &self.target {
            Some(t) => t.socket.send_to_addr(state.as_bytes(), &t.addr).map(drop),
            None => Ok(()),
        }
    }

    /// `READY=1` with a status line.
    pub fn ready(&self, status: &str) {
        self.notify(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// A status line (`systemctl status` shows the latest).
    pub fn status(&self, status: &str) {
        self.notify(&format!("STATUS={}", one_line(status)));
    }

    /// `STOPPING=1` with a status line.
    pub fn stopping(&self, status: &str) {
        self.notify(&format!("STOPPING=1\nSTATUS={}", one_line(status)));
    }

    /// `WATCHDOG=1`: the daemon is alive.
    pub fn watchdog(&self) {
        self.notify("WATCHDOG=1");
    }

    /// Sends, logging the first failure (later ones at debug level).
    fn notify(&self, state: &str) {
        let Some(t) = &self.target else { return };
        if let Err(e) = self.send(state) {
            if t.failed.swap(true, Ordering::Relaxed) {
                debug!(error = %e, "systemd notification not sent");
            } else {
                warn!(error = %e, "systemd notification not sent (further failures logged at debug level)");
            }
        }
    }
}

/// The address of `$NOTIFY_SOCKET`: `@name` is abstract, anything else
/// must be an absolute path.
fn address(name: &str) -> io::Result<SocketAddr> {
    if let Some(abstract_name) = name.strip_prefix('@') {
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            return SocketAddr::from_abstract_name(abstract_name.as_bytes());
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = abstract_name;
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "abstract sockets exist on Linux only",
            ));
        }
    }
    if !name.starts_with('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{name}` is neither an absolute path nor an @abstract name"),
        ));
    }
    SocketAddr::from_pathname(name)
}

/// A status text on one line (a newline would start a new `KEY=value`).
fn one_line(status: &str) -> String {
    status.replace(['\n', '\r'], " ")
}

/// The watchdog timeout systemd asks for: `$WATCHDOG_USEC` microseconds,
/// unless `$WATCHDOG_PID` is set and names another process. None when
/// absent, zero or unreadable.
pub fn watchdog_timeout(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok() != Some(own_pid) {
            return None;
        }
    }
    let usec: u64 = usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Pings the watchdog every half of `timeout` while the engine's pulse is
/// at most [`ENGINE_STALL`] old, saying so (log and status) when it stops
/// and when it starts again; returns when `stop` turns true.
pub async fn run_watchdog(
    notifier: Arc<Notifier>,
    timeout: Duration,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let period = (timeout / 2).max(Duration::from_millis(1));
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stalled = false;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let since = shared.since_engine_tick();
        if since <= ENGINE_STALL {
            if stalled {
                stalled = false;
                info!(
                    since_ms = since.as_millis(),
                    "engine ticking again; watchdog pings resumed"
                );
                notifier.status("running");
            }
            notifier.watchdog();
        } else if !stalled {
            stalled = true;
            shared.counters.incr("watchdog.withheld");
            error!(
                since_ms = since.as_millis(),
                timeout_ms = timeout.as_millis(),
                "engine has not ticked: withholding the watchdog, systemd will restart the daemon"
            );
            notifier.status(&format!(
                "engine stalled for {} s; watchdog withheld",
                since.as_secs()
            ));
        }
    }
}

/// What the running daemon keeps of systemd: its notifier, and whether a
/// watchdog task runs.
pub struct Supervisor {
    notifier: Arc<Notifier>,
    watching: bool,
}

impl Supervisor {
    /// Tells systemd (if it started the daemon) that the daemon is ready,
    /// with `status`, and starts the watchdog if it asks for one; the
    /// watchdog stops when `stop` turns true.
    pub fn start(status: &str, shared: Arc<Shared>, stop: watch::Receiver<bool>) -> Self {
        let env = |k: &str| std::env::var(k).ok();
        let timeout = watchdog_timeout(
            env("WATCHDOG_USEC").as_deref(),
            env("WATCHDOG_PID").as_deref(),
            std::process::id(),
        );
        Self::with(Notifier::from_env(), timeout, status, shared, stop)
    }

    /// [`Supervisor::start`] with a given notifier and watchdog timeout.
    pub fn with(
        notifier: Notifier,
        watchdog: Option<Duration>,
        status: &str,
        shared: Arc<Shared>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        let notifier = Arc::new(notifier);
        if !notifier.is_on() {
            return Self {
                notifier,
                watching: false,
            };
        }
        notifier.ready(status);
        info!(watchdog = ?watchdog, "told systemd the daemon is ready");
        if let Some(timeout) = watchdog {
            tokio::spawn(run_watchdog(notifier.clone(), timeout, shared, stop));
        }
        Self {
            notifier,
            watching: watchdog.is_some(),
        }
    }

    /// True when a watchdog task pings systemd.
    pub fn watching(&self) -> bool {
        self.watching
    }

    /// Tells systemd that shutdown has begun; the watchdog stops with the
    /// daemon's stop signal.
    pub fn stopping(&self) {
        self.notifier
            .stopping("shutting down: draining input and alerts");
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::runtime::Clock;

    /// A receiving socket at `dir/notify.sock`, non-blocking.
    fn listener(dir: &Path) -> (UnixDatagram, String) {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_nonblocking(true).unwrap();
        (socket, path.display().to_string())
    }

    /// Every datagram waiting on `socket`.
    fn received(socket: &UnixDatagram) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        while let Ok(n) = socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    #[test]
    fn notifications_reach_a_socket_at_a_path_one_datagram_each() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, name) = listener(dir.path());
        let n = Notifier::connect(&name).unwrap();
        assert!(n.is_on());
        n.ready("running: 2 ports\nand a second line");
        n.watchdog();
        n.status("busy");
        n.stopping("bye");
        assert_eq!(
            received(&socket),
            [
                "READY=1\nSTATUS=running: 2 ports and a second line",
                "WATCHDOG=1",
                "STATUS=busy",
                "STOPPING=1\nSTATUS=bye",
            ]
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_at_sign_names_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("rampart-sdnotify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        socket.set_nonblocking(true).unwrap();
        let n = Notifier::from_name(Some(format!("@{name}").into()));
        assert!(n.is_on());
        n.watchdog();
        assert_eq!(received(&socket), ["WATCHDOG=1"]);
    }

    #[test]
    fn without_a_usable_notify_socket_nothing_is_sent_and_nothing_fails() {
        for name in [None, Some(""), Some("relative/notify.sock")] {
            let n = Notifier::from_name(name.map(Into::into));
            assert!(!n.is_on(), "{name:?}");
            n.ready("x");
            assert!(n.send("READY=1").is_ok());
        }
        // A socket nobody listens on: the send fails, the daemon carries on.
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone.sock").display().to_string();
        let n = Notifier::connect(&gone).unwrap();
        assert!(n.send("READY=1").is_err());
        n.ready("x");
        n.watchdog();
    }

    #[test]
    fn the_watchdog_timeout_comes_from_watchdog_usec_for_this_process_only() {
        let me = 4242;
        assert_eq!(
            watchdog_timeout(Some("30000000"), None, me),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            watchdog_timeout(Some("400000"), Some("4242"), me),
            Some(Duration::from_millis(400))
        );
        assert_eq!(watchdog_timeout(Some("400000"), Some("17"), me), None);
        assert_eq!(watchdog_timeout(Some("400000"), Some("x"), me), None);
        assert_eq!(watchdog_timeout(Some("0"), None, me), None);
        assert_eq!(watchdog_timeout(Some("-5"), None, me), None);
        assert_eq!(watchdog_timeout(None, None, me), None);
    }

    /// Virtual time: the engine "ticks" when the test says so.
    #[tokio::test(start_paused = true)]
    async fn the_watchdog_pings_only_while_the_engine_ticks() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, name) = listener(dir.path());
        let shared = Arc::new(Shared::new(Clock::start()));
        let (stop_tx, stop_rx) = watch::channel(false);
        let supervisor = Supervisor::with(
            Notifier::connect(&name).unwrap(),
            Some(Duration::from_secs(1)),
            "running",
            shared.clone(),
            stop_rx,
        );
        // Advances virtual time by `ms` in steps of 100 ms, the engine
        // ticking every second if `ticking`; returns what systemd got.
        let run = |ms: u64, ticking: bool| {
            let (shared, socket) = (shared.clone(), &socket);
            async move {
                let mut got = Vec::new();
                for step in 1..=ms / 100 {
                    if ticking && step % 10 == 0 {
                        shared.engine_ticked();
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    got.extend(received(socket));
                }
                got
            }
        };
        let pings = |got: &[String]| got.iter().filter(|m| *m == "WATCHDOG=1").count();

        shared.engine_ticked();
        let healthy = run(5000, true).await;
        assert_eq!(healthy[0], "READY=1\nSTATUS=running", "{healthy:?}");
        assert!(pings(&healthy) >= 9, "every 500 ms: {healthy:?}");

        // The engine hangs: pings go on while its pulse is younger than
        // ENGINE_STALL, then stop, and the status says why.
        let hung = run(4000, false).await;
        assert!(
            hung.iter().any(|m| m.contains("engine stalled")),
            "{hung:?}"
        );
        let silent = run(5000, false).await;
        assert_eq!(pings(&silent), 0, "{silent:?}");
        assert_eq!(shared.counters.get("watchdog.withheld"), 1);

        // It comes back: so do the pings.
        shared.engine_ticked();
        let back = run(1000, true).await;
        assert!(back.contains(&"STATUS=running".to_owned()), "{back:?}");
        assert!(pings(&back) >= 1, "{back:?}");

        supervisor.stopping();
        stop_tx.send(true).unwrap();
        let end = run(2000, true).await;
        assert_eq!(
            end,
            ["STOPPING=1\nSTATUS=shutting down: draining input and alerts"],
            "no pings after stopping"
        );
    }

    #[tokio::test]
    async fn without_systemd_the_supervisor_sends_nothing_and_starts_no_watchdog() {
        let shared = Arc::new(Shared::new(Clock::start()));
        let (_stop_tx, stop_rx) = watch::channel(false);
        let s = Supervisor::with(
            Notifier::off(),
            Some(Duration::from_secs(1)),
            "x",
            shared,
            stop_rx,
        );
        assert!(!s.watching());
        s.stopping();
    }
}
