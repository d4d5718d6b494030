//! Opens and reads the files an operator names: the config, the wall, the
//! key file, the password file, TLS PEM files, scenarios and recordings.
//! Every one of them is opened here, so two mistakes are caught in one
//! place:
//!
//! - **Not a regular file.** A FIFO makes `open()` wait for a writer that
//!   never comes; a directory, a device or a socket is never a config. The
//!   path is opened without waiting (`O_NONBLOCK`, and `O_NOCTTY` so a tty
//!   named by mistake cannot become the daemon's controlling terminal) and
//!   the type is read from the opened descriptor (`fstat`, so nothing can
//!   swap the file between the check and the read). Anything but a regular
//!   file fails at once, saying what it is: `it is a FIFO, not a regular
//!   file`. Symlinks are followed, so a link to a regular file is fine.
//!   Recordings alone may also be pipes ([`Accept::RegularFileOrPipe`]).
//! - **Too large.** A wrong path (`/dev/zero` behind a link, a log, a disk
//!   image) must not make the daemon read and allocate without end: past
//!   the cap the read stops and fails with [`io::ErrorKind::FileTooLarge`].

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// What a caller takes besides a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    /// Regular files only: everything read whole (config, wall, keys,
    /// password, PEM, scenario).
    RegularFile,
    /// Regular files, FIFOs and pipes (`<(zstd -dc rec.zst)`): for
    /// recordings, read once, front to back, a record at a time. A FIFO
    /// waits for its writer, as any program reading a pipe does.
    RegularFileOrPipe,
}

/// A file opened by [`open`]: of an accepted type, in blocking mode.
#[derive(Debug)]
pub(crate) struct Opened {
    file: File,
    metadata: Metadata,
}

impl Opened {
    /// The file's permission bits if group or others may access it (a file
    /// holding secrets must be mode 0600 or stricter), `None` if it is
    /// private. Read from the opened descriptor: the bits of the file that
    /// will be read.
    pub(crate) fn shared_mode(&self) -> Option<u32> {
        let mode = self.metadata.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }

    /// All of the file's bytes, or an error if it is over `max` bytes.
    /// Never holds more than `max + 1` bytes of it.
    pub(crate) fn read(self, max: u64) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.file.take(max + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > max {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("the file is over the limit of {max} bytes"),
            ));
        }
        Ok(bytes)
    }

    /// All of the file as UTF-8 text, or an error if it is over `max`
    /// bytes or not UTF-8.
    pub(crate) fn read_to_string(self, max: u64) -> io::Result<String> {
        String::from_utf8(self.read(max)?).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            )
        })
    }

    /// The open file, to read as a stream.
    pub(crate) fn into_file(self) -> File {
        self.file
    }
}

/// Opens `path` for reading without blocking, following symlinks, and
/// refuses it at once unless it is a regular file (or, with
/// [`Accept::RegularFileOrPipe`], a FIFO or pipe). The error says what the
/// file is (`it is a directory, not a regular file`); the caller names
/// the file.
pub(crate) fn open(path: &Path, accept: Accept) -> io::Result<Opened> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|error| explain_open_error(path, error, accept))?;
    let metadata = file.metadata()?;
    let file_type = metadata.file_type();
    if file_type.is_file() {
        set_blocking(&file)?;
        return Ok(Opened { file, metadata });
    }
    if file_type.is_fifo() && accept == Accept::RegularFileOrPipe {
        // Read now, a FIFO whose writer has not come yet would look empty
        // (no writer, end of file): wait until it holds data or a writer
        // has come and gone, then read it like any pipe.
        wait_until_readable(&file)?;
        set_blocking(&file)?;
        return Ok(Opened { file, metadata });
    }
    Err(not_accepted(&metadata, accept))
}

/// The file's bytes, or an error if it is not a regular file or is over
/// `max` bytes. Never holds more than `max + 1` bytes of it.
pub(crate) fn read(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    open(path, Accept::RegularFile)?.read(max)
}

/// The file as UTF-8 text, or an error if it is not a regular file, is over
/// `max` bytes or is not UTF-8.
pub(crate) fn read_to_string(path: &Path, max: u64) -> io::Result<String> {
    open(path, Accept::RegularFile)?.read_to_string(max)
}

/// What a file of `metadata`'s type is, in words, or `None` for a regular
/// file.
fn kind(metadata: &Metadata) -> Option<&'static str> {
    let t = metadata.file_type();
    Some(if t.is_file() {
        return None;
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "of an unknown type"
    })
}

fn not_accepted(metadata: &Metadata, accept: Accept) -> io::Error {
    let what = kind(metadata).unwrap_or("a regular file");
    let wanted = match accept {
        Accept::RegularFile => "a regular file",
        Accept::RegularFileOrPipe => "a regular file or a pipe",
    };
    let error_kind = if metadata.is_dir() {
        io::ErrorKind::IsADirectory
    } else {
        io::ErrorKind::InvalidInput
    };
    io::Error::new(error_kind, format!("it is {what}, not {wanted}"))
}

/// Some files cannot even be opened for what they are (a Unix socket gives
/// ENXIO, a device without a driver ENODEV): say what they are instead.
/// The path is looked at again only to explain an open that failed.
fn explain_open_error(path: &Path, error: io::Error, accept: Accept) -> io::Error {
    match std::fs::metadata(path) {
        Ok(metadata) if kind(&metadata).is_some() => not_accepted(&metadata, accept),
        _ => error,
    }
}

