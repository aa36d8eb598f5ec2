//! JPEG checks and processing for uploaded photos.
//!
//! Photos of children are personal data. Everything this module hands back is
//! free of metadata: no EXIF (and so no GPS), no XMP, IPTC, ICC, comments,
//! embedded thumbnails or trailing data after the end-of-image marker.
//!
//! Hostile or broken input must never panic the server nor make it allocate
//! without bound, so the file's structure is checked before anything is
//! decoded:
//!
//! 1. [`is_jpeg_magic`], the byte limit, [`inspect`] and the pixel limit: cheap,
//!    no pixel memory is allocated, so a tiny file declaring 50000x50000 pixels
//!    is refused here.
//! 2. A full walk over every segment *and* the entropy-coded scan data. Each
//!    scan is Huffman-decoded (symbols only, no pixels) and must contain
//!    exactly the number of blocks the frame header promises, with correct
//!    restart markers. This is what turns truncated or corrupt scan data into
//!    an error: the `image` crate's JPEG decoder is lenient and would quietly
//!    return a half-grey picture.
//! 3. The same walk writes the metadata-free copy: only the segments needed to
//!    decode are kept (tables, frame and scan headers, a minimal JFIF APP0, a
//!    minimal Adobe APP14); the scan data is copied byte for byte.
//! 4. Decoding (with `image` limits set) for the thumbnail, and for EXIF
//!    orientations 2..=8 a re-encode with the orientation applied.

use std::io::Cursor;
use std::ops::Range;

use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Default for [`PhotoLimits::max_pixels`].
pub const DEFAULT_MAX_PIXELS: u64 = 40_000_000;
/// Default for [`PhotoLimits::max_bytes`]: 25 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 25 * 1024 * 1024;
/// Default for [`PhotoLimits::thumb_max_side`].
pub const DEFAULT_THUMB_MAX_SIDE: u32 = 320;
/// JPEG quality used when a photo has to be re-encoded (EXIF orientation 2..=8).
pub const REENCODE_QUALITY: u8 = 90;
/// JPEG quality of thumbnails.
pub const THUMBNAIL_QUALITY: u8 = 80;
/// At most this many scans (SOS segments) per file. Real progressive files
/// have about 10; every scan costs a pass over all blocks, so an unbounded
/// number would let a small file burn a lot of CPU.
pub const MAX_SCANS: usize = 100;

/// Extra bytes allowed to the decoder on top of the decoded pixels.
const DECODE_ALLOC_SLACK: u64 = 16 * 1024 * 1024;

/// Limits applied to every uploaded photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhotoLimits {
    /// Largest accepted width x height, checked before any decoding.
    pub max_pixels: u64,
    /// Largest accepted file size in bytes.
    pub max_bytes: u64,
    /// Longest side of the thumbnail in pixels (smaller photos are not enlarged).
    pub thumb_max_side: u32,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        Self {
            max_pixels: DEFAULT_MAX_PIXELS,
            max_bytes: DEFAULT_MAX_BYTES,
            thumb_max_side: DEFAULT_THUMB_MAX_SIDE,
        }
    }
}

/// Why a photo was refused.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("empty upload: no bytes received")]
    Empty,
    #[error("not a JPEG file (it does not start with the FF D8 FF signature)")]
    NotAJpeg,
    #[error("file is {size} bytes, more than the limit of {max} bytes")]
    FileTooLarge { size: u64, max: u64 },
    #[error("image is {width}x{height} pixels, more than the limit of {max_pixels} pixels")]
    ImageTooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error("JPEG file is truncated: {0}")]
    Truncated(String),
    #[error("malformed JPEG: {0}")]
    Malformed(String),
    #[error("JPEG has no frame header (SOFn marker) before its image data")]
    NoFrameHeader,
    #[error("unsupported JPEG: {0}")]
    Unsupported(String),
    #[error("JPEG image data is corrupt or cannot be decoded: {0}")]
    DecodeFailed(String),
    #[error("encoding the processed JPEG failed: {0}")]
    EncodeFailed(String),
}

impl PhotoError {
    /// True when the upload itself is at fault (answer 4xx); false for server-side
    /// failures (answer 5xx).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, PhotoError::EncodeFailed(_))
    }
}

/// What [`inspect`] finds in a JPEG's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegInfo {
    pub width: u32,
    pub height: u32,
    /// EXIF orientation 1..=8; 1 when the file has none (or an invalid one).
    pub orientation: u8,
}

/// The result of [`process`]: metadata-free JPEG and thumbnail.
#[derive(Clone, PartialEq, Eq)]
pub struct ProcessedPhoto {
    /// The photo to store and serve, without any metadata, upright.
    pub jpeg: Vec<u8>,
    /// JPEG thumbnail, longest side at most [`PhotoLimits::thumb_max_side`].
    pub thumbnail: Vec<u8>,
    /// Width of `jpeg` in pixels (after applying the EXIF orientation).
    pub width: u32,
    /// Height of `jpeg` in pixels (after applying the EXIF orientation).
    pub height: u32,
    /// Lower-case hex SHA-256 of `jpeg`.
    pub sha256: String,
}

