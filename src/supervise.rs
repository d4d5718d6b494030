//! Supervision: a daemon that cannot die quietly. Every task and thread the
//! running daemon depends on holds a [`Lifeline`]; when it panics, or ends
//! while the daemon is not stopping, its lifeline reports a [`Death`]
//! naming it. The daemon then logs it at ERROR and exits at once with
//! [`crate::exit::COMPONENT_DIED`], without draining anything: what the
//! store has committed stays in its outbox and goes out on the next start,
//! and unacknowledged MQTT messages are sent again by the broker. systemd
//! (`Restart=on-failure`) or a container runtime starts it again. A daemon
//! half alive — detecting nothing while its process looks healthy — is
//! worse than a restart.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A component that died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Death {
    /// What it is: `engine`, `sink`, `camera cam-c01`, ...
    pub component: String,
    /// It panicked (otherwise it returned while it should have run on).
    pub panicked: bool,
}

impl fmt::Display for Death {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.panicked {
            "panicked"
        } else {
            "ended unexpectedly"
        };
        write!(f, "the {} {how}", self.component)
    }
}

/// Hands out lifelines and hears of deaths.
#[derive(Debug)]
pub struct Supervisor {
    tx: mpsc::UnboundedSender<Death>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Death>>>,
    stopping: Arc<AtomicBool>,
}

impl Default for Supervisor {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
            stopping: Arc::default(),
        }
    }
}

impl Supervisor {
    /// A lifeline for `component`, to be dropped only when it ends.
    pub fn lifeline(&self, component: impl Into<String>) -> Lifeline {
        Lifeline {
            component: component.into(),
            tx: self.tx.clone(),
            stopping: self.stopping.clone(),
            retired: false,
        }
    }

    /// Spawns `future` as the supervised `component`.
    pub fn spawn<F>(&self, component: &str, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let line = self.lifeline(component);
        tokio::spawn(async move {
            let output = future.await;
            drop(line);
            output
        })
    }

    /// The daemon is stopping: components ending from now on are expected
    /// to (panics are still reported).
    pub fn stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Whether [`Supervisor::stopping`] was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// The deaths, in the order they happen; `None` after the first call.
    pub fn take_deaths(&self) -> Option<mpsc::UnboundedReceiver<Death>> {
        self.rx.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Held by a running component; reports its death when dropped by a panic,
/// or by an end while the daemon is not stopping.
#[derive(Debug)]
pub struct Lifeline {
    component: String,
    tx: mpsc::UnboundedSender<Death>,
    stopping: Arc<AtomicBool>,
    retired: bool,
}

impl Lifeline {
    /// Ends on purpose: nothing is reported.
    pub fn retire(mut self) {
        self.retired = true;
    }
}

impl Drop for Lifeline {
    fn drop(&mut self) {
        let panicked = std::thread::panicking();
        if self.retired || (!panicked && self.stopping.load(Ordering::Relaxed)) {
            return;
        }
        let _ = self.tx.send(Death {
            component: std::mem::take(&mut self.component),
            panicked,
        });
    }
}

/// Logs every panic at ERROR (thread, place, message) before the standard
/// report, so that it is in the daemon's log with everything else.
pub fn install_panic_hook() {
    let standard = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(
            thread = thread.name().unwrap_or("unnamed"),
            place,
            "panic: {message}"
        );
        standard(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_or_an_early_end_is_reported_an_end_when_stopping_is_not() {
        let s = Supervisor::default();
        let mut deaths = s.take_deaths().unwrap();
        assert!(s.take_deaths().is_none());
        let _ = s.spawn("engine", async { panic!("boom") }).await;
        assert_eq!(
            deaths.recv().await,
            Some(Death {
                component: "engine".into(),
                panicked: true
            })
        );
        s.spawn("sink", async {}).await.unwrap();
        let death = deaths.recv().await.unwrap();
        assert_eq!(death.to_string(), "the sink ended unexpectedly");
        // A thread holds one too.
        let line = s.lifeline("camera cam-1");
        let _ = std::thread::spawn(move || {
            let _line = line;
            panic!("in a thread");
        })
        .join();
        assert_eq!(deaths.recv().await.unwrap().component, "camera cam-1");
        // Retired, or ending once the daemon stops: nothing.
        s.lifeline("watcher").retire();
        s.stopping();
        s.spawn("sink", async {}).await.unwrap();
        // ... but a panic while stopping still is.
        let _ = s.spawn("publisher", async { panic!("late") }).await;
        assert_eq!(deaths.recv().await.unwrap().component, "publisher");
        assert!(deaths.try_recv().is_err(), "nothing else");
    }
}