/// Waits until `file` (a FIFO opened without waiting) has data to read or
/// has lost the writer it had: Linux reports no hang-up to such a reader
/// before a first writer came.
fn wait_until_readable(file: &File) -> io::Result<()> {
    let mut poll = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one pollfd, borrowed for the call, on a descriptor `file`
        // keeps open.
        if unsafe { libc::poll(&mut poll, 1, -1) } >= 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Clears `O_NONBLOCK`, which was only there for the open.
fn set_blocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function borrows, open for its
    // duration; F_GETFL and F_SETFL touch no memory of ours.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{finishes_within, mkfifo};

    #[test]
    fn a_file_at_the_cap_is_read_and_one_byte_over_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").expect("write");
        assert_eq!(read_to_string(&path, 10).expect("at the cap"), "0123456789");
        let err = read(&path, 9).expect_err("over the cap");
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert!(err.to_string().contains("limit of 9 bytes"), "{err}");
        std::fs::write(&path, b"\xff\xfe").expect("write");
        let err = read_to_string(&path, 10).expect_err("not UTF-8");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_fifo_is_refused_at_once_and_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("config.toml");
        mkfifo(&fifo);
        // No writer ever comes: a blocking open would never return.
        let err = finishes_within("reading a FIFO", move || read(&fifo, 4096))
            .expect_err("a FIFO is not a regular file");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(err.to_string(), "it is a FIFO, not a regular file");
    }

    #[test]
    fn a_directory_is_refused_and_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = read_to_string(dir.path(), 4096).expect_err("a directory");
        assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
        assert_eq!(err.to_string(), "it is a directory, not a regular file");
    }

    #[test]
    fn a_character_device_is_refused_before_any_read() {
        let err = read(Path::new("/dev/zero"), 4096).expect_err("/dev/zero");
        assert_eq!(
            err.to_string(),
            "it is a character device, not a regular file"
        );
        // Behind a symlink, as a mistaken `wall = ...` link would be.
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("wall.geojson");
        std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
        let err = read(&link, 4096).expect_err("a link to /dev/zero");
        assert_eq!(
            err.to_string(),
            "it is a character device, not a regular file"
        );
    }

    #[test]
    fn a_unix_socket_is_refused_and_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys.toml");
        let _listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let err = finishes_within("reading a socket", move || read(&path, 4096))
            .expect_err("a socket is not a regular file");
        assert_eq!(err.to_string(), "it is a socket, not a regular file");
    }

    #[test]
    fn a_symlink_to_a_regular_file_is_read_and_missing_files_keep_their_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("real.toml");
        std::fs::write(&target, "wall = \"w\"\n").expect("write");
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert_eq!(
            read_to_string(&link, 4096).expect("via the link"),
            "wall = \"w\"\n"
        );
        let err = read(&dir.path().join("missing"), 4096).expect_err("missing");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        // The file opened is left blocking: a normal descriptor.
        let opened = open(&link, Accept::RegularFile).expect("open");
        // SAFETY: F_GETFL on a descriptor owned by `opened`.
        let flags = unsafe { libc::fcntl(opened.file.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0);
    }

    #[test]
    fn the_mode_is_that_of_the_opened_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        std::fs::write(&path, "x").expect("write");
        for (mode, shared) in [(0o640, Some(0o640)), (0o604, Some(0o604)), (0o600, None)] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let opened = open(&path, Accept::RegularFile).expect("open");
            assert_eq!(opened.shared_mode(), shared, "{mode:o}");
        }
    }

    /// All of `path`, opened as a recording is, within a bounded time.
    fn read_stream(path: &Path) -> io::Result<Vec<u8>> {
        let path = path.to_owned();
        finishes_within("reading a FIFO", move || {
            let mut bytes = Vec::new();
            open(&path, Accept::RegularFileOrPipe)?
                .into_file()
                .read_to_end(&mut bytes)
                .map(|_| bytes)
        })
    }

    #[test]
    fn recordings_may_be_pipes_but_not_directories_or_devices() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("rec.rrec");
        mkfifo(&fifo);
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, b"RAMPREC recorded bytes"))
        };
        let bytes = read_stream(&fifo).expect("a FIFO with a writer is read");
        assert_eq!(bytes, b"RAMPREC recorded bytes");
        writer.join().expect("writer").expect("write into the FIFO");

        // A writer that comes and goes without writing: an empty stream,
        // not a wait for ever.
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || File::options().write(true).open(fifo).map(drop))
        };
        let bytes = read_stream(&fifo).expect("an empty FIFO is read");
        assert!(bytes.is_empty(), "{bytes:?}");
        writer
            .join()
            .expect("writer")
            .expect("open the FIFO to write");

        let err = open(dir.path(), Accept::RegularFileOrPipe).expect_err("a directory");
        assert_eq!(
            err.to_string(),
            "it is a directory, not a regular file or a pipe"
        );
        let err = open(Path::new("/dev/zero"), Accept::RegularFileOrPipe).expect_err("a device");
        assert_eq!(
            err.to_string(),
            "it is a character device, not a regular file or a pipe"
        );
    }
}
