//! Marker codes (the byte after `FF`) of ITU T.81, table B.1, that this
//! crate and its callers name.

/// For temporary private use in arithmetic coding; stands alone (no length).
pub const TEM: u8 = 0x01;
/// Start of frame, baseline DCT (Huffman).
pub const SOF0: u8 = 0xC0;
/// Start of frame, extended sequential DCT (Huffman).
pub const SOF1: u8 = 0xC1;
/// Start of frame, progressive DCT (Huffman).
pub const SOF2: u8 = 0xC2;
/// Define Huffman tables.
pub const DHT: u8 = 0xC4;
/// Reserved for JPEG extensions (not a frame header although in the SOF range).
pub const JPG: u8 = 0xC8;
/// Define arithmetic coding conditioning (not a frame header although in the SOF range).
pub const DAC: u8 = 0xCC;
/// Restart marker 0; RST0..=RST7 occur only inside scan data and stand alone.
pub const RST0: u8 = 0xD0;
/// Restart marker 7.
pub const RST7: u8 = 0xD7;
/// Start of image.
pub const SOI: u8 = 0xD8;
/// End of image.
pub const EOI: u8 = 0xD9;
/// Start of scan; the entropy-coded data follows its header.
pub const SOS: u8 = 0xDA;
/// Define quantisation tables.
pub const DQT: u8 = 0xDB;
/// Define restart interval.
pub const DRI: u8 = 0xDD;
/// Application segment 0 (JFIF, JFXX, AVI1, ...).
pub const APP0: u8 = 0xE0;
/// Application segment 1 (EXIF, XMP).
pub const APP1: u8 = 0xE1;
/// Application segment 14 (Adobe: the colour transform).
pub const APP14: u8 = 0xEE;
/// Application segment 15, the last one.
pub const APP15: u8 = 0xEF;
/// Comment.
pub const COM: u8 = 0xFE;

/// True for the start-of-frame markers SOF0..SOF15 (`C0..CF` without DHT,
/// JPG and DAC).
pub fn is_sof(marker: u8) -> bool {
    (0xC0..=0xCF).contains(&marker) && marker != DHT && marker != JPG && marker != DAC
}

/// True for the restart markers RST0..RST7.
pub fn is_rst(marker: u8) -> bool {
    (RST0..=RST7).contains(&marker)
}

/// True for the application segments APP0..APP15.
pub fn is_app(marker: u8) -> bool {
    (APP0..=APP15).contains(&marker)
}
