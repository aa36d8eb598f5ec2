//! kring-jpeg: what a JPEG file *is*, byte by byte, for the device and the
//! server alike.
//!
//! What it is:
//!
//! - the [`marker`] codes and the one segment [`Walker`]: markers, segment
//!   lengths, fill bytes, stand-alone markers, where a scan's entropy-coded
//!   data ends; [`Layout`] is a whole walk from SOI to EOI;
//! - the one frame-header parse, [`FrameHeader`]: size, components,
//!   sampling factors, coding process, with the checks both sides need;
//!   [`dimensions`] without decoding;
//! - [`read_header`]: size and EXIF orientation ([`exif_orientation`]) from
//!   the headers before the first scan, without reading image data;
//! - [`strip_metadata`]: lossless removal of EXIF, XMP, ICC, comments,
//!   thumbnails and trailing data (segments are copied or dropped, never
//!   rewritten), as the device does before storing a photo;
//! - [`strip_and_validate`]: the server's strict path, which Huffman-decodes
//!   every scan (symbols only) to prove it holds exactly the blocks the
//!   frame promises, and keeps only what decoding needs;
//! - [`normalize_mjpeg_frame`]: a camera's Motion-JPEG buffer as a
//!   standalone file (cut at EOI, standard Huffman tables inserted).
//!
//! What it is not: a decoder or encoder (no pixels, no DCT, no colour; the
//! device decodes with zune-jpeg and jpeg-decoder, the server with `image`),
//! a place for limits (file size, pixel count: the callers set those and
//! pass the few this crate applies, such as `max_scans`), or anything that
//! does IO or logs. Input is untrusted: every offset is checked and nothing
//! panics; memory stays proportional to the input, except that
//! [`strip_and_validate`] keeps one 64-bit mask per block of a progressive
//! frame (so bound the pixel count, e.g. with [`read_header`], first).
//!
//! Errors are one type, [`JpegError`], whose variants say what kind of fault
//! it is so each caller can map them onto its own error type.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod exif;
mod frame;
mod header;
pub mod marker;
mod mjpeg;
mod strip;
mod validate;
mod walk;

pub use error::JpegError;
pub use exif::exif_orientation;
pub use frame::{Coding, Component, FrameHeader};
pub use header::{HeaderInfo, read_header};
pub use mjpeg::{STANDARD_DHT_PAYLOAD, normalize_mjpeg_frame};
pub use strip::{Stripped, strip_metadata};
pub use validate::strip_and_validate;
pub use walk::{Layout, Piece, Segment, Walker, dimensions, is_jpeg_magic};

#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
#[cfg(test)]
mod tests;
