//! Reads whole files with a size cap. Config and wall files come from the
//! operator, but a wrong path (`/dev/zero`, a log, a disk image) must not
//! make the daemon read and allocate without end: past the cap the read
//! stops and fails with [`io::ErrorKind::FileTooLarge`].

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The file's bytes, or an error if it is over `max` bytes. Never holds
/// more than `max + 1` bytes of it.
pub(crate) fn read(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("the file is over the limit of {max} bytes"),
        ));
    }
    Ok(bytes)
}

/// The file as UTF-8 text, or an error if it is over `max` bytes or not
/// UTF-8.
pub(crate) fn read_to_string(path: &Path, max: u64) -> io::Result<String> {
    String::from_utf8(read(path, max)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[cfg(unix)]
    #[test]
    fn an_endless_file_is_refused_after_the_cap() {
        let err = read(Path::new("/dev/zero"), 4096).expect_err("/dev/zero is endless");
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
    }
}
