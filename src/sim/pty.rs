//! Pseudo-terminal pairs standing in for serial cables: the simulator writes
//! to the master side, the daemon opens the slave side through a symlink
//! with a stable name. Dropping a [`Pty`] unplugs the cable (the daemon's
//! reads fail and the link disappears); opening another at the same link
//! plugs it back in.

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One pseudo-terminal whose slave is linked at `link`.
pub struct Pty {
    master: File,
    link: PathBuf,
    /// Bytes not written because the line was full (nobody reading).
    pub dropped: u64,
}

impl Pty {
    /// Opens a pair in raw mode and points `link` at its slave device.
    pub fn open(link: &Path) -> io::Result<Self> {
        // Close-on-exec: a child process (a daemon under test) that
        // inherited the master would keep the line up after an unplug.
        let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC;
        // SAFETY: plain libc calls on a descriptor we own; every result is checked.
        let fd = unsafe { libc::posix_openpt(flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let master = unsafe { File::from_raw_fd(fd) };
        // SAFETY: as above.
        if unsafe { libc::grantpt(fd) } != 0 || unsafe { libc::unlockpt(fd) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut name = [0 as libc::c_char; 128];
        // SAFETY: the buffer is as long as we say.
        if unsafe { libc::ptsname_r(fd, name.as_mut_ptr(), name.len()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: ptsname_r wrote a NUL-terminated string into the buffer.
        let slave = PathBuf::from(
            unsafe { CStr::from_ptr(name.as_ptr()) }
                .to_string_lossy()
                .into_owned(),
        );
        make_raw(fd)?;
        if let Some(dir) = link.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(&slave, link)?;
        Ok(Self {
            master,
            link: link.to_owned(),
            dropped: 0,
        })
    }

    /// The stable path the daemon opens.
    pub fn link(&self) -> &Path {
        &self.link
    }

    /// Writes bytes like a UART does: what does not fit is lost (counted).
    pub fn send(&mut self, bytes: &[u8]) {
        match self.master.write(bytes) {
            Ok(n) => self.dropped += (bytes.len() - n) as u64,
            Err(_) => self.dropped += bytes.len() as u64,
        }
    }

    /// Writes all of `bytes`, waiting while the line is full as a UART
    /// with flow control would, for at most `within` in all (then
    /// `TimedOut`, with what did not fit counted as dropped).
    pub fn send_all(&mut self, mut bytes: &[u8], within: Duration) -> io::Result<()> {
        let deadline = Instant::now() + within;
        while !bytes.is_empty() {
            match self.master.write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        self.dropped += bytes.len() as u64;
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                    let mut ready = libc::pollfd {
                        fd: self.master.as_raw_fd(),
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    let ms =
                        libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
                    // SAFETY: one valid pollfd for a descriptor we own.
                    unsafe { libc::poll(&mut ready, 1, ms) };
                }
                Err(e) => {
                    self.dropped += bytes.len() as u64;
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.link);
    }
}

fn make_raw(fd: std::os::fd::RawFd) -> io::Result<()> {
    // SAFETY: termios is plain data; tcgetattr fills it before use.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return Err(io::Error::last_os_error());
        }
        libc::cfmakeraw(&mut t);
        if libc::tcsetattr(fd, libc::TCSANOW, &t) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl AsRawFd for Pty {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.master.as_raw_fd()
    }
}
