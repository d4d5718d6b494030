//! The alert journal: every alert message as one JSON line, appended and
//! flushed before the message is published.

use std::path::{Path, PathBuf};

use tokio::fs::{File, OpenOptions};
use tokio::io::AsyncWriteExt;

/// An append-only JSON-lines file.
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Opens (creating it and its directory if needed) the journal at `path`.
    pub async fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await?;
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    /// Where it writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and flushes it to the operating system.
    pub async fn append(&mut self, json: &str) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(json.len() + 1);
        line.extend_from_slice(json.as_bytes());
        line.push(b'\n');
        self.file.write_all(&line).await?;
        self.file.flush().await
    }
}
