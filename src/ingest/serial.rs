//! `SerialSource`: reads sentences from one serial line.
//!
//! The port is opened with 8N1 at the configured baud rate and no flow
//! control; the daemon never touches RTS/CTS or DTR (those ioctls fail with
//! `ENOTTY` on pseudo-terminals, and field controllers do not need them).
//! Ports are opened exclusively (`TIOCEXCL`, tokio-serial's default): a
//! second reader on the same line would silently steal bytes from the
//! daemon, so it is better that its open fails.
//!
//! A port that is missing at start-up, or that fails or disappears while
//! read (a cable unplugged), is retried with a back-off that doubles from
//! 100 ms up to the port's `retry_max` (default 1 s), and read again as soon
//! as it opens, without restarting the daemon.
//!
//! With recording on, every chunk read is recorded as it came (with the
//! time it was read, the same time the engine gets), and so is every drop
//! of a partial line when the port is lost, so replay frames the stream the
//! same way.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch};
use tokio_serial::{DataBits, FlowControl, Parity, SerialPortBuilderExt, SerialStream, StopBits};
use tracing::{info, warn};

use super::{Binding, Inbound, LineHandler};
use crate::config::SerialPortConfig;
use crate::engine::Delivery;
use crate::record::recorder::Tap;
use crate::record::Source;
use crate::runtime::Shared;

const FIRST_RETRY: Duration = Duration::from_millis(100);

/// One configured serial line.
pub struct SerialSource {
    config: SerialPortConfig,
    handler: LineHandler,
    shared: Arc<Shared>,
    tap: Tap,
}

impl SerialSource {
    /// A source feeding `tx`, recording what it reads into `tap`.
    pub fn new(
        config: SerialPortConfig,
        tx: mpsc::Sender<Inbound>,
        shared: Arc<Shared>,
        tap: Tap,
    ) -> Self {
        let label = format!("serial:{}", config.path.display());
        Self {
            handler: LineHandler::new(&label, tx, shared.clone()),
            config,
            shared,
            tap,
        }
    }

    /// The recording's name for this line.
    fn source(&self) -> impl FnOnce() -> Source + '_ {
        || Source::Serial(self.config.path.display().to_string())
    }

    /// Drops a partial line, in the recording too.
    fn reset(&mut self) {
        self.handler.reset();
        self.tap.reset(self.shared.clock.now(), self.source());
    }

    /// Reads until `shutdown` turns true or the engine goes away.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let path = self.config.path.display().to_string();
        let mut wait = FIRST_RETRY;
        let mut reported_missing = false;
        loop {
            match open(&self.config) {
                Ok(port) => {
                    info!(port = %path, baud = self.config.baud, "serial port opened");
                    self.shared.counters.incr("serial.opened");
                    reported_missing = false;
                    wait = FIRST_RETRY;
                    match self.read(port, &mut shutdown).await {
                        ReadEnd::Shutdown => return,
                        ReadEnd::Lost(why) => {
                            self.shared.counters.incr("serial.lost");
                            warn!(port = %path, error = %why, "serial port lost; reopening");
                        }
                    }
                }
                Err(e) => {
                    if !reported_missing {
                        warn!(port = %path, error = %e, retry_max = ?self.config.retry_max, "serial port cannot be opened; retrying");
                        reported_missing = true;
                    }
                    self.shared.counters.incr("serial.open_failed");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
            wait = (wait * 2).min(self.config.retry_max);
        }
    }

    async fn read(
        &mut self,
        mut port: SerialStream,
        shutdown: &mut watch::Receiver<bool>,
    ) -> ReadEnd {
        let mut buf = [0u8; 1024];
        loop {
            let n = tokio::select! {
                r = port.read(&mut buf) => r,
                _ = shutdown.changed() => return ReadEnd::Shutdown,
            };
            match n {
                Ok(0) => {
                    self.reset();
                    return ReadEnd::Lost("end of file".into());
                }
                Ok(n) => {
                    let received = self.shared.clock.now();
                    self.tap.sentences(received, self.source(), &buf[..n]);
                    let binding = Binding::OneOf(&self.config.devices);
                    if !self
                        .handler
                        .feed(&buf[..n], &binding, false, received, Delivery::Once)
                        .await
                    {
                        return ReadEnd::Shutdown;
                    }
                }
                Err(e) => {
                    self.reset();
                    return ReadEnd::Lost(e.to_string());
                }
            }
        }
    }
}

enum ReadEnd {
    Shutdown,
    Lost(String),
}

fn open(config: &SerialPortConfig) -> Result<SerialStream, tokio_serial::Error> {
    tokio_serial::new(config.path.to_string_lossy(), config.baud)
        .data_bits(DataBits::Eight)
        .parity(Parity::None)
        .stop_bits(StopBits::One)
        .flow_control(FlowControl::None)
        .open_native_async()
}
