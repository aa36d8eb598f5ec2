//! Lossless metadata stripping: segments are dropped, never rewritten.

use crate::error::JpegError;
use crate::marker::{APP0, APP14, COM, EOI, SOI, is_app};
use crate::walk::{Layout, Segment};

/// A JPEG with its metadata removed, and what was removed.
#[derive(Clone, PartialEq, Eq)]
pub struct Stripped {
    /// The JPEG without metadata, from SOI to EOI.
    pub jpeg: Vec<u8>,
    /// How many segments (and stand-alone markers) were left out.
    pub dropped_segments: usize,
    /// How many bytes followed the end-of-image marker (all left out).
    pub trailing_bytes: usize,
}

impl std::fmt::Debug for Stripped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never dump image bytes into logs.
        f.debug_struct("Stripped")
            .field("jpeg_len", &self.jpeg.len())
            .field("dropped_segments", &self.dropped_segments)
            .field("trailing_bytes", &self.trailing_bytes)
            .finish()
    }
}

/// Removes metadata from a JPEG without touching the image: drops
/// APP1..APP15 segments (EXIF with GPS, XMP, ICC profiles, IPTC, maker
/// notes, ...) except an APP14 "Adobe" segment (it says how to interpret the
/// colours), APP0 segments other than JFIF and AVI1 (e.g. JFXX thumbnails),
/// COM comments and anything after the end-of-image marker. Every other
/// segment and the entropy-coded data are copied byte for byte, so the
/// result decodes to exactly the same pixels.
///
/// Checks the structure from SOI to EOI and the frame header
/// ([`Layout::walk`], [`Layout::frame_header`]) but not the scan data; fails
/// on input that is not a complete JPEG (it never passes bytes through
/// unchecked). See [`strip_and_validate`](crate::strip_and_validate) for the
/// strict variant.
pub fn strip_metadata(jpeg: &[u8]) -> Result<Stripped, JpegError> {
    let layout = Layout::walk(jpeg)?;
    layout.frame_header(jpeg)?;
    let mut out = Vec::with_capacity(layout.eoi_end);
    out.extend_from_slice(&[0xFF, SOI]);
    let mut dropped_segments = 0usize;
    for segment in &layout.segments {
        if keep_segment(jpeg, segment) {
            out.extend_from_slice(segment.bytes(jpeg));
        } else {
            dropped_segments += 1;
        }
    }
    out.extend_from_slice(&[0xFF, EOI]);
    Ok(Stripped {
        jpeg: out,
        dropped_segments,
        trailing_bytes: jpeg.len().saturating_sub(layout.eoi_end),
    })
}

fn keep_segment(bytes: &[u8], segment: &Segment) -> bool {
    match segment.marker {
        APP0 => {
            let p = segment.payload(bytes);
            p.starts_with(b"JFIF\0") || p.starts_with(b"AVI1")
        }
        APP14 => segment.payload(bytes).starts_with(b"Adobe"),
        m if is_app(m) || m == COM => false,
        _ => true,
    }
}
