//! The headers before the first scan: frame size and EXIF orientation,
//! without reading any image data.

use crate::error::{JpegError, malformed, truncated};
use crate::exif::exif_orientation;
use crate::frame::FrameHeader;
use crate::marker::{APP1, EOI, RST0, RST7, SOS, is_sof};
use crate::walk::{Piece, Walker};

/// What [`read_header`] finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderInfo {
    /// The first frame header.
    pub frame: FrameHeader,
    /// The EXIF orientation (1..=8) of the first APP1 Exif segment before
    /// the frame header that has a valid one; `None` when there is none.
    pub orientation: Option<u8>,
}

/// Walks the marker segments up to the first SOFn and parses it, plus the
/// EXIF orientation from an APP1 segment before it. Reads no scan data and
/// does not need the rest of the file: cheap, and enough to refuse a small
/// file that declares a huge picture before anything is decoded.
///
/// Errors: `NotJpeg`; `Truncated` (the file ends inside a segment or before
/// any frame header); `Malformed` (bad segment length, garbage where a
/// marker belongs, a restart marker, a bad frame header); `NoFrameHeader`
/// (EOI or SOS before any SOFn); `Unsupported` (height 0, i.e. defined by a
/// DNL marker). Frame headers of every coding process are read.
pub fn read_header(bytes: &[u8]) -> Result<HeaderInfo, JpegError> {
    let mut walker = Walker::new(bytes)?;
    let mut orientation = None;
    loop {
        let pos = walker.position();
        if pos >= bytes.len() {
            return Err(truncated("the file ends before the frame header"));
        }
        let segment = match walker.next() {
            Some(Ok(Piece::Segment(segment))) => segment,
            Some(Err(e)) => return Err(e),
            // Only SOS is followed by scan data, and SOS ends this loop.
            Some(Ok(Piece::ScanData(_))) | None => return Err(JpegError::NoFrameHeader),
        };
        match segment.marker {
            EOI | SOS => return Err(JpegError::NoFrameHeader),
            RST0..=RST7 => {
                return Err(malformed(format!(
                    "restart marker outside scan data at offset {pos}"
                )));
            }
            m if is_sof(m) => {
                return Ok(HeaderInfo {
                    frame: FrameHeader::parse(m, segment.payload(bytes))?,
                    orientation,
                });
            }
            APP1 if orientation.is_none() => {
                orientation = exif_orientation(segment.payload(bytes));
            }
            _ => {}
        }
    }
}