impl std::fmt::Debug for ProcessedPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never dump the image bytes into logs.
        f.debug_struct("ProcessedPhoto")
            .field("jpeg_len", &self.jpeg.len())
            .field("thumbnail_len", &self.thumbnail.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// True when the first bytes are a JPEG SOI + marker (FF D8 FF). Works on a
/// prefix of >= 3 bytes; shorter input is never a JPEG.
pub fn is_jpeg_magic(prefix: &[u8]) -> bool {
    prefix.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// Walks the JPEG marker segments (no decoding) up to the first SOFn and
/// returns its width and height, plus the EXIF orientation from an APP1 Exif
/// segment before it (1 when there is none or it is invalid).
///
/// Errors: `Empty`, `NotAJpeg`, `Truncated` (the file ends inside a segment
/// or before any frame header), `Malformed` (bad segment length, garbage
/// where a marker belongs, bad frame header), `NoFrameHeader` (EOI or SOS
/// before any SOFn), `Unsupported` (height 0, i.e. defined by a DNL marker).
/// Frame headers of every JPEG process (progressive, arithmetic, lossless...)
/// are read; [`process`] refuses the ones it cannot handle.
pub fn inspect(bytes: &[u8]) -> Result<JpegInfo, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if !is_jpeg_magic(bytes) {
        return Err(PhotoError::NotAJpeg);
    }
    let mut pos = 2;
    let mut orientation = None;
    loop {
        if pos >= bytes.len() {
            return Err(PhotoError::Truncated(
                "the file ends before the frame header".into(),
            ));
        }
        let (marker, after) = read_marker(bytes, pos)?;
        match marker {
            SOI => {
                return Err(malformed(format!(
                    "second start-of-image marker at offset {pos}"
                )));
            }
            EOI | SOS => return Err(PhotoError::NoFrameHeader),
            TEM => pos = after,
            RST0..=RST7 => {
                return Err(malformed(format!(
                    "restart marker outside scan data at offset {pos}"
                )));
            }
            _ => {
                let payload = segment_payload(bytes, after, marker)?;
                if is_sof(marker) {
                    let frame = Frame::parse(marker, bytes.get(payload).unwrap_or_default())?;
                    return Ok(JpegInfo {
                        width: u32::from(frame.width),
                        height: u32::from(frame.height),
                        orientation: orientation.unwrap_or(1),
                    });
                }
                if marker == APP1 && orientation.is_none() {
                    orientation = exif_orientation(bytes.get(payload.clone()).unwrap_or_default());
                }
                pos = payload.end;
            }
        }
    }
}

/// Full pipeline for a complete upload; see the module documentation.
///
/// CPU-bound and blocking (tens of milliseconds for a typical photo in a
/// release build, and up to a few hundred MB of memory for a photo at the
/// default pixel limit): call it from `spawn_blocking` and bound how many run
/// at once.
pub fn process(bytes: &[u8], limits: &PhotoLimits) -> Result<ProcessedPhoto, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if !is_jpeg_magic(bytes) {
        return Err(PhotoError::NotAJpeg);
    }
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > limits.max_bytes {
        return Err(PhotoError::FileTooLarge {
            size,
            max: limits.max_bytes,
        });
    }
    let info = inspect(bytes)?;
    let pixels = u64::from(info.width) * u64::from(info.height);
    if pixels > limits.max_pixels {
        return Err(PhotoError::ImageTooLarge {
            width: info.width,
            height: info.height,
            max_pixels: limits.max_pixels,
        });
    }

    let stripped = strip_and_validate(bytes)?;
    let decoded = decode(&stripped, info.width, info.height)?;

    let (jpeg, image) = match Orientation::from_exif(info.orientation) {
        Some(orientation) if orientation != Orientation::NoTransforms => {
            let mut image = decoded;
            image.apply_orientation(orientation);
            (encode_jpeg(&image, REENCODE_QUALITY)?, image)
        }
        _ => (stripped, decoded),
    };

    let (thumb_width, thumb_height) =
        thumbnail_dimensions(image.width(), image.height(), limits.thumb_max_side);
    let thumbnail = if (thumb_width, thumb_height) == (image.width(), image.height()) {
        encode_jpeg(&image, THUMBNAIL_QUALITY)?
    } else {
        encode_jpeg(
            &image.thumbnail_exact(thumb_width, thumb_height),
            THUMBNAIL_QUALITY,
        )?
    };

    let sha256 = hex::encode(Sha256::digest(&jpeg));
    tracing::debug!(
        width = image.width(),
        height = image.height(),
        orientation = info.orientation,
        bytes_in = bytes.len(),
        bytes_out = jpeg.len(),
        thumbnail_bytes = thumbnail.len(),
        "photo processed"
    );
    Ok(ProcessedPhoto {
        jpeg,
        thumbnail,
        width: image.width(),
        height: image.height(),
        sha256,
    })
}

// ---------------------------------------------------------------------------
// Markers and segments
// ---------------------------------------------------------------------------

const TEM: u8 = 0x01;
const SOF0: u8 = 0xC0;
const SOF1: u8 = 0xC1;
const SOF2: u8 = 0xC2;
const DHT: u8 = 0xC4;
const JPG: u8 = 0xC8;
const DAC: u8 = 0xCC;
const RST0: u8 = 0xD0;
const RST7: u8 = 0xD7;
const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const DQT: u8 = 0xDB;
const DRI: u8 = 0xDD;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const APP14: u8 = 0xEE;

fn is_sof(marker: u8) -> bool {
    (0xC0..=0xCF).contains(&marker) && marker != DHT && marker != JPG && marker != DAC
}

fn malformed(msg: impl Into<String>) -> PhotoError {
    PhotoError::Malformed(msg.into())
}

fn corrupt(msg: impl Into<String>) -> PhotoError {
    PhotoError::DecodeFailed(msg.into())
}

/// Reads the marker at `pos` (which must be 0xFF, optionally followed by more
/// 0xFF fill bytes). Returns the marker code and the offset just after it.
fn read_marker(bytes: &[u8], pos: usize) -> Result<(u8, usize), PhotoError> {
    match bytes.get(pos) {
        Some(0xFF) => {}
        Some(other) => {
            return Err(malformed(format!(
                "expected a marker at offset {pos}, found byte 0x{other:02X}"
            )));
        }
        None => {
            return Err(PhotoError::Truncated(format!(
                "missing marker at offset {pos}"
            )));
        }
    }
    let mut i = pos + 1;
    while bytes.get(i) == Some(&0xFF) {
        i += 1;
    }
    match bytes.get(i) {
        None => Err(PhotoError::Truncated(format!(
            "file ends inside the marker at offset {pos}"
        ))),
        Some(0x00) => Err(malformed(format!(
            "stuffed zero byte outside scan data at offset {pos}"
        ))),
        Some(&marker) => Ok((marker, i + 1)),
    }
}

