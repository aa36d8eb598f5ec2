//! Builders of small, hand-made JPEG byte strings for tests (crate feature
//! `test-support`; this crate's own tests use them too): segments, a frame
//! header, an EXIF APP1 with an orientation.

use crate::marker::{APP1, SOF0, SOI};

/// A marker segment: `FF marker`, length, `payload`.
pub fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(
        &u16::try_from(payload.len() + 2)
            .expect("a segment under 64 KiB")
            .to_be_bytes(),
    );
    s.extend_from_slice(payload);
    s
}

/// SOF payload: 8-bit, `width` x `height`, three components (4:2:0).
pub fn sof_payload(width: u16, height: u16) -> Vec<u8> {
    let mut p = vec![0x08];
    p.extend_from_slice(&height.to_be_bytes());
    p.extend_from_slice(&width.to_be_bytes());
    p.extend_from_slice(&[0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    p
}

/// SOI + optional extra segments + a baseline SOF0 for `width` x `height`, 3 components.
pub fn headers(extra: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut v = vec![0xFF, SOI];
    v.extend_from_slice(extra);
    v.extend_from_slice(&segment(SOF0, &sof_payload(width, height)));
    v
}

/// An APP1 EXIF segment around `tiff`.
pub fn app1_exif(tiff: &[u8]) -> Vec<u8> {
    segment(APP1, &[&b"Exif\0\0"[..], tiff].concat())
}

/// A TIFF header with two IFD entries: ImageWidth 640, then Orientation.
pub fn tiff_with_orientation(little_endian: bool, orientation: u16) -> Vec<u8> {
    let mut t = Vec::new();
    let u16b = |x: u16| {
        if little_endian {
            x.to_le_bytes()
        } else {
            x.to_be_bytes()
        }
    };
    let u32b = |x: u32| {
        if little_endian {
            x.to_le_bytes()
        } else {
            x.to_be_bytes()
        }
    };
    t.extend_from_slice(if little_endian { b"II" } else { b"MM" });
    t.extend_from_slice(&u16b(42));
    t.extend_from_slice(&u32b(8));
    t.extend_from_slice(&u16b(2)); // two entries
    // ImageWidth LONG 1 = 640 (a tag before Orientation)
    t.extend_from_slice(&u16b(0x0100));
    t.extend_from_slice(&u16b(4));
    t.extend_from_slice(&u32b(1));
    t.extend_from_slice(&u32b(640));
    // Orientation SHORT 1
    t.extend_from_slice(&u16b(0x0112));
    t.extend_from_slice(&u16b(3));
    t.extend_from_slice(&u32b(1));
    t.extend_from_slice(&u16b(orientation));
    t.extend_from_slice(&[0, 0]);
    t.extend_from_slice(&u32b(0));
    t
}
