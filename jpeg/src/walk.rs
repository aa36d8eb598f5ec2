//! The segment walker: markers, segment lengths, fill bytes, stand-alone
//! markers and where the entropy-coded data of a scan ends.

use std::ops::Range;

use crate::error::{JpegError, corrupt, malformed, truncated};
use crate::frame::FrameHeader;
use crate::marker::{EOI, RST0, RST7, SOI, SOS, TEM, is_sof};

/// True when `prefix` starts with a start-of-image marker followed by
/// another marker (`FF D8 FF`). Works on the first three bytes of an upload;
/// shorter input is never a JPEG.
pub fn is_jpeg_magic(prefix: &[u8]) -> bool {
    prefix.starts_with(&[0xFF, SOI, 0xFF])
}

/// One marker segment as the [`Walker`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The marker code (the byte after `FF`), see [`marker`](crate::marker).
    pub marker: u8,
    /// Offset of the `FF` right before the marker code (fill bytes before it
    /// are not part of the segment).
    pub start: usize,
    /// The payload after the two length bytes; empty (`end..end`) for the
    /// stand-alone markers EOI, TEM and RST0..RST7. For SOS only the scan
    /// header.
    pub payload: Range<usize>,
    /// Offset just past the segment. From the [`Walker`] that is the end of
    /// the payload; in a [`Layout`] a scan's SOS segment ends after its
    /// entropy-coded data.
    pub end: usize,
}

impl Segment {
    /// The payload bytes (see [`Segment::payload`]) of this segment of `bytes`.
    pub fn payload<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        bytes.get(self.payload.clone()).unwrap_or_default()
    }

    /// The whole segment, from its `FF` to [`Segment::end`].
    pub fn bytes<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        bytes.get(self.start..self.end).unwrap_or_default()
    }
}

/// What the [`Walker`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A marker segment, or a stand-alone marker. The walk ends after EOI.
    Segment(Segment),
    /// The entropy-coded data of the scan whose SOS segment came just
    /// before: restart markers included, up to the first `FF` of the marker
    /// that ends the scan.
    ScanData(Range<usize>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Markers,
    ScanData,
    Done,
}

/// Walks a JPEG's markers from after SOI, one [`Piece`] at a time, checking
/// every length against the input: the one walker behind everything in this
/// crate.
///
/// - Any number of `FF` fill bytes may precede a marker.
/// - EOI, TEM and RST0..RST7 stand alone (no length); they are reported as
///   they come, so a restart marker outside scan data is the caller's to
///   refuse (or not).
/// - After a SOS segment the next piece is the scan's entropy-coded data,
///   which ends at the first `FF` that is neither a stuffed zero (`FF 00`)
///   nor a restart marker (`FF D0`..`FF D7`, fill bytes allowed before it).
///   It is only searched for when the walk goes on, so a caller that stops
///   at a scan header never reads the scan.
/// - The walk ends after EOI (bytes after it are not looked at), or with the
///   first error: `Truncated` when the input ends before EOI, `Malformed` for
///   a bad length, garbage where a marker belongs, a stuffed zero outside a
///   scan or a second SOI, `Corrupt` for fill bytes before a stuffed zero
///   inside scan data.
#[derive(Debug, Clone)]
pub struct Walker<'a> {
    bytes: &'a [u8],
    pos: usize,
    state: State,
}

impl<'a> Walker<'a> {
    /// A walk over `bytes`; fails with [`JpegError::NotJpeg`] unless they
    /// start with `FF D8 FF` ([`is_jpeg_magic`]).
    pub fn new(bytes: &'a [u8]) -> Result<Self, JpegError> {
        if !is_jpeg_magic(bytes) {
            return Err(JpegError::NotJpeg);
        }
        Ok(Walker {
            bytes,
            pos: 2,
            state: State::Markers,
        })
    }

    /// The offset the next piece starts at (for a marker: its first fill
    /// byte, if any).
    pub fn position(&self) -> usize {
        self.pos
    }

    fn segment(&mut self) -> Result<Segment, JpegError> {
        let bytes = self.bytes;
        let pos = self.pos;
        match bytes.get(pos) {
            Some(0xFF) => {}
            Some(other) => {
                return Err(malformed(format!(
                    "expected a marker at offset {pos}, found byte 0x{other:02X}"
                )));
            }
            None => return Err(truncated(format!("missing marker at offset {pos}"))),
        }
        let mut i = pos + 1;
        while bytes.get(i) == Some(&0xFF) {
            i += 1;
        }
        let marker = match bytes.get(i) {
            None => {
                return Err(truncated(format!(
                    "file ends inside the marker at offset {pos}"
                )));
            }
            Some(0x00) => {
                return Err(malformed(format!(
                    "stuffed zero byte outside scan data at offset {pos}"
                )));
            }
            Some(&marker) => marker,
        };
        let start = i - 1;
        let after = i + 1;
        match marker {
            SOI => Err(malformed(format!(
                "second start-of-image marker at offset {pos}"
            ))),
            EOI | TEM | RST0..=RST7 => {
                self.pos = after;
                Ok(Segment {
                    marker,
                    start,
                    payload: after..after,
                    end: after,
                })
            }
            _ => {
                let payload = segment_payload(bytes, after, marker)?;
                self.pos = payload.end;
                if marker == SOS {
                    self.state = State::ScanData;
                }
                Ok(Segment {
                    marker,
                    start,
                    end: payload.end,
                    payload,
                })
            }
        }
    }
}

