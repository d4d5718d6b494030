//! Secrets from outside the config file: a password read from a file only
//! its owner may read, or from an environment variable. A [`Secret`] never
//! shows itself in `Debug` output or logs, and is wiped from memory when
//! dropped.

use std::path::Path;

/// A secret string; `Debug` prints `Secret(<redacted>)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// No secret (an account without a password).
    pub fn empty() -> Self {
        Secret(String::new())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The largest secret file read.
const MAX_SECRET_FILE: u64 = 4096;

/// The first line of `path`, refusing a file group or others may access
/// (or one that is not a regular file).
pub fn from_file(path: &Path) -> Result<Secret, String> {
    let cannot_read =
        |e: std::io::Error| format!("password file {}: cannot read: {e}", path.display());
    let file =
        crate::capped::open(path, crate::capped::Accept::RegularFile).map_err(cannot_read)?;
    if let Some(mode) = file.shared_mode() {
        return Err(format!(
            "password file {} has mode {mode:04o}: group or others may read or write it; run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    let mut text = file.read_to_string(MAX_SECRET_FILE).map_err(cannot_read)?;
    let secret = first_line(&text);
    zeroize::Zeroize::zeroize(&mut text);
    secret.ok_or_else(|| format!("password file {} is empty", path.display()))
}

/// The value of environment variable `name`.
pub fn from_env(name: &str) -> Result<Secret, String> {
    let value = std::env::var(name)
        .map_err(|_| format!("environment variable {name} is not set (or not UTF-8)"))?;
    first_line(&value).ok_or_else(|| format!("environment variable {name} is empty"))
}

fn first_line(text: &str) -> Option<Secret> {
    let line = text.lines().next()?.trim_end_matches('\r');
    (!line.is_empty()).then(|| Secret(line.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_password_file_must_be_private_and_its_first_line_is_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret-Value\nignored\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = from_file(&path).unwrap_err();
        assert!(
            err.contains("chmod 600") && !err.contains("s3cret"),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let secret = from_file(&path).unwrap();
        assert_eq!(secret.expose(), "s3cret-Value");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        std::fs::write(&path, "\n").unwrap();
        assert!(from_file(&path).unwrap_err().contains("empty"));
    }

    #[test]
    fn a_password_file_that_is_a_fifo_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        crate::testkit::mkfifo(&path);
        let shown = path.display().to_string();
        let err = crate::testkit::finishes_within("reading a FIFO password file", move || {
            from_file(&path)
        })
        .unwrap_err();
        assert_eq!(
            err,
            format!("password file {shown}: cannot read: it is a FIFO, not a regular file")
        );
    }

    #[test]
    fn a_missing_environment_variable_is_named() {
        let err = from_env("RAMPART_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert!(err.contains("RAMPART_TEST_SURELY_UNSET_VARIABLE"), "{err}");
    }
}
