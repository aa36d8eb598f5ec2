//! JPEG checks and processing for uploaded photos.
//!
//! Photos of children are personal data. Everything this module hands back is
//! free of metadata: no EXIF (and so no GPS), no XMP, IPTC, ICC, comments,
//! embedded thumbnails or trailing data after the end-of-image marker.
//!
//! Hostile or broken input must never panic the server nor make it allocate
//! without bound, so the file's structure is checked before anything is
//! decoded. The JPEG structure itself (segment walk, frame and scan headers,
//! Huffman tables, EXIF orientation) is `kring_jpeg`'s; this module sets the
//! limits, maps its errors onto [`PhotoError`] and decodes:
//!
//! 1. [`is_jpeg_magic`], the byte limit, [`inspect`] and the pixel limit: cheap,
//!    no pixel memory is allocated, so a tiny file declaring 50000x50000 pixels
//!    is refused here.
//! 2. A full walk over every segment *and* the entropy-coded scan data
//!    ([`kring_jpeg::strip_and_validate`], at most [`MAX_SCANS`] scans). Each
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

use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use kring_jpeg::JpegError;
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
pub use kring_jpeg::is_jpeg_magic;

/// The JPEG structure errors as the server's: the same kinds (and so the same
/// HTTP answers) as before the structure moved to `kring_jpeg`; corrupt scan
/// data is `DecodeFailed`.
impl From<JpegError> for PhotoError {
    fn from(error: JpegError) -> Self {
        match error {
            JpegError::NotJpeg => PhotoError::NotAJpeg,
            JpegError::Truncated(message) => PhotoError::Truncated(message),
            JpegError::Malformed(message) => PhotoError::Malformed(message),
            JpegError::NoFrameHeader => PhotoError::NoFrameHeader,
            JpegError::Unsupported(message) => PhotoError::Unsupported(message),
            JpegError::Corrupt(message) => PhotoError::DecodeFailed(message),
        }
    }
}

/// Walks the JPEG marker segments (no decoding) up to the first SOFn and
/// returns its width and height, plus the EXIF orientation from an APP1 Exif
/// segment before it (1 when there is none or it is invalid); see
/// [`kring_jpeg::read_header`].
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
    let info = kring_jpeg::read_header(bytes)?;
    Ok(JpegInfo {
        width: info.frame.width,
        height: info.frame.height,
        orientation: info.orientation.unwrap_or(1),
    })
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

    let stripped = kring_jpeg::strip_and_validate(bytes, MAX_SCANS)?;
    if stripped.trailing_bytes > 0 {
        tracing::debug!(
            bytes = stripped.trailing_bytes,
            "dropping data after the end-of-image marker"
        );
    }
    tracing::debug!(
        dropped = stripped.dropped_segments,
        "JPEG metadata stripped"
    );
    let stripped = stripped.jpeg;
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
        return Err(PhotoError::DecodeFailed(format!(
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
    use kring_jpeg::test_support::{app1_exif, headers, tiff_with_orientation};

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
    fn thumbnail_dimensions_fit_and_never_enlarge() {
        assert_eq!(thumbnail_dimensions(640, 480, 320), (320, 240));
        assert_eq!(thumbnail_dimensions(480, 640, 320), (240, 320));
        assert_eq!(thumbnail_dimensions(100, 50, 320), (100, 50));
        assert_eq!(thumbnail_dimensions(10_000, 1, 320), (320, 1));
        assert_eq!(thumbnail_dimensions(1000, 333, 320), (320, 107));
        assert_eq!(thumbnail_dimensions(5, 5, 0), (1, 1));
    }

    #[test]
    fn jpeg_errors_keep_their_photo_error_kinds_and_messages() {
        for (error, want) in [
            (
                JpegError::NotJpeg,
                "not a JPEG file (it does not start with the FF D8 FF signature)",
            ),
            (
                JpegError::Truncated("x".into()),
                "JPEG file is truncated: x",
            ),
            (JpegError::Malformed("x".into()), "malformed JPEG: x"),
            (
                JpegError::NoFrameHeader,
                "JPEG has no frame header (SOFn marker) before its image data",
            ),
            (JpegError::Unsupported("x".into()), "unsupported JPEG: x"),
            (
                JpegError::Corrupt("x".into()),
                "JPEG image data is corrupt or cannot be decoded: x",
            ),
        ] {
            let photo = PhotoError::from(error);
            assert!(photo.is_client_error());
            assert_eq!(photo.to_string(), want);
        }
    }

    #[test]
    fn corrupt_scan_data_is_decode_failed() {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(&image::RgbImage::from_fn(64, 48, |x, y| {
                image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
            }))
            .unwrap();
        // Truncate the scan data a little and re-append EOI: structurally fine,
        // but the blocks no longer add up.
        let mut broken = out[..out.len() - 40].to_vec();
        while broken.last() == Some(&0xFF) {
            broken.pop();
        }
        broken.extend_from_slice(&[0xFF, 0xD9]);
        assert!(matches!(
            process(&broken, &PhotoLimits::default()),
            Err(PhotoError::DecodeFailed(_))
        ));
        assert!(process(&out, &PhotoLimits::default()).is_ok());
    }
}
