//! JPEG helpers: metadata stripping, previews and thumbnails.

use image::{Rgb, RgbImage};
use kring_hardware::{HardwareError, jpeg_dimensions, preview, strip_metadata, thumbnail_jpeg};

fn encode(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(image)
        .unwrap();
    bytes
}

fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x ^ y) & 0xFF) as u8,
        ])
    })
}

fn decode(jpeg: &[u8]) -> Vec<u8> {
    jpeg_decoder::Decoder::new(jpeg).decode().unwrap()
}

fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 2).unwrap();
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&len.to_be_bytes());
    s.extend_from_slice(payload);
    s
}

/// Inserts `segments` right after the APP0 JFIF segment that the image
/// crate writes first.
fn with_segments(jpeg: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    assert_eq!(&jpeg[2..4], &[0xFF, 0xE0], "encoder starts with APP0");
    let app0_len = usize::from(u16::from_be_bytes([jpeg[4], jpeg[5]]));
    let split = 4 + app0_len;
    let mut out = jpeg[..split].to_vec();
    for s in segments {
        out.extend_from_slice(s);
    }
    out.extend_from_slice(&jpeg[split..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn strip_metadata_removes_exif_and_comments_and_keeps_the_pixels() {
    let clean = encode(&photo(320, 240), 90);
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    exif.extend_from_slice(b"GPS-SENTINEL 52.3702N 4.8952E");
    let dirty = with_segments(
        &clean,
        &[
            segment(0xE1, &exif),
            segment(
                0xE1,
                b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>XMP-SENTINEL</x:xmpmeta>",
            ),
            segment(0xE2, b"ICC_PROFILE\0\x01\x01ICC-SENTINEL"),
            segment(0xED, b"Photoshop 3.0\0IPTC-SENTINEL"),
            segment(0xFE, b"COMMENT-SENTINEL: Sem op het klimrek"),
            segment(0xE0, b"JFXX\0\x10THUMB-SENTINEL"),
        ],
    );
    let mut dirty_with_tail = dirty.clone();
    dirty_with_tail.extend_from_slice(b"TRAILER-SENTINEL");
    for sentinel in [&b"GPS-SENTINEL"[..], b"COMMENT-SENTINEL", b"XMP-SENTINEL"] {
        assert!(contains(&dirty_with_tail, sentinel));
    }
    // The dirty file decodes, to the same pixels.
    assert_eq!(decode(&dirty), decode(&clean));

    let stripped = strip_metadata(&dirty_with_tail).unwrap();
    for sentinel in [
        &b"Exif"[..],
        b"GPS-SENTINEL",
        b"XMP-SENTINEL",
        b"ICC-SENTINEL",
        b"IPTC-SENTINEL",
        b"COMMENT-SENTINEL",
        b"THUMB-SENTINEL",
        b"TRAILER-SENTINEL",
    ] {
        assert!(
            !contains(&stripped, sentinel),
            "{} survived",
            String::from_utf8_lossy(sentinel)
        );
    }
    // Lossless at the byte level: exactly the clean file again (its JFIF
    // APP0, tables, frame and scan data untouched).
    assert_eq!(stripped, clean);
    assert_eq!(decode(&stripped), decode(&dirty));
    // Idempotent.
    assert_eq!(strip_metadata(&stripped).unwrap(), stripped);
}

#[test]
fn strip_metadata_keeps_adobe_app14() {
    let clean = encode(&photo(64, 64), 90);
    let adobe = segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01");
    let with_adobe = with_segments(&clean, &[adobe.clone(), segment(0xE1, b"Exif\0\0junk")]);
    let stripped = strip_metadata(&with_adobe).unwrap();
    assert!(contains(&stripped, &adobe));
    assert!(!contains(&stripped, b"Exif"));
    assert_eq!(stripped, with_segments(&clean, &[adobe]));
}

#[test]
fn strip_metadata_refuses_non_jpeg_and_broken_input() {
    let png = {
        let mut bytes = Vec::new();
        photo(8, 8)
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        bytes
    };
    assert!(matches!(strip_metadata(&png), Err(HardwareError::NotJpeg)));
    assert!(matches!(strip_metadata(b""), Err(HardwareError::NotJpeg)));
    assert!(matches!(
        strip_metadata(b"hello world"),
        Err(HardwareError::NotJpeg)
    ));
    let jpeg = encode(&photo(64, 64), 80);
    assert!(matches!(
        strip_metadata(&jpeg[..jpeg.len() - 20]),
        Err(HardwareError::InvalidJpeg(_))
    ));
    // A segment length pointing past the end.
    let mut bad = jpeg.clone();
    bad[4] = 0xFF;
    bad[5] = 0xFF;
    assert!(strip_metadata(&bad).is_err());
    // Only SOI and EOI: no frame.
    assert!(strip_metadata(&[0xFF, 0xD8, 0xFF, 0xD9]).is_err());
}

#[test]
fn preview_fits_the_box_for_many_sizes() {
    let jpeg = encode(&photo(1920, 1080), 85);
    assert_eq!(jpeg_dimensions(&jpeg).unwrap(), (1920, 1080));
    for (max_w, max_h) in [
        (800, 480),
        (1024, 600),
        (320, 320),
        (64, 64),
        (1, 1),
        (4000, 4000),
    ] {
        let image = preview(&jpeg, max_w, max_h).unwrap();
        let (w, h) = image.dimensions();
        assert!(w <= max_w && h <= max_h, "{w}x{h} in {max_w}x{max_h}");
        assert!(w >= 1 && h >= 1);
        if max_w < 1920 && max_h < 1080 {
            assert!(
                w == max_w || h == max_h,
                "{w}x{h} should touch {max_w}x{max_h}"
            );
        }
    }
    // Never enlarged.
    assert_eq!(
        preview(&jpeg, 4000, 4000).unwrap().dimensions(),
        (1920, 1080)
    );
    // The colours survive the scaled decode (top-left is dark, bottom-right
    // red+green).
    let p = preview(&jpeg, 240, 135).unwrap();
    let tl = p.get_pixel(1, 1).0;
    let br = p.get_pixel(238, 133).0;
    assert!(tl[0] < 40 && tl[1] < 40, "{tl:?}");
    assert!(br[0] > 200 && br[1] > 200, "{br:?}");
}

#[test]
fn preview_handles_grayscale_and_refuses_garbage() {
    let gray = image::GrayImage::from_fn(200, 100, |x, _| image::Luma([(x % 256) as u8]));
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
        .encode_image(&gray)
        .unwrap();
    assert_eq!(preview(&bytes, 100, 100).unwrap().dimensions(), (100, 50));
    assert!(matches!(
        preview(b"nope", 10, 10),
        Err(HardwareError::NotJpeg)
    ));
    assert!(thumbnail_jpeg(b"nope", 10).is_err());
}

#[test]
fn thumbnail_is_a_small_jpeg() {
    let jpeg = encode(&photo(1920, 1080), 85);
    let thumb = thumbnail_jpeg(&jpeg, 320).unwrap();
    assert_eq!(&thumb[..3], &[0xFF, 0xD8, 0xFF]);
    assert_eq!(jpeg_dimensions(&thumb).unwrap(), (320, 180));
    assert!(thumb.len() < jpeg.len() / 4);
    let portrait = encode(&photo(600, 800), 85);
    assert_eq!(
        jpeg_dimensions(&thumbnail_jpeg(&portrait, 200).unwrap()).unwrap(),
        (150, 200)
    );
}
