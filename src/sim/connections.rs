//! The simulator's MQTT connections: one shared by all its devices, or,
//! with per-device identities (`firmware-sim --mqtt-identities DIR`), one
//! per device logging in with its own client certificate — as real
//! controllers and cameras do under the broker's ACL, where each may
//! publish only on its own topic.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::AsyncClient;
use tracing::warn;

use crate::mqtt::LinkConfig;

/// `link` logging in as device `id`, with `<dir>/<id>.pem` and
/// `<dir>/<id>.key`.
pub(crate) fn identity(link: &LinkConfig, dir: &Path, id: &str) -> std::io::Result<LinkConfig> {
    let cert = dir.join(format!("{id}.pem"));
    let key = dir.join(format!("{id}.key"));
    link.with_identity(&cert, &key).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the client certificate of `{id}`: {e}"),
        )
    })
}

/// Open connections, each driven by a task of its own.
pub(crate) struct Connections {
    shared: Option<AsyncClient>,
    own: HashMap<String, AsyncClient>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    closing: Arc<AtomicBool>,
}

impl Connections {
    /// Connections for the devices `ids`: with `identities`, one per device
    /// with the certificate `<dir>/<id>.pem` and key `<dir>/<id>.key`;
    /// otherwise one shared connection named `<role>`. `queue` is each
    /// client's request queue.
    pub(crate) fn open(
        link: &LinkConfig,
        role: &str,
        ids: &[String],
        identities: Option<&Path>,
        queue: usize,
    ) -> std::io::Result<Self> {
        let closing = Arc::new(AtomicBool::new(false));
        let mut this = Self {
            shared: None,
            own: HashMap::new(),
            tasks: Vec::new(),
            closing,
        };
        if ids.is_empty() {
            return Ok(this);
        }
        match identities {
            None => {
                let client = this.connect(link, role, queue);
                this.shared = Some(client);
            }
            Some(dir) => {
                for id in ids {
                    let own = identity(link, dir, id)?;
                    let client = this.connect(&own, id, queue);
                    this.own.insert(id.clone(), client);
                }
            }
        }
        Ok(this)
    }

    fn connect(&mut self, link: &LinkConfig, name: &str, queue: usize) -> AsyncClient {
        let mut options = link.options(name);
        options.set_clean_session(true);
        let (client, mut eventloop) = AsyncClient::new(options, queue);
        let closing = self.closing.clone();
        let name = name.to_owned();
        self.tasks.push(tokio::spawn(async move {
            loop {
                if let Err(e) = eventloop.poll().await {
                    // Closing, or every client handle is gone: done.
                    if closing.load(Ordering::Relaxed)
                        || matches!(e, rumqttc::ConnectionError::RequestsDone)
                    {
                        break;
                    }
                    match crate::mqtt::tls_failure(&e, &eventloop.mqtt_options) {
                        Some(why) => warn!(connection = %name, "simulator cannot connect: {why}"),
                        None => {
                            warn!(connection = %name, error = %e, "simulator mqtt connection error")
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }));
        client
    }

    /// The connection device `id` publishes through.
    pub(crate) fn client(&self, id: &str) -> Option<&AsyncClient> {
        self.own.get(id).or(self.shared.as_ref())
    }

    /// Disconnects all, giving queued messages `grace` to leave. Never
    /// waits on a connection the broker refuses.
    pub(crate) async fn close(self, grace: Duration) {
        self.closing.store(true, Ordering::Relaxed);
        for client in self.own.values().chain(self.shared.as_ref()) {
            let _ = client.try_disconnect();
        }
        tokio::time::sleep(grace).await;
    }
}

impl Drop for Connections {
    /// Ends the connections' tasks, also when a run is aborted.
    fn drop(&mut self) {
        self.closing.store(true, Ordering::Relaxed);
        for task in &self.tasks {
            task.abort();
        }
    }
}