impl Iterator for Walker<'_> {
    type Item = Result<Piece, JpegError>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = match self.state {
            State::Done => return None,
            State::Markers => self.segment().map(Piece::Segment),
            State::ScanData => {
                let from = self.pos;
                scan_entropy_coded(self.bytes, from, |_, _, _| Ok(())).map(|end| {
                    self.pos = end;
                    self.state = State::Markers;
                    Piece::ScanData(from..end)
                })
            }
        };
        match &result {
            Err(_) => self.state = State::Done,
            Ok(Piece::Segment(s)) if s.marker == EOI => self.state = State::Done,
            Ok(_) => {}
        }
        Some(result)
    }
}

/// Reads the two-byte length at `pos` and returns the range of the segment's
/// payload (the bytes after the length field).
fn segment_payload(bytes: &[u8], pos: usize, marker: u8) -> Result<Range<usize>, JpegError> {
    let len = match bytes.get(pos..pos + 2) {
        Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])),
        _ => {
            return Err(truncated(format!(
                "file ends inside the length of segment 0xFF{marker:02X} at offset {pos}"
            )));
        }
    };
    if len < 2 {
        return Err(malformed(format!(
            "segment 0xFF{marker:02X} at offset {pos} has invalid length {len}"
        )));
    }
    let end = pos + len;
    if end > bytes.len() {
        return Err(truncated(format!(
            "segment 0xFF{marker:02X} at offset {pos} needs {len} bytes, only {} left",
            bytes.len() - pos
        )));
    }
    Ok(pos + 2..end)
}

fn scan_runs_off_the_end() -> JpegError {
    truncated("scan data runs to the end of the file (no end-of-image marker)")
}

/// Walks the entropy-coded data starting at `from` and returns the offset of
/// the marker that ends it (its first `FF`). For every restart marker on the
/// way it calls `on_restart(offset of its first FF, offset after it, n)` for
/// RSTn.
fn scan_entropy_coded(
    bytes: &[u8],
    from: usize,
    mut on_restart: impl FnMut(usize, usize, u8) -> Result<(), JpegError>,
) -> Result<usize, JpegError> {
    let mut i = from;
    loop {
        let Some(offset) = bytes
            .get(i..)
            .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
        else {
            return Err(scan_runs_off_the_end());
        };
        i += offset;
        match bytes.get(i + 1) {
            None => return Err(scan_runs_off_the_end()),
            Some(0x00) => {
                i += 2;
                continue;
            }
            Some(_) => {}
        }
        let mut j = i + 1;
        while bytes.get(j) == Some(&0xFF) {
            j += 1;
        }
        let Some(&marker) = bytes.get(j) else {
            return Err(scan_runs_off_the_end());
        };
        match marker {
            0x00 => {
                return Err(corrupt(format!(
                    "fill bytes before a stuffed zero in scan data at offset {i}"
                )));
            }
            RST0..=RST7 => {
                on_restart(i, j + 1, marker - RST0)?;
                i = j + 1;
            }
            _ => return Ok(i),
        }
    }
}

/// Splits the entropy-coded data starting at `from` at its restart markers,
/// which must count RST0, RST1, ..., RST7, RST0, ... Returns the ranges
/// between them and the offset of the marker that ends the scan (its first
/// `FF`).
pub(crate) fn split_scan(
    bytes: &[u8],
    from: usize,
) -> Result<(Vec<Range<usize>>, usize), JpegError> {
    let mut intervals = Vec::new();
    let mut interval_start = from;
    let mut next_restart: u8 = 0;
    let end = scan_entropy_coded(bytes, from, |at, after, n| {
        if n != next_restart {
            return Err(corrupt(format!(
                "restart marker RST{n} at offset {at}, expected RST{next_restart}"
            )));
        }
        next_restart = (next_restart + 1) & 7;
        intervals.push(interval_start..at);
        interval_start = after;
        Ok(())
    })?;
    intervals.push(interval_start..end);
    Ok((intervals, end))
}

/// The structure of a whole JPEG, from SOI to EOI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Every segment between SOI and EOI, in order (SOI and EOI excluded).
    /// A SOS segment's [`Segment::end`] is the end of its entropy-coded data.
    pub segments: Vec<Segment>,
    /// Offset just past the `FF D9` end-of-image marker; bytes after it are
    /// not part of the image.
    pub eoi_end: usize,
}

impl Layout {
    /// Walks `bytes` from SOI to EOI (see [`Walker`] for what is checked).
    /// Fails on non-JPEG input and on truncated files (no EOI).
    pub fn walk(bytes: &[u8]) -> Result<Layout, JpegError> {
        let mut segments: Vec<Segment> = Vec::new();
        for piece in Walker::new(bytes)? {
            match piece? {
                Piece::Segment(s) if s.marker == EOI => {
                    return Ok(Layout {
                        segments,
                        eoi_end: s.end,
                    });
                }
                Piece::Segment(s) => segments.push(s),
                Piece::ScanData(data) => {
                    if let Some(sos) = segments.last_mut() {
                        sos.end = data.end;
                    }
                }
            }
        }
        // The walker only stops early with an error, which returned above.
        Err(truncated("no end-of-image marker"))
    }

    /// The parsed frame header: the first SOFn segment, which must come
    /// before the first scan ([`JpegError::NoFrameHeader`] otherwise).
    pub fn frame_header(&self, bytes: &[u8]) -> Result<FrameHeader, JpegError> {
        let sof = self
            .segments
            .iter()
            .take_while(|s| s.marker != SOS)
            .find(|s| is_sof(s.marker))
            .ok_or(JpegError::NoFrameHeader)?;
        FrameHeader::parse(sof.marker, sof.payload(bytes))
    }
}

/// Width and height from the frame header, without decoding any pixels.
/// Walks the whole file to its end-of-image marker ([`Layout::walk`]), so a
/// truncated file is refused.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), JpegError> {
    let layout = Layout::walk(bytes)?;
    let header = layout.frame_header(bytes)?;
    Ok((header.width, header.height))
}