/// Reads the two-byte length at `pos` and returns the range of the segment's
/// payload (the bytes after the length field).
fn segment_payload(bytes: &[u8], pos: usize, marker: u8) -> Result<Range<usize>, PhotoError> {
    let len = match bytes.get(pos..pos + 2) {
        Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])),
        _ => {
            return Err(PhotoError::Truncated(format!(
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
        return Err(PhotoError::Truncated(format!(
            "segment 0xFF{marker:02X} at offset {pos} needs {len} bytes, only {} left",
            bytes.len() - pos
        )));
    }
    Ok(pos + 2..end)
}

/// EXIF orientation (1..=8) from an APP1 payload, if it is an Exif segment
/// whose IFD0 has a valid Orientation tag.
fn exif_orientation(payload: &[u8]) -> Option<u8> {
    let tiff = payload.strip_prefix(b"Exif\0\0")?;
    let little_endian = match tiff.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let read_u16 = |off: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(off..off.checked_add(2)?)?.try_into().ok()?;
        Some(if little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let read_u32 = |off: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(if little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    if read_u16(2)? != 42 {
        return None;
    }
    let ifd0 = usize::try_from(read_u32(4)?).ok()?;
    let count = usize::from(read_u16(ifd0)?);
    for i in 0..count {
        let entry = ifd0.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
        if read_u16(entry)? != 0x0112 {
            continue;
        }
        let field_type = read_u16(entry.checked_add(2)?)?;
        let field_count = read_u32(entry.checked_add(4)?)?;
        if field_type != 3 || field_count < 1 {
            return None;
        }
        let value = read_u16(entry.checked_add(8)?)?;
        return u8::try_from(value).ok().filter(|v| (1..=8).contains(v));
    }
    None
}

// ---------------------------------------------------------------------------
// Frame and scan headers
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    /// SOF0 / SOF1: sequential DCT, Huffman coded.
    Sequential,
    /// SOF2: progressive DCT, Huffman coded.
    Progressive,
    /// Any other SOFn (lossless, hierarchical, arithmetic coding).
    Other(u8),
}

#[derive(Debug, Clone)]
struct FrameComponent {
    id: u8,
    h: usize,
    v: usize,
    /// Blocks per row and rows of blocks covered by this component's data
    /// (what a non-interleaved scan of it contains).
    blocks_w: usize,
    blocks_h: usize,
    /// Blocks per row and rows when padded to whole MCUs (storage size).
    stride: usize,
    rows: usize,
}

#[derive(Debug, Clone)]
struct Frame {
    coding: Coding,
    precision: u8,
    width: u16,
    height: u16,
    components: Vec<FrameComponent>,
    mcus_x: usize,
    mcus_y: usize,
}

impl Frame {
    fn parse(marker: u8, payload: &[u8]) -> Result<Frame, PhotoError> {
        let coding = match marker {
            SOF0 | SOF1 => Coding::Sequential,
            SOF2 => Coding::Progressive,
            other => Coding::Other(other),
        };
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
            return Err(PhotoError::Unsupported(
                "frame height 0 (height defined later by a DNL marker)".into(),
            ));
        }
        let mut raw = Vec::with_capacity(count);
        for chunk in rest.chunks_exact(3) {
            let &[id, hv, tq] = chunk else {
                return Err(malformed("frame header is too short"));
            };
            let (h, v) = (usize::from(hv >> 4), usize::from(hv & 0x0F));
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
            if raw.iter().any(|&(other, _, _)| other == id) {
                return Err(malformed(format!("component id {id} appears twice")));
            }
            raw.push((id, h, v));
        }
        let h_max = raw.iter().map(|c| c.1).max().unwrap_or(1);
        let v_max = raw.iter().map(|c| c.2).max().unwrap_or(1);
        let (w, hgt) = (usize::from(width), usize::from(height));
        let mcus_x = w.div_ceil(8 * h_max);
        let mcus_y = hgt.div_ceil(8 * v_max);
        let components = raw
            .into_iter()
            .map(|(id, h, v)| FrameComponent {
                id,
                h,
                v,
                blocks_w: (w * h).div_ceil(h_max).div_ceil(8),
                blocks_h: (hgt * v).div_ceil(v_max).div_ceil(8),
                stride: mcus_x * h,
                rows: mcus_y * v,
            })
            .collect();
        Ok(Frame {
            coding,
            precision,
            width,
            height,
            components,
            mcus_x,
            mcus_y,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct ScanComponent {
    /// Index into `Frame::components`.
    index: usize,
    dc_table: usize,
    ac_table: usize,
}

#[derive(Debug, Clone)]
struct ScanHeader {
    kind: ScanKind,
    components: Vec<ScanComponent>,
    ss: usize,
    se: usize,
    ah: u8,
    al: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanKind {
    Sequential,
    DcFirst,
    DcRefine,
    AcFirst,
    AcRefine,
}

impl ScanHeader {
    fn parse(payload: &[u8], frame: &Frame) -> Result<ScanHeader, PhotoError> {
        let (count, rest) = match payload {
            [n, rest @ ..] => (usize::from(*n), rest),
            [] => return Err(malformed("scan header is empty")),
        };
        if count == 0 || count > 4 {
            return Err(malformed(format!(
                "scan header declares {count} components (1 to 4 allowed)"
            )));
        }
        if rest.len() != 2 * count + 3 {
            return Err(malformed(format!(
                "scan header length does not match its {count} components"
            )));
        }
        let (selectors, params) = rest.split_at(2 * count);
        let mut components: Vec<ScanComponent> = Vec::with_capacity(count);
        for pair in selectors.chunks_exact(2) {
            let &[id, tables] = pair else {
                return Err(malformed("scan header is too short"));
            };
            let index = frame
                .components
                .iter()
                .position(|c| c.id == id)
                .ok_or_else(|| malformed(format!("scan uses unknown component {id}")))?;
            if components.iter().any(|c| c.index == index) {
                return Err(malformed(format!("scan lists component {id} twice")));
            }
            let (dc_table, ac_table) = (usize::from(tables >> 4), usize::from(tables & 0x0F));
            if dc_table > 3 || ac_table > 3 {
                return Err(malformed(format!(
                    "scan component {id} uses Huffman table {dc_table}/{ac_table} (0 to 3 allowed)"
                )));
            }
            components.push(ScanComponent {
                index,
                dc_table,
                ac_table,
            });
        }
        let &[ss, se, a] = params else {
            return Err(malformed("scan header is too short"));
        };
        let mut header = ScanHeader {
            kind: ScanKind::Sequential,
            components,
            ss: usize::from(ss),
            se: usize::from(se),
            ah: a >> 4,
            al: a & 0x0F,
        };
        if header.components.len() > 1 {
            let blocks: usize = header
                .components
                .iter()
                .filter_map(|c| frame.components.get(c.index))
                .map(|c| c.h * c.v)
                .sum();
            if blocks > 10 {
                return Err(malformed(format!(
                    "interleaved scan has {blocks} blocks per MCU (at most 10 allowed)"
                )));
            }
        }
        header.kind = header.scan_kind(frame.coding)?;
        Ok(header)
    }

    fn scan_kind(&self, coding: Coding) -> Result<ScanKind, PhotoError> {
        match coding {
            Coding::Sequential => {
                if self.ss != 0 || self.se != 63 || self.ah != 0 || self.al != 0 {
                    return Err(malformed(format!(
                        "sequential scan has invalid spectral selection {}..{} / approximation {}/{}",
                        self.ss, self.se, self.ah, self.al
                    )));
                }
                Ok(ScanKind::Sequential)
            }
            Coding::Progressive => {
                if self.ah > 13 || self.al > 13 {
                    return Err(malformed(
                        "progressive scan has invalid successive approximation",
                    ));
                }
                if self.ss == 0 {
                    if self.se != 0 {
                        return Err(malformed(
                            "progressive DC scan also contains AC coefficients",
                        ));
                    }
                    Ok(if self.ah == 0 {
                        ScanKind::DcFirst
                    } else {
                        ScanKind::DcRefine
                    })
                } else {
                    if self.se < self.ss || self.se > 63 {
                        return Err(malformed(format!(
                            "progressive AC scan has invalid spectral selection {}..{}",
                            self.ss, self.se
                        )));
                    }
                    if self.components.len() != 1 {
                        return Err(malformed("progressive AC scan has more than one component"));
                    }
                    Ok(if self.ah == 0 {
                        ScanKind::AcFirst
                    } else {
                        ScanKind::AcRefine
                    })
                }
            }
            Coding::Other(marker) => Err(unsupported_coding(marker)),
        }
    }
}

fn unsupported_coding(marker: u8) -> PhotoError {
    let what = match marker {
        0xC3 => "lossless JPEG",
        0xC5..=0xC7 => "hierarchical JPEG",
        0xC9..=0xCB => "arithmetic-coded JPEG",
        0xCD..=0xCF => "hierarchical arithmetic-coded JPEG",
        _ => "JPEG process",
    };
    PhotoError::Unsupported(format!("{what} (frame marker 0xFF{marker:02X})"))
}

// ---------------------------------------------------------------------------
// Huffman tables and the bit reader
// ---------------------------------------------------------------------------

/// Codes up to this length are decoded with one table lookup.
const LOOKUP_BITS: u32 = 9;

/// A Huffman table as defined in a DHT segment (cheap to store; the decoding
/// tables are only built for tables that a scan actually uses).
#[derive(Debug, Clone)]
struct RawHuffman {
    counts: [u8; 16],
    values: Vec<u8>,
}

#[derive(Debug)]
struct Huffman {
    /// Entry = (code length << 8) | symbol, or 0 when the code is longer than
    /// `LOOKUP_BITS`.
    lookup: Vec<u16>,
    /// Index 1..=16: the largest code of that length, -1 when there is none.
    max_code: [i32; 17],
    min_code: [i32; 17],
    value_index: [i32; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn build(raw: &RawHuffman) -> Result<Huffman, PhotoError> {
        let mut lookup = vec![0u16; 1 << LOOKUP_BITS];
        let mut max_code = [-1i32; 17];
        let mut min_code = [0i32; 17];
        let mut value_index = [0i32; 17];
        let mut code: u32 = 0;
        let mut k: usize = 0;
        for len in 1..=16u32 {
            let n = usize::from(raw.counts.get(len as usize - 1).copied().unwrap_or(0));
            value_index[len as usize] = k as i32;
            min_code[len as usize] = code as i32;
            for _ in 0..n {
                if code >= (1u32 << len) {
                    return Err(malformed(format!(
                        "Huffman table has too many codes of length {len}"
                    )));
                }
                let symbol = raw
                    .values
                    .get(k)
                    .copied()
                    .ok_or_else(|| malformed("Huffman table has fewer symbols than codes"))?;
                if len <= LOOKUP_BITS {
                    let shift = LOOKUP_BITS - len;
                    let first = (code << shift) as usize;
                    let entry = ((len as u16) << 8) | u16::from(symbol);
                    for slot in lookup.iter_mut().skip(first).take(1 << shift) {
                        *slot = entry;
                    }
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                max_code[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        Ok(Huffman {
            lookup,
            max_code,
            min_code,
            value_index,
            values: raw.values.clone(),
        })
    }
}

/// Reads the bits of one restart interval of entropy-coded data. Past the
/// end it supplies zero bits, and counts them, so that running out of data is
/// detected by comparing the bits consumed with the bits available.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    /// The next bits, most significant first; `nbits` of them are valid.
    acc: u64,
    nbits: u32,
    consumed: u64,
    available: u64,
}

impl<'a> BitReader<'a> {
    /// `data` must not contain markers: every 0xFF is followed by a stuffed 0x00.
    fn new(data: &'a [u8]) -> Self {
        let stuffed = data.windows(2).filter(|w| *w == [0xFF, 0x00]).count();
        let available = 8 * u64::try_from(data.len() - stuffed).unwrap_or(u64::MAX / 16);
        BitReader {
            data,
            pos: 0,
            acc: 0,
            nbits: 0,
            consumed: 0,
            available,
        }
    }

    fn fill(&mut self) {
        while self.nbits <= 56 {
            let byte = match self.data.get(self.pos) {
                Some(&0xFF) => {
                    self.pos += 2; // skip the stuffed 0x00
                    0xFF
                }
                Some(&b) => {
                    self.pos += 1;
                    b
                }
                None => 0,
            };
            self.acc |= u64::from(byte) << (56 - self.nbits);
            self.nbits += 8;
        }
    }

    /// The next `n` (1..=16) bits without consuming them; `fill` must have run.
    fn peek(&self, n: u32) -> u32 {
        (self.acc >> (64 - n)) as u32
    }

    fn skip(&mut self, n: u32) {
        self.acc <<= n;
        self.nbits -= n;
        self.consumed += u64::from(n);
    }

    /// Reads `n` (0..=16) raw bits.
    fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        self.fill();
        let value = self.peek(n);
        self.skip(n);
        value
    }

    fn decode(&mut self, table: &Huffman) -> Result<u8, PhotoError> {
        self.fill();
        let entry = table
            .lookup
            .get(self.peek(LOOKUP_BITS) as usize)
            .copied()
            .unwrap_or(0);
        if entry != 0 {
            self.skip(u32::from(entry >> 8));
            return Ok((entry & 0xFF) as u8);
        }
        for len in LOOKUP_BITS + 1..=16 {
            let code = self.peek(len) as i32;
            let l = len as usize;
            if code <= table.max_code[l] {
                self.skip(len);
                let index = table.value_index[l] + code - table.min_code[l];
                return usize::try_from(index)
                    .ok()
                    .and_then(|i| table.values.get(i).copied())
                    .ok_or_else(|| corrupt("invalid Huffman code"));
            }
        }
        Err(corrupt("invalid Huffman code in scan data"))
    }

    fn check_overrun(&self) -> Result<(), PhotoError> {
        if self.consumed > self.available {
            return Err(corrupt(
                "scan data ends before all blocks of the image were decoded",
            ));
        }
        Ok(())
    }

    /// At the end of a restart interval: all data must have been used, except
    /// for the padding bits of the last byte.
    fn finish(&self) -> Result<(), PhotoError> {
        self.check_overrun()?;
        let unused = self.available - self.consumed;
        if unused >= 8 {
            return Err(corrupt(format!(
                "{} bytes of scan data left over after the last block",
                unused / 8
            )));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Entropy-coded data: splitting and validating
// ---------------------------------------------------------------------------

/// Finds the end of the entropy-coded data starting at `start`. Returns the
/// ranges between restart markers and the offset of the marker that ends the
/// scan (the first of its 0xFF bytes).
fn split_scan(bytes: &[u8], start: usize) -> Result<(Vec<Range<usize>>, usize), PhotoError> {
    let mut intervals = Vec::new();
    let mut interval_start = start;
    let mut next_restart: u8 = 0;
    let mut i = start;
    loop {
        let found = bytes
            .get(i..)
            .and_then(|rest| rest.iter().position(|&b| b == 0xFF));
        let Some(offset) = found else {
            return Err(PhotoError::Truncated(
                "scan data runs to the end of the file (no end-of-image marker)".into(),
            ));
        };
        i += offset;
        match bytes.get(i + 1) {
            None => {
                return Err(PhotoError::Truncated(
                    "scan data runs to the end of the file (no end-of-image marker)".into(),
                ));
            }
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
        let marker = match bytes.get(j) {
            None => {
                return Err(PhotoError::Truncated(
                    "scan data runs to the end of the file (no end-of-image marker)".into(),
                ));
            }
            Some(&m) => m,
        };
        match marker {
            0x00 => {
                return Err(corrupt(format!(
                    "fill bytes before a stuffed zero in scan data at offset {i}"
                )));
            }
            RST0..=RST7 => {
                if marker - RST0 != next_restart {
                    return Err(corrupt(format!(
                        "restart marker RST{} at offset {i}, expected RST{next_restart}",
                        marker - RST0
                    )));
                }
                next_restart = (next_restart + 1) & 7;
                intervals.push(interval_start..i);
                i = j + 1;
                interval_start = i;
            }
            _ => {
                intervals.push(interval_start..i);
                return Ok((intervals, i));
            }
        }
    }
}

/// Per-component record of which AC coefficients (bit k = zig-zag index k) are
/// already non-zero; needed to follow progressive refinement scans.
#[derive(Debug, Default)]
struct CoefficientState {
    masks: Vec<Vec<u64>>,
}

impl CoefficientState {
    fn component(&mut self, frame: &Frame, index: usize) -> Result<&mut Vec<u64>, PhotoError> {
        if self.masks.len() < frame.components.len() {
            self.masks.resize_with(frame.components.len(), Vec::new);
        }
        let comp = frame
            .components
            .get(index)
            .ok_or_else(|| corrupt("scan component out of range"))?;
        let masks = self
            .masks
            .get_mut(index)
            .ok_or_else(|| corrupt("scan component out of range"))?;
        if masks.is_empty() {
            let blocks = comp.stride * comp.rows;
            masks
                .try_reserve_exact(blocks)
                .map_err(|_| corrupt("not enough memory to check the progressive scans"))?;
            masks.resize(blocks, 0);
        }
        Ok(masks)
    }
}

/// Largest Huffman-coded magnitude category for DC differences and AC
/// coefficients of 8-bit JPEG.
const DC_MAX_CATEGORY: u8 = 11;
const AC_MAX_CATEGORY: u8 = 10;

struct ScanTables<'t> {
    dc: Option<&'t Huffman>,
    ac: Option<&'t Huffman>,
}

/// Huffman-decodes one scan (symbols only, no pixels) and checks that it
/// holds exactly the blocks the frame promises, interval by interval.
fn validate_scan(
    frame: &Frame,
    scan: &ScanHeader,
    tables: &[ScanTables<'_>],
    restart_interval: usize,
    bytes: &[u8],
    intervals: &[Range<usize>],
    state: &mut CoefficientState,
) -> Result<(), PhotoError> {
    let single = match scan.components.as_slice() {
        [only] => Some(
            frame
                .components
                .get(only.index)
                .ok_or_else(|| corrupt("scan component out of range"))?,
        ),
        _ => None,
    };
    let (units_x, units_y) = match single {
        Some(comp) => (comp.blocks_w, comp.blocks_h),
        None => (frame.mcus_x, frame.mcus_y),
    };
    let total = units_x * units_y;
    let per_interval = if restart_interval == 0 {
        total
    } else {
        restart_interval
    };
    let expected = total.div_ceil(per_interval.max(1));
    if intervals.len() != expected {
        return Err(corrupt(format!(
            "scan has {} restart intervals, expected {expected}",
            intervals.len()
        )));
    }
    let kind = scan.kind;
    let mut masks = match (kind, scan.components.first()) {
        (ScanKind::AcFirst | ScanKind::AcRefine, Some(first)) => {
            Some(state.component(frame, first.index)?)
        }
        _ => None,
    };
    let mut scratch: u64 = 0;

    for (n, range) in intervals.iter().enumerate() {
        let data = bytes
            .get(range.clone())
            .ok_or_else(|| corrupt("scan interval out of range"))?;
        let mut reader = BitReader::new(data);
        let mut eobrun: u32 = 0;
        let first_unit = n * per_interval;
        let last_unit = (first_unit + per_interval).min(total);
        for unit in first_unit..last_unit {
            let (ux, uy) = (unit % units_x, unit / units_x);
            if let Some(comp) = single {
                let mask = match masks.as_deref_mut() {
                    Some(m) => m
                        .get_mut(uy * comp.stride + ux)
                        .ok_or_else(|| corrupt("block out of range"))?,
                    None => &mut scratch,
                };
                let t = tables
                    .first()
                    .ok_or_else(|| corrupt("missing scan tables"))?;
                decode_block(kind, scan, &mut reader, t, mask, &mut eobrun)?;
            } else {
                for (sc, t) in scan.components.iter().zip(tables) {
                    let comp = frame
                        .components
                        .get(sc.index)
                        .ok_or_else(|| corrupt("scan component out of range"))?;
                    for _ in 0..comp.h * comp.v {
                        decode_block(kind, scan, &mut reader, t, &mut scratch, &mut eobrun)?;
                    }
                }
            }
            reader.check_overrun()?;
        }
        reader.finish()?;
    }
    Ok(())
}

fn need(table: Option<&Huffman>) -> Result<&Huffman, PhotoError> {
    table.ok_or_else(|| malformed("scan uses a Huffman table that was never defined"))
}

fn decode_block(
    kind: ScanKind,
    scan: &ScanHeader,
    r: &mut BitReader<'_>,
    tables: &ScanTables<'_>,
    mask: &mut u64,
    eobrun: &mut u32,
) -> Result<(), PhotoError> {
    match kind {
        ScanKind::Sequential => {
            let (dc, ac) = (need(tables.dc)?, need(tables.ac)?);
            dc_difference(r, dc)?;
            let mut k = 1;
            while k < 64 {
                let rs = r.decode(ac)?;
                let (run, size) = (usize::from(rs >> 4), rs & 0x0F);
                if size == 0 {
                    if run != 15 {
                        break; // end of block
                    }
                    k += 16;
                    if k > 64 {
                        return Err(corrupt("zero run past the end of a block"));
                    }
                    continue;
                }
                k += run;
                if k > 63 {
                    return Err(corrupt("AC coefficient past the end of a block"));
                }
                if size > AC_MAX_CATEGORY {
                    return Err(corrupt("AC coefficient out of range"));
                }
                r.bits(u32::from(size));
                k += 1;
            }
        }
        ScanKind::DcFirst => dc_difference(r, need(tables.dc)?)?,
        ScanKind::DcRefine => {
            r.bits(1);
        }
        ScanKind::AcFirst => {
            if *eobrun > 0 {
                *eobrun -= 1;
                return Ok(());
            }
            let ac = need(tables.ac)?;
            let mut k = scan.ss;
            while k <= scan.se {
                let rs = r.decode(ac)?;
                let (run, size) = (rs >> 4, rs & 0x0F);
                if size == 0 {
                    if run < 15 {
                        *eobrun = (1u32 << run) - 1 + r.bits(u32::from(run));
                        break;
                    }
                    k += 16;
                    if k > scan.se + 1 {
                        return Err(corrupt("zero run past the end of the spectral band"));
                    }
                    continue;
                }
                k += usize::from(run);
                if k > scan.se {
                    return Err(corrupt("AC coefficient past the end of the spectral band"));
                }
                if size > AC_MAX_CATEGORY {
                    return Err(corrupt("AC coefficient out of range"));
                }
                r.bits(u32::from(size));
                *mask |= 1u64 << k;
                k += 1;
            }
        }
        ScanKind::AcRefine => {
            let mut k = scan.ss;
            if *eobrun == 0 {
                let ac = need(tables.ac)?;
                while k <= scan.se {
                    let rs = r.decode(ac)?;
                    let (mut run, size) = (rs >> 4, rs & 0x0F);
                    let new_coefficient = match size {
                        0 if run < 15 => {
                            *eobrun = (1u32 << run) + r.bits(u32::from(run));
                            break;
                        }
                        0 => false, // ZRL: skip 16 zero coefficients
                        1 => {
                            r.bits(1); // sign
                            true
                        }
                        _ => return Err(corrupt("invalid symbol in a refinement scan")),
                    };
                    while k <= scan.se {
                        if *mask & (1u64 << k) != 0 {
                            r.bits(1); // correction bit
                        } else {
                            if run == 0 {
                                break;
                            }
                            run -= 1;
                        }
                        k += 1;
                    }
                    if new_coefficient {
                        if k > scan.se {
                            return Err(corrupt("refinement past the end of the spectral band"));
                        }
                        *mask |= 1u64 << k;
                    }
                    k += 1;
                }
            }
            if *eobrun > 0 {
                while k <= scan.se {
                    if *mask & (1u64 << k) != 0 {
                        r.bits(1);
                    }
                    k += 1;
                }
                *eobrun -= 1;
            }
        }
    }
    Ok(())
}

fn dc_difference(r: &mut BitReader<'_>, dc: &Huffman) -> Result<(), PhotoError> {
    let size = r.decode(dc)?;
    if size > DC_MAX_CATEGORY {
        return Err(corrupt("DC difference out of range"));
    }
    r.bits(u32::from(size));
    Ok(())
}

// ---------------------------------------------------------------------------
// The full walk: validate everything, copy only what decoding needs
// ---------------------------------------------------------------------------

/// Walks the whole file, validates every scan and returns a copy that holds
/// only SOI, a minimal JFIF APP0 and Adobe APP14 (if present), DQT, DHT, DRI,
/// the frame header, the scans (header and data byte for byte) and EOI.
fn strip_and_validate(bytes: &[u8]) -> Result<Vec<u8>, PhotoError> {
    if !is_jpeg_magic(bytes) {
        return Err(PhotoError::NotAJpeg);
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, SOI]);
    let mut pos = 2;
    let mut frame: Option<Frame> = None;
    let mut dc_tables: [Option<RawHuffman>; 4] = Default::default();
    let mut ac_tables: [Option<RawHuffman>; 4] = Default::default();
    let mut restart_interval: usize = 0;
    let mut scans = 0usize;
    let mut state = CoefficientState::default();
    let mut kept_jfif = false;
    let mut kept_adobe = false;
    let mut dropped = 0usize;

    loop {
        let (marker, after) = read_marker(bytes, pos)?;
        match marker {
            EOI => {
                if scans == 0 {
                    return Err(malformed("the file has no image data (no scan)"));
                }
                out.extend_from_slice(&[0xFF, EOI]);
                if after < bytes.len() {
                    tracing::debug!(
                        bytes = bytes.len() - after,
                        "dropping data after the end-of-image marker"
                    );
                }
                break;
            }
            SOI => {
                return Err(malformed(format!(
                    "second start-of-image marker at offset {pos}"
                )));
            }
            RST0..=RST7 => {
                return Err(malformed(format!(
                    "restart marker outside scan data at offset {pos}"
                )));
            }
            TEM => {
                dropped += 1;
                pos = after;
                continue;
            }
            _ => {}
        }
        let payload_range = segment_payload(bytes, after, marker)?;
        let payload = bytes
            .get(payload_range.clone())
            .ok_or_else(|| PhotoError::Truncated("segment past the end of the file".into()))?;
        let segment = bytes
            .get(after - 2..payload_range.end)
            .ok_or_else(|| PhotoError::Truncated("segment past the end of the file".into()))?;
        pos = payload_range.end;

        match marker {
            m if is_sof(m) => {
                if frame.is_some() {
                    return Err(malformed("more than one frame header"));
                }
                let parsed = Frame::parse(marker, payload)?;
                if let Coding::Other(m) = parsed.coding {
                    return Err(unsupported_coding(m));
                }
                if parsed.precision != 8 {
                    return Err(PhotoError::Unsupported(format!(
                        "{}-bit samples (only 8-bit JPEG is supported)",
                        parsed.precision
                    )));
                }
                frame = Some(parsed);
                out.extend_from_slice(segment);
            }
            DHT => {
                parse_dht(payload, &mut dc_tables, &mut ac_tables)?;
                out.extend_from_slice(segment);
            }
            DQT => out.extend_from_slice(segment),
            DRI => {
                let &[hi, lo] = payload else {
                    return Err(malformed("restart interval segment has the wrong length"));
                };
                restart_interval = usize::from(u16::from_be_bytes([hi, lo]));
                out.extend_from_slice(segment);
            }
            SOS => {
                let Some(frame) = frame.as_ref() else {
                    return Err(PhotoError::NoFrameHeader);
                };
                scans += 1;
                if scans > MAX_SCANS {
                    return Err(PhotoError::Unsupported(format!(
                        "more than {MAX_SCANS} scans"
                    )));
                }
                let header = ScanHeader::parse(payload, frame)?;
                let kind = header.kind;
                let built = header
                    .components
                    .iter()
                    .map(|c| {
                        let dc = match kind {
                            ScanKind::Sequential | ScanKind::DcFirst => {
                                dc_tables.get(c.dc_table).and_then(Option::as_ref)
                            }
                            _ => None,
                        };
                        let ac = match kind {
                            ScanKind::Sequential | ScanKind::AcFirst | ScanKind::AcRefine => {
                                ac_tables.get(c.ac_table).and_then(Option::as_ref)
                            }
                            _ => None,
                        };
                        Ok((
                            dc.map(Huffman::build).transpose()?,
                            ac.map(Huffman::build).transpose()?,
                        ))
                    })
                    .collect::<Result<Vec<_>, PhotoError>>()?;
                let tables: Vec<ScanTables<'_>> = built
                    .iter()
                    .map(|(dc, ac)| ScanTables {
                        dc: dc.as_ref(),
                        ac: ac.as_ref(),
                    })
                    .collect();
                let (intervals, end) = split_scan(bytes, pos)?;
                validate_scan(
                    frame,
                    &header,
                    &tables,
                    restart_interval,
                    bytes,
                    &intervals,
                    &mut state,
                )?;
                out.extend_from_slice(segment);
                out.extend_from_slice(bytes.get(pos..end).unwrap_or_default());
                pos = end;
            }
            APP0 if !kept_jfif && payload.starts_with(b"JFIF\0") && payload.len() >= 14 => {
                // Version, density unit and density; the embedded thumbnail
                // (which may show an older version of the photo) is dropped.
                kept_jfif = true;
                out.extend_from_slice(&[0xFF, APP0, 0x00, 0x10]);
                out.extend_from_slice(payload.get(..12).unwrap_or_default());
                out.extend_from_slice(&[0, 0]);
            }
            APP14 if !kept_adobe && payload.starts_with(b"Adobe") && payload.len() >= 12 => {
                // Only the colour transform flag matters for decoding (RGB or
                // YCbCr / CMYK or YCCK); keep version and transform, clear the rest.
                kept_adobe = true;
                out.extend_from_slice(&[0xFF, APP14, 0x00, 0x0E]);
                out.extend_from_slice(payload.get(..7).unwrap_or_default());
                out.extend_from_slice(&[0, 0, 0, 0]);
                out.extend_from_slice(payload.get(11..12).unwrap_or_default());
            }
            _ => {
                // APPn (EXIF, XMP, ICC, IPTC, MPF, ...), COM, and anything
                // else that decoding does not need.
                dropped += 1;
                tracing::debug!(
                    marker = format_args!("0xFF{marker:02X}"),
                    len = segment.len(),
                    "dropping JPEG segment"
                );
            }
        }
    }
    tracing::debug!(dropped, "JPEG metadata stripped");
    Ok(out)
}

fn parse_dht(
    mut payload: &[u8],
    dc_tables: &mut [Option<RawHuffman>; 4],
    ac_tables: &mut [Option<RawHuffman>; 4],
) -> Result<(), PhotoError> {
    while let [class_id, rest @ ..] = payload {
        let (class, id) = (class_id >> 4, usize::from(class_id & 0x0F));
        let counts: [u8; 16] = rest
            .get(..16)
            .and_then(|c| c.try_into().ok())
            .ok_or_else(|| malformed("Huffman table segment is too short"))?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > 256 {
            return Err(malformed("Huffman table has more than 256 symbols"));
        }
        let values = rest
            .get(16..16 + total)
            .ok_or_else(|| malformed("Huffman table segment is too short"))?
            .to_vec();
        let slot = match class {
            0 => dc_tables.get_mut(id),
            1 => ac_tables.get_mut(id),
            _ => None,
        }
        .ok_or_else(|| malformed(format!("invalid Huffman table class/id {class}/{id}")))?;
        // Reject tables whose code lengths overflow now, not only when used.
        let raw = RawHuffman { counts, values };
        check_code_space(&raw.counts)?;
        *slot = Some(raw);
        payload = rest.get(16 + total..).unwrap_or_default();
    }
    Ok(())
}

fn check_code_space(counts: &[u8; 16]) -> Result<(), PhotoError> {
    let mut code: u32 = 0;
    for (i, &n) in counts.iter().enumerate() {
        let len = i as u32 + 1;
        code += u32::from(n);
        if code > (1u32 << len) {
            return Err(malformed(format!(
                "Huffman table has too many codes of length {len}"
            )));
        }
        code <<= 1;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Decoding and encoding
// ---------------------------------------------------------------------------

fn decode(jpeg: &[u8], width: u32, height: u32) -> Result<DynamicImage, PhotoError> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc =
        Some((u64::from(width) * u64::from(height)).saturating_mul(4) + DECODE_ALLOC_SLACK);
    let mut reader = ImageReader::with_format(Cursor::new(jpeg), ImageFormat::Jpeg);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| PhotoError::DecodeFailed(e.to_string()))?;
    if (image.width(), image.height()) != (width, height) {
        return Err(corrupt(format!(
            "decoded image is {}x{}, the header says {width}x{height}",
            image.width(),
            image.height()
        )));
    }
    Ok(image)
}

fn encode_jpeg(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, quality);
    let result = match image {
        DynamicImage::ImageLuma8(gray) => encoder.encode_image(gray),
        DynamicImage::ImageRgb8(rgb) => encoder.encode_image(rgb),
        other => encoder.encode_image(&other.to_rgb8()),
    };
    result.map_err(|e| PhotoError::EncodeFailed(e.to_string()))?;
    Ok(out)
}

/// Fits `width` x `height` into a `max_side` square, keeping the aspect
/// ratio; never enlarges.
fn thumbnail_dimensions(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let max_side = max_side.max(1);
    let long = width.max(height);
    if long <= max_side {
        return (width, height);
    }
    let scale = |side: u32| -> u32 {
        let scaled =
            (u64::from(side) * u64::from(max_side) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled).unwrap_or(max_side).max(1)
    };
    if width >= height {
        (max_side, scale(height))
    } else {
        (scale(width), max_side)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// SOI + optional extra segments + a baseline SOF0 for `width` x `height`, 3 components.
    fn headers(extra: &[u8], width: u16, height: u16) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        v.extend_from_slice(extra);
        v.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
        v.extend_from_slice(&height.to_be_bytes());
        v.extend_from_slice(&width.to_be_bytes());
        v.extend_from_slice(&[0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        v
    }

    fn app1_exif(tiff: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, 0xE1];
        v.extend_from_slice(&u16::try_from(tiff.len() + 8).unwrap().to_be_bytes());
        v.extend_from_slice(b"Exif\0\0");
        v.extend_from_slice(tiff);
        v
    }

    fn tiff_with_orientation(little_endian: bool, orientation: u16) -> Vec<u8> {
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

    #[test]
    fn magic() {
        assert!(is_jpeg_magic(&[0xFF, 0xD8, 0xFF]));
        assert!(is_jpeg_magic(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00]));
        assert!(!is_jpeg_magic(&[0xFF, 0xD8]));
        assert!(!is_jpeg_magic(&[]));
        assert!(!is_jpeg_magic(&[0xFF, 0xD8, 0x00]));
        assert!(!is_jpeg_magic(b"\x89PNG\r\n\x1a\n"));
    }

    #[test]
    fn inspect_reads_frame_size() {
        let info = inspect(&headers(&[], 640, 480)).unwrap();
        assert_eq!(
            info,
            JpegInfo {
                width: 640,
                height: 480,
                orientation: 1
            }
        );
    }

    #[test]
    fn inspect_reads_orientation_both_byte_orders() {
        for le in [true, false] {
            for o in 1..=8u16 {
                let bytes = headers(&app1_exif(&tiff_with_orientation(le, o)), 10, 20);
                let info = inspect(&bytes).unwrap();
                assert_eq!(u16::from(info.orientation), o, "le={le}");
                assert_eq!((info.width, info.height), (10, 20));
            }
        }
    }

    #[test]
    fn inspect_ignores_invalid_orientation_and_broken_exif() {
        for o in [0u16, 9, 300] {
            let bytes = headers(&app1_exif(&tiff_with_orientation(true, o)), 10, 20);
            assert_eq!(inspect(&bytes).unwrap().orientation, 1);
        }
        // IFD offset pointing far outside the segment.
        let mut tiff = tiff_with_orientation(false, 6);
        tiff[4..8].copy_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
        assert_eq!(
            inspect(&headers(&app1_exif(&tiff), 10, 20))
                .unwrap()
                .orientation,
            1
        );
        // Entry count larger than the data.
        let mut tiff = tiff_with_orientation(false, 6);
        tiff[8..10].copy_from_slice(&0xFFFFu16.to_be_bytes());
        tiff[22..24].copy_from_slice(&0x0113u16.to_be_bytes()); // no orientation entry any more
        assert_eq!(
            inspect(&headers(&app1_exif(&tiff), 10, 20))
                .unwrap()
                .orientation,
            1
        );
        // An XMP APP1 is not EXIF.
        let mut xmp = vec![0xFF, 0xE1, 0x00, 0x0A];
        xmp.extend_from_slice(b"http:/x");
        xmp.push(0);
        assert_eq!(inspect(&headers(&xmp, 10, 20)).unwrap().orientation, 1);
    }

    #[test]
    fn inspect_accepts_fill_bytes_and_skips_other_segments() {
        let extra = [
            0xFF, 0xFF, 0xFF, 0xFE, 0x00, 0x05, b'a', b'b', b'c', // COM after fill bytes
            0xFF, 0xE0, 0x00, 0x02, // empty APP0
        ];
        let info = inspect(&headers(&extra, 33, 44)).unwrap();
        assert_eq!((info.width, info.height), (33, 44));
    }

    #[test]
    fn inspect_errors() {
        assert!(matches!(inspect(&[]), Err(PhotoError::Empty)));
        assert!(matches!(inspect(b"GIF89a"), Err(PhotoError::NotAJpeg)));
        assert!(matches!(
            inspect(&[0xFF, 0xD8, 0xFF, 0xD9]),
            Err(PhotoError::NoFrameHeader)
        ));
        assert!(matches!(
            inspect(&[0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02]),
            Err(PhotoError::NoFrameHeader)
        ));
        // Segment length runs past the end.
        assert!(matches!(
            inspect(&[0xFF, 0xD8, 0xFF, 0xE1, 0x10, 0x00, 1, 2, 3]),
            Err(PhotoError::Truncated(_))
        ));
        // Length field cut off.
        assert!(matches!(
            inspect(&[0xFF, 0xD8, 0xFF, 0xE1, 0x10]),
            Err(PhotoError::Truncated(_))
        ));
        // Ends after a complete segment without a frame header.
        assert!(matches!(
            inspect(&[0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x02]),
            Err(PhotoError::Truncated(_))
        ));
        // Length below 2.
        assert!(matches!(
            inspect(&[0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01, 0, 0]),
            Err(PhotoError::Malformed(_))
        ));
        // Garbage where a marker should be.
        assert!(matches!(
            inspect(&[0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x02, 0x12, 0x34]),
            Err(PhotoError::Malformed(_))
        ));
        // Height 0 (DNL) and width 0.
        assert!(matches!(
            inspect(&headers(&[], 16, 0)),
            Err(PhotoError::Unsupported(_))
        ));
        assert!(matches!(
            inspect(&headers(&[], 0, 16)),
            Err(PhotoError::Malformed(_))
        ));
        // Frame header whose length disagrees with its component count.
        let mut bad = headers(&[], 16, 16);
        bad[13] = 4;
        assert!(matches!(inspect(&bad), Err(PhotoError::Malformed(_))));
    }

    #[test]
    fn inspect_finds_frame_of_any_sof_type() {
        let mut bytes = headers(&[], 100, 50);
        bytes[3] = 0xC2; // progressive
        assert_eq!(inspect(&bytes).unwrap().width, 100);
        bytes[3] = 0xC9; // arithmetic: inspect still reports the size
        assert_eq!(inspect(&bytes).unwrap().height, 50);
    }

    /// The DC luminance table of ITU T.81 Annex K.
    fn dc_luma() -> RawHuffman {
        RawHuffman {
            counts: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
            values: (0..12).collect(),
        }
    }

    #[test]
    fn huffman_decodes_standard_table() {
        let table = Huffman::build(&dc_luma()).unwrap();
        // Codes: 0 -> 00, 1 -> 010, 5 -> 110, 6 -> 1110, 11 -> 111111110
        // Bits: 00 010 110 1110 111111110 = 0001 0110 1110 1111 1111 0(pad 1s)
        let data = [0b0001_0110, 0b1110_1111, 0b1111_0111];
        let mut r = BitReader::new(&data);
        assert_eq!(r.decode(&table).unwrap(), 0);
        assert_eq!(r.decode(&table).unwrap(), 1);
        assert_eq!(r.decode(&table).unwrap(), 5);
        assert_eq!(r.decode(&table).unwrap(), 6);
        assert_eq!(r.decode(&table).unwrap(), 11);
        assert_eq!(r.consumed, 21);
        r.finish().unwrap();
    }

    #[test]
    fn huffman_long_codes_and_invalid_code() {
        // One code of each length 1..=16: code of length n is (n-1) ones and a zero.
        let raw = RawHuffman {
            counts: [1u8; 16],
            values: (0..16).collect(),
        };
        let table = Huffman::build(&raw).unwrap();
        // Code of length 12 is 1111_1111_1110.
        let data = [0xFF, 0x00, 0xE0];
        let mut r = BitReader::new(&data);
        assert_eq!(r.decode(&table).unwrap(), 11);
        // The 16-bit code is 1111_1111_1111_1110, so sixteen ones are no code.
        let data = [0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00];
        let mut r = BitReader::new(&data);
        assert!(matches!(r.decode(&table), Err(PhotoError::DecodeFailed(_))));
    }

    #[test]
    fn huffman_rejects_overfull_table() {
        let raw = RawHuffman {
            counts: [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            values: vec![0, 1, 2],
        };
        assert!(matches!(
            Huffman::build(&raw),
            Err(PhotoError::Malformed(_))
        ));
        assert!(check_code_space(&raw.counts).is_err());
        assert!(check_code_space(&dc_luma().counts).is_ok());
    }

    #[test]
    fn bit_reader_unstuffs_and_detects_overrun() {
        let data = [0xFF, 0x00, 0x80];
        let mut r = BitReader::new(&data);
        assert_eq!(r.available, 16);
        assert_eq!(r.bits(8), 0xFF);
        assert_eq!(r.bits(1), 1);
        assert!(r.finish().is_ok()); // 7 padding bits left
        assert_eq!(r.bits(16), 0); // zeros past the end
        assert!(matches!(
            r.check_overrun(),
            Err(PhotoError::DecodeFailed(_))
        ));

        let data = [0x12, 0x34];
        let mut r = BitReader::new(&data);
        r.bits(4);
        assert!(matches!(r.finish(), Err(PhotoError::DecodeFailed(_))));
    }

    #[test]
    fn split_scan_restart_markers() {
        // data: 11 22 | RST0 | 33 FF00 | RST1 | 44 | fill FF FF then EOI
        let bytes = [
            0x11, 0x22, 0xFF, 0xD0, 0x33, 0xFF, 0x00, 0xFF, 0xD1, 0x44, 0xFF, 0xFF, 0xFF, 0xD9,
        ];
        let (intervals, end) = split_scan(&bytes, 0).unwrap();
        assert_eq!(intervals, vec![0..2, 4..7, 9..10]);
        assert_eq!(end, 10);
        assert_eq!(read_marker(&bytes, end).unwrap(), (EOI, 14));

        let out_of_order = [0x11, 0xFF, 0xD3, 0x22, 0xFF, 0xD9];
        assert!(matches!(
            split_scan(&out_of_order, 0),
            Err(PhotoError::DecodeFailed(_))
        ));
        let no_end = [0x11, 0x22, 0xFF, 0x00, 0x33];
        assert!(matches!(
            split_scan(&no_end, 0),
            Err(PhotoError::Truncated(_))
        ));
        let ends_in_ff = [0x11, 0xFF];
        assert!(matches!(
            split_scan(&ends_in_ff, 0),
            Err(PhotoError::Truncated(_))
        ));
    }

    #[test]
    fn thumbnail_dimensions_fit_and_never_enlarge() {
        assert_eq!(thumbnail_dimensions(640, 480, 320), (320, 240));
        assert_eq!(thumbnail_dimensions(480, 640, 320), (240, 320));
        assert_eq!(thumbnail_dimensions(100, 50, 320), (100, 50));
        assert_eq!(thumbnail_dimensions(10_000, 1, 320), (320, 1));
        assert_eq!(thumbnail_dimensions(1000, 333, 320), (320, 107));
        assert_eq!(thumbnail_dimensions(5, 5, 0), (1, 1));
    }

    fn encoded_gradient(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
        });
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(&img)
            .unwrap();
        out
    }

    #[test]
    fn strip_keeps_scan_data_and_drops_comment() {
        let original = encoded_gradient(64, 48);
        let mut with_comment = original[..2].to_vec();
        with_comment.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x06, b'S', b'E', b'C', b'R']);
        with_comment.extend_from_slice(&original[2..]);
        let stripped = strip_and_validate(&with_comment).unwrap();
        assert!(!stripped.windows(4).any(|w| w == b"SECR"));
        assert_eq!(stripped.len(), original.len());
        let sos = original.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        assert!(stripped.ends_with(&original[sos..]));
    }

    #[test]
    fn strip_rejects_scan_with_a_missing_block() {
        let original = encoded_gradient(64, 48);
        // Truncate the scan data a little and re-append EOI: structurally fine,
        // but the blocks no longer add up.
        let cut = original.len() - 40;
        let mut broken = original[..cut].to_vec();
        while broken.last() == Some(&0xFF) {
            broken.pop();
        }
        broken.extend_from_slice(&[0xFF, 0xD9]);
        assert!(matches!(
            strip_and_validate(&broken),
            Err(PhotoError::DecodeFailed(_))
        ));
    }
}
