//! The frame header (SOFn): size, components, sampling, coding process.

use crate::error::{JpegError, malformed};
use crate::marker::{SOF0, SOF1, SOF2};

/// The coding process a frame header's marker announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// SOF0 / SOF1: sequential DCT, Huffman coded (baseline and extended).
    Sequential,
    /// SOF2: progressive DCT, Huffman coded.
    Progressive,
    /// Any other SOFn: lossless, hierarchical, arithmetic coding.
    Other,
}

impl Coding {
    /// The coding process of frame marker `marker` (an SOFn).
    pub fn of_marker(marker: u8) -> Coding {
        match marker {
            SOF0 | SOF1 => Coding::Sequential,
            SOF2 => Coding::Progressive,
            _ => Coding::Other,
        }
    }
}

/// One colour component of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Component {
    /// Component identifier (scans refer to it).
    pub id: u8,
    /// Horizontal sampling factor, 1..=4.
    pub h: u8,
    /// Vertical sampling factor, 1..=4.
    pub v: u8,
    /// Quantisation table, 0..=3.
    pub tq: u8,
}

/// What a frame header (SOFn) says, checked: 1 to 4 components whose count
/// matches the segment length, sampling factors 1..=4, quantisation tables
/// 0..=3, no duplicate component ids, a width of at least 1 and a height of
/// at least 1 (a height of 0, defined later by a DNL marker, is
/// [`JpegError::Unsupported`]).
///
/// Precision and coding process are reported, not judged: which ones a
/// caller decodes is its business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The SOFn marker code.
    pub marker: u8,
    /// Sample precision in bits (8 for almost every JPEG, 12 exists).
    pub precision: u8,
    /// Width in pixels, 1..=65535.
    pub width: u32,
    /// Height in pixels, 1..=65535.
    pub height: u32,
    components: [Component; 4],
    component_count: u8,
}

impl FrameHeader {
    /// Parses the payload (after the length bytes) of SOFn segment `marker`.
    pub fn parse(marker: u8, payload: &[u8]) -> Result<FrameHeader, JpegError> {
        let (precision, height, width, count, rest) = match payload {
            [p, y0, y1, x0, x1, n, rest @ ..] => (
                *p,
                u16::from_be_bytes([*y0, *y1]),
                u16::from_be_bytes([*x0, *x1]),
                usize::from(*n),
                rest,
            ),
            _ => return Err(malformed("frame header is too short")),
        };
        if count == 0 || count > 4 {
            return Err(malformed(format!(
                "frame header declares {count} components (1 to 4 allowed)"
            )));
        }
        if rest.len() != 3 * count {
            return Err(malformed(format!(
                "frame header length does not match its {count} components"
            )));
        }
        if width == 0 {
            return Err(malformed("frame header declares width 0"));
        }
        if height == 0 {
            return Err(JpegError::Unsupported(
                "frame height 0 (height defined later by a DNL marker)".into(),
            ));
        }
        let mut components = [Component::default(); 4];
        for (i, chunk) in rest.chunks_exact(3).enumerate() {
            let &[id, hv, tq] = chunk else {
                return Err(malformed("frame header is too short"));
            };
            let (h, v) = (hv >> 4, hv & 0x0F);
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
                return Err(malformed(format!(
                    "component {id} has invalid sampling factors {h}x{v}"
                )));
            }
            if tq > 3 {
                return Err(malformed(format!(
                    "component {id} uses quantisation table {tq} (0 to 3 allowed)"
                )));
            }
            let (seen, slot) = components.split_at_mut(i);
            if seen.iter().any(|other| other.id == id) {
                return Err(malformed(format!("component id {id} appears twice")));
            }
            if let Some(slot) = slot.first_mut() {
                *slot = Component { id, h, v, tq };
            }
        }
        Ok(FrameHeader {
            marker,
            precision,
            width: u32::from(width),
            height: u32::from(height),
            components,
            component_count: u8::try_from(count).unwrap_or(4),
        })
    }

    /// The colour components, in frame order (1 to 4 of them).
    pub fn components(&self) -> &[Component] {
        let n = usize::from(self.component_count).min(self.components.len());
        &self.components[..n]
    }

    /// The coding process the frame marker announces.
    pub fn coding(&self) -> Coding {
        Coding::of_marker(self.marker)
    }
}
