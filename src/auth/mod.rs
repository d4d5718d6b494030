//! Authenticated sentences: per-device keys, the `m=` tag and the checks
//! made on it.
//!
//! - [`Keys`] is read from the key file `[auth] keys_file` names: one
//!   `device = "<64 hex digits>"` per line. The file must not be readable
//!   or writable by group or others. Keys are never logged: [`Key`]'s
//!   `Debug` is redacted, and no error message repeats a key.
//! - [`verify`] checks a raw received line against a device's key: the tag
//!   is the first 16 bytes of HMAC-SHA256 over every byte after `$` up to
//!   (not including) `,m=`, compared in constant time.
//! - [`KeyRing`] holds the keys in use, replaced whole when a reloaded
//!   config brings a new key file (key rotation without a restart).
//! - [`seq`] holds what is pure and stateful: the last accepted sequence
//!   number per device (RFC 1982) and the burst of rejections that makes
//!   substitution suspected.

pub mod seq;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::sentence::{is_valid_id, Sentence};

/// Length of a device key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of the truncated tag in bytes.
pub const TAG_LEN: usize = 16;

/// One device's 32-byte key. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; KEY_LEN], KeyId);

/// Says which key a sentence was checked with, within this process:
/// SHA-256 over a random per-process salt and the key, first 8 bytes. It
/// links nothing across processes or sites, and `Debug` does not show it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(u64);

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyId(..)")
    }
}

/// The per-process salt of [`KeyId`]s.
fn key_id_salt() -> &'static [u8; 16] {
    static SALT: std::sync::OnceLock<[u8; 16]> = std::sync::OnceLock::new();
    SALT.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut salt = [0u8; 16];
        for half in salt.chunks_exact_mut(8) {
            let random = std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish();
            half.copy_from_slice(&random.to_le_bytes());
        }
        salt
    })
}

impl Key {
    /// A key from its bytes.
    pub fn new(bytes: [u8; KEY_LEN]) -> Self {
        use sha2::Digest;
        let digest = Sha256::new()
            .chain_update(key_id_salt())
            .chain_update(bytes)
            .finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Self(bytes, KeyId(u64::from_be_bytes(first)))
    }

    /// This key's id.
    pub fn id(&self) -> KeyId {
        self.1
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length: this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length")
    }

