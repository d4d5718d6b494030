//! `StoreHandle`: the alert store for async tasks. Each call runs on
//! tokio's blocking pool, one at a time (the store sits behind a mutex), so
//! a slow disk never stalls a runtime thread.

use std::sync::{Arc, Mutex};

use super::{Store, StoreError};

/// A cloneable, async handle on the one open [`Store`].
#[derive(Clone, Debug)]
pub struct StoreHandle {
    inner: Arc<Mutex<Store>>,
}

impl StoreHandle {
    pub fn new(store: Store) -> Self {
        Self {
            inner: Arc::new(Mutex::new(store)),
        }
    }

    /// Runs `f` on the store on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            // A panic inside a call cannot leave the database inconsistent
            // (SQLite rolls back), so a poisoned lock is still usable.
            let mut store = inner.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut store)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}
