//! The crate's one error type.

/// Why a byte string is not a JPEG this crate accepts.
///
/// The variants say *what kind* of fault it is, so that callers can map them
/// onto their own errors (the server answers every one with 422, the device
/// skips the frame); the strings say where and what, for logs and users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JpegError {
    /// The bytes do not start with a start-of-image marker and another
    /// marker (`FF D8 FF`).
    #[error("not a JPEG file (it does not start with the FF D8 FF signature)")]
    NotJpeg,
    /// The bytes end inside a marker, a segment or the scan data, or before
    /// the end-of-image marker.
    #[error("JPEG file is truncated: {0}")]
    Truncated(String),
    /// The structure is broken: a bad segment length, garbage where a marker
    /// belongs, a frame, scan or Huffman table header that contradicts
    /// itself, ...
    #[error("malformed JPEG: {0}")]
    Malformed(String),
    /// A scan (SOS) or the end of the image (EOI) comes before any frame
    /// header (SOFn).
    #[error("JPEG has no frame header (SOFn marker) before its image data")]
    NoFrameHeader,
    /// Well formed, but something this crate (or its caller) does not handle:
    /// a height defined by a DNL marker, arithmetic coding, 12-bit samples, ...
    #[error("unsupported JPEG: {0}")]
    Unsupported(String),
    /// The entropy-coded scan data does not hold what the headers promise
    /// (invalid Huffman codes, missing or extra blocks, restart markers out
    /// of order). Only [`strip_and_validate`](crate::strip_and_validate)
    /// looks this deep.
    #[error("JPEG image data is corrupt: {0}")]
    Corrupt(String),
}

pub(crate) fn malformed(message: impl Into<String>) -> JpegError {
    JpegError::Malformed(message.into())
}

pub(crate) fn truncated(message: impl Into<String>) -> JpegError {
    JpegError::Truncated(message.into())
}

pub(crate) fn corrupt(message: impl Into<String>) -> JpegError {
    JpegError::Corrupt(message.into())
}