    /// The tag of `covered` (the bytes after `$` up to `,m=`).
    pub fn tag(&self, covered: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.mac();
        mac.update(covered);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// The keys the sources check with, replaceable while they run: a reload
/// swaps the whole set at once, and each source picks it up before its
/// next message.
#[derive(Debug, Default)]
pub struct KeyRing {
    current: std::sync::RwLock<std::sync::Arc<Keys>>,
    generation: std::sync::atomic::AtomicU64,
}

impl KeyRing {
    /// A ring holding `keys`.
    pub fn new(keys: std::sync::Arc<Keys>) -> Self {
        Self {
            current: std::sync::RwLock::new(keys),
            generation: Default::default(),
        }
    }

    /// The keys in use.
    pub fn current(&self) -> std::sync::Arc<Keys> {
        // A poisoned lock still holds a whole set: the swap cannot panic
        // half-way.
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Changes with every replacement: a cheap "are my keys stale?".
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Puts `keys` in use; false (and nothing changes) if they are the keys
    /// already in use.
    pub fn replace(&self, keys: std::sync::Arc<Keys>) -> bool {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if **current == *keys {
            return false;
        }
        *current = keys;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        true
    }
}

/// The keys of every keyed device. `Debug` shows the device ids only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Keys {
    by_device: BTreeMap<String, Key>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("devices", &self.by_device.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keys {
    /// No keys: every device speaks unauthenticated.
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds or replaces a device's key.
    pub fn insert(&mut self, device: &str, key: Key) {
        self.by_device.insert(device.to_owned(), key);
    }

    /// The key of `device`, if it has one.
    pub fn get(&self, device: &str) -> Option<&Key> {
        self.by_device.get(device)
    }

    /// The keyed devices, in order.
    pub fn devices(&self) -> impl Iterator<Item = &str> {
        self.by_device.keys().map(String::as_str)
    }

    /// True when no device has a key.
    pub fn is_empty(&self) -> bool {
        self.by_device.is_empty()
    }

    /// Reads a key file, refusing one that group or others may read or
    /// write.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let cannot_read = |e: std::io::Error| KeyFileError::Read {
            path: path.to_owned(),
            error: e.to_string(),
        };
        let file =
            crate::capped::open(path, crate::capped::Accept::RegularFile).map_err(cannot_read)?;
        if let Some(mode) = file.shared_mode() {
            return Err(KeyFileError::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
        // 1 MiB holds over ten thousand keys; a wrong path such as a link
        // to a huge file is refused instead of read whole.
        let mut text = file.read_to_string(1 << 20).map_err(cannot_read)?;
        let keys = Self::parse(&text).map_err(|(line, message)| KeyFileError::Syntax {
            path: path.to_owned(),
            line,
            message,
        });
        zeroize::Zeroize::zeroize(&mut text);
        keys
    }

    /// Parses key file text: `device = "<64 hex digits>"` per line (the
    /// device may be quoted), blank lines and `#` comments allowed — a
    /// subset of TOML. Errors give the 1-based line and never the key.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut keys = Keys::none();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let form = || "expected `device = \"<64 hex digits>\"`".to_owned();
            let (name, value) = l.split_once('=').ok_or_else(|| (line, form()))?;
            let name = name.trim();
            let name = name
                .strip_prefix('"')
                .and_then(|n| n.strip_suffix('"'))
                .unwrap_or(name);
            if !is_valid_id(name) {
                return Err((
                    line,
                    "the device id is not 1 to 32 characters of A-Z a-z 0-9 _ -".into(),
                ));
            }
            let value = value.trim();
            let value = match value.split_once('#') {
                Some((v, _)) if v.trim_end().ends_with('"') => v.trim_end(),
                _ => value,
            };
            let hex = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| (line, form()))?;
            let key = parse_key(hex).ok_or_else(|| {
                (
                    line,
                    format!("the key of `{name}` is not 64 hex digits (32 bytes)"),
                )
            })?;
            if keys.by_device.contains_key(name) {
                return Err((line, format!("`{name}` has a key already")));
            }
            keys.insert(name, key);
        }
        Ok(keys)
    }
}

fn parse_key(hex: &str) -> Option<Key> {
    let b = hex.as_bytes();
    if b.len() != 2 * KEY_LEN || !b.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut key = [0u8; KEY_LEN];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        key[i] = u8::from_str_radix(s, 16).ok()?;
    }
    let parsed = Key::new(key);
    zeroize::Zeroize::zeroize(&mut key);
    Some(parsed)
}

/// Why a key file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    #[error("key file {}: cannot read: {error}", path.display())]
    Read { path: PathBuf, error: String },
    #[error(
        "key file {} has mode {mode:04o}: group or others may read or write it; \
         run `chmod 600 {}` (and make it owned by the user rampart runs as)",
        path.display(), path.display()
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("key file {}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Why an authenticated sentence was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("a keyed device's sentence carries no `m=` tag")]
    MissingMac,
    #[error("the `m=` tag does not match the device's key")]
    BadMac,
}

impl AuthError {
    /// The stable counter name (`rejected.<reason>`).
    pub fn reason(self) -> &'static str {
        match self {
            AuthError::MissingMac => "missing_mac",
            AuthError::BadMac => "bad_mac",
        }
    }
}

/// Checks the tag of `line`, a raw received line that parsed as a sentence
/// carrying `tag`, against `key`. The tag covers the bytes after `$` up to
/// the last `,m=`; the comparison takes the same time wherever it differs.
pub fn verify(key: &Key, line: &[u8], tag: Option<&[u8; TAG_LEN]>) -> Result<(), AuthError> {
    let tag = tag.ok_or(AuthError::MissingMac)?;
    let end = find_last(line, b",m=").ok_or(AuthError::MissingMac)?;
    let covered = line.get(1..end).ok_or(AuthError::BadMac)?;
    let mut mac = key.mac();
    mac.update(covered);
    mac.verify_truncated_left(tag)
        .map_err(|_| AuthError::BadMac)
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// Signs `sentence` with `key`: sets its `mac` to the tag of its wire form
/// without one. [`Sentence::encode`] then writes `m=`.
pub fn sign(sentence: &mut Sentence, key: &Key) {
    sentence.mac = None;
    let line = sentence.encode();
    let end = line.rfind('*').unwrap_or(line.len());
    sentence.mac = Some(key.tag(&line.as_bytes()[1..end]));
}

#[cfg(test)]
mod tests;
