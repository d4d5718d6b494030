//! Cuts a byte stream (a serial line, an MQTT payload) into sentence lines.
//!
//! A line ends at `\n`. A line longer than [`MAX_LINE_LEN`] bytes is
//! discarded up to its `\n` and reported once as [`FramerEvent::TooLong`];
//! the framer never buffers more than that many bytes, whatever it is fed.

use super::MAX_LINE_LEN;

/// What the framer found in the bytes it was given.
#[derive(Debug, PartialEq, Eq)]
pub enum FramerEvent<'a> {
    /// A complete line, without its `\n` (a `\r` before it is kept; the
    /// parser strips it).
    Line(&'a [u8]),
    /// An over-long line was discarded.
    TooLong,
}

/// Incremental line splitter with a bounded buffer.
#[derive(Debug, Default)]
pub struct LineFramer {
    buf: Vec<u8>,
    /// True while skipping the rest of an over-long line.
    discarding: bool,
}

impl LineFramer {
    /// A framer with an empty buffer.
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(MAX_LINE_LEN),
            discarding: false,
        }
    }

    /// Feeds bytes; calls `on_event` for every complete line or discarded
    /// over-long line, in order. Incomplete trailing bytes are kept for the
    /// next call.
    pub fn push(&mut self, mut bytes: &[u8], mut on_event: impl FnMut(FramerEvent<'_>)) {
        while !bytes.is_empty() {
            let newline = bytes.iter().position(|&b| b == b'\n');
            let (chunk, ends_line) = match newline {
                Some(i) => (&bytes[..i], true),
                None => (bytes, false),
            };
            bytes = match newline {
                Some(i) => &bytes[i + 1..],
                None => &[],
            };
            if self.discarding {
                if ends_line {
                    self.discarding = false;
                }
                continue;
            }
            // The line including its `\n` may be at most MAX_LINE_LEN bytes.
            if self.buf.len() + chunk.len() + usize::from(ends_line) > MAX_LINE_LEN {
                self.buf.clear();
                self.discarding = !ends_line;
                on_event(FramerEvent::TooLong);
                continue;
            }
            if ends_line {
                if self.buf.is_empty() {
                    on_event(FramerEvent::Line(chunk));
                } else {
                    self.buf.extend_from_slice(chunk);
                    on_event(FramerEvent::Line(&self.buf));
                    self.buf.clear();
                }
            } else {
                self.buf.extend_from_slice(chunk);
            }
        }
    }

    /// Takes whatever partial line is buffered (for example the last line of
    /// an MQTT message that lacks its `\n`), leaving the framer empty.
    pub fn finish(&mut self, on_event: impl FnOnce(FramerEvent<'_>)) {
        let discarding = std::mem::take(&mut self.discarding);
        if !discarding && !self.buf.is_empty() {
            on_event(FramerEvent::Line(&self.buf));
        }
        self.buf.clear();
    }

    /// Drops any partial line (after a read error, say).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.discarding = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(framer: &mut LineFramer, bytes: &[u8]) -> Vec<Result<Vec<u8>, ()>> {
        let mut out = Vec::new();
        framer.push(bytes, |e| match e {
            FramerEvent::Line(l) => out.push(Ok(l.to_vec())),
            FramerEvent::TooLong => out.push(Err(())),
        });
        out
    }

    #[test]
    fn splits_lines_across_pushes() {
        let mut f = LineFramer::new();
        assert!(collect(&mut f, b"$RPHB,a,1").is_empty());
        let got = collect(&mut f, b",1,OK*00\r\n$RPTP\n");
        assert_eq!(
            got,
            vec![Ok(b"$RPHB,a,1,1,OK*00\r".to_vec()), Ok(b"$RPTP".to_vec())]
        );
    }

    #[test]
    fn discards_over_long_line_once_and_recovers() {
        let mut f = LineFramer::new();
        let long = vec![b'x'; 500];
        let mut got = collect(&mut f, &long);
        got.extend(collect(&mut f, &long));
        got.extend(collect(&mut f, b"tail\nok\n"));
        assert_eq!(got, vec![Err(()), Ok(b"ok".to_vec())]);
    }

    #[test]
    fn line_of_exactly_max_len_is_kept() {
        let mut f = LineFramer::new();
        let mut line = vec![b'a'; MAX_LINE_LEN - 2];
        line.extend_from_slice(b"\r\n");
        assert_eq!(collect(&mut f, &line).len(), 1);
        assert!(collect(&mut f, &line)[0].is_ok());
        let mut longer = vec![b'a'; MAX_LINE_LEN - 1];
        longer.extend_from_slice(b"\r\n");
        assert_eq!(collect(&mut f, &longer), vec![Err(())]);
    }

    #[test]
    fn finish_returns_unterminated_tail() {
        let mut f = LineFramer::new();
        assert!(collect(&mut f, b"abc").is_empty());
        let mut tail = None;
        f.finish(|e| tail = Some(format!("{e:?}")));
        assert_eq!(tail.as_deref(), Some("Line([97, 98, 99])"));
    }
}
