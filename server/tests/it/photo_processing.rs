//! Photo processing: metadata (EXIF, GPS, comments, ...) must be gone from
//! everything `photo::process` returns, and hostile or broken files must give
//! an error, never a panic or a huge allocation.
//!
//! All fixtures are made in code: a real JPEG from the `image` encoder with a
//! hand-built EXIF APP1 segment spliced in. The `image` encoder only writes
//! baseline JPEG without restart markers, so two tiny files made with
//! libjpeg-turbo's `cjpeg` (progressive with restart intervals, baseline with
//! restart intervals) come from `jpeg/testdata/`, shared with kring-jpeg.

#![allow(clippy::unwrap_used)]

use crate::fixtures;
use fixtures::*;

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, GenericImageView, ImageEncoder, ImageFormat, Rgb};
use kring_server::photo::{self, JpegInfo, PhotoError, PhotoLimits, ProcessedPhoto};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// Fixture generation
// ---------------------------------------------------------------------------

/// Offset of the first SOS marker, and where its entropy-coded data starts.
fn find_scan(jpeg: &[u8]) -> (usize, usize) {
    let mut pos = 2;
    loop {
        assert_eq!(jpeg[pos], 0xFF, "test helper lost track of segments");
        let marker = jpeg[pos + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        if marker == 0xDA {
            return (pos, pos + 2 + len);
        }
        pos += 2 + len;
    }
}

/// Marker codes of the segments before the first SOS.
fn header_markers(jpeg: &[u8]) -> Vec<u8> {
    let (sos, _) = find_scan(jpeg);
    let mut pos = 2;
    let mut markers = Vec::new();
    while pos < sos {
        markers.push(jpeg[pos + 1]);
        pos += 2 + usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
    }
    markers
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn decode(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory_with_format(bytes, ImageFormat::Jpeg).unwrap()
}

fn read_exif(bytes: &[u8]) -> Result<exif::Exif, exif::Error> {
    exif::Reader::new().read_from_container(&mut Cursor::new(bytes))
}

fn has_gps_fields(bytes: &[u8]) -> bool {
    read_exif(bytes)
        .map(|e| e.fields().any(|f| f.tag.context() == exif::Context::Gps))
        .unwrap_or(false)
}

/// The progressive and the baseline-with-restarts files of `kring-jpeg`'s
/// tests (`jpeg/testdata/README.md` says how they were made).
const RESTART_FIXTURES: [&[u8]; 2] = [
    include_bytes!("../../../jpeg/testdata/progressive-restart.jpg"),
    include_bytes!("../../../jpeg/testdata/baseline-restart.jpg"),
];

fn process(bytes: &[u8]) -> Result<ProcessedPhoto, PhotoError> {
    photo::process(bytes, &PhotoLimits::default())
}

fn assert_clean(p: &ProcessedPhoto) {
    for sentinel in [GPS_SENTINEL, DESCRIPTION_SENTINEL, COMMENT_SENTINEL] {
        assert!(!contains(&p.jpeg, sentinel), "sentinel left in jpeg");
        assert!(
            !contains(&p.thumbnail, sentinel),
            "sentinel left in thumbnail"
        );
    }
    for out in [&p.jpeg, &p.thumbnail] {
        assert!(!has_gps_fields(out), "GPS fields left");
        assert!(read_exif(out).is_err(), "an EXIF block is left");
        assert!(!contains(out, b"Exif\0\0"), "EXIF header bytes left");
        assert!(!header_markers(out).contains(&0xE1), "APP1 left");
        assert!(!header_markers(out).contains(&0xFE), "COM left");
    }
    assert_eq!(p.sha256, hex::encode(Sha256::digest(&p.jpeg)));
}

fn is_red(pixel: Rgb<u8>) -> bool {
    let [r, g, b] = pixel.0;
    r > 200 && g < 70 && b < 70
}

/// Which corner of `image` holds the red mark: (right, bottom).
fn mark_corner(image: &DynamicImage) -> (bool, bool) {
    let rgb = image.to_rgb8();
    let (w, h) = rgb.dimensions();
    let inset = (w.min(h) / 16).max(1);
    let corners = [
        (false, false, inset, inset),
        (true, false, w - 1 - inset, inset),
        (false, true, inset, h - 1 - inset),
        (true, true, w - 1 - inset, h - 1 - inset),
    ];
    let red: Vec<(bool, bool)> = corners
        .iter()
        .filter(|(_, _, x, y)| is_red(*rgb.get_pixel(*x, *y)))
        .map(|&(right, bottom, _, _)| (right, bottom))
        .collect();
    assert_eq!(red.len(), 1, "expected exactly one red corner, got {red:?}");
    red[0]
}

// ---------------------------------------------------------------------------
// The fixtures are what they claim to be
// ---------------------------------------------------------------------------

#[test]
fn fixture_really_carries_gps_and_sentinels() {
    let fixture = jpeg_with_exif(Some(1));
    let exif = read_exif(&fixture).expect("fixture has EXIF");
    assert!(
        exif.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_some()
    );
    assert!(
        exif.get_field(exif::Tag::GPSProcessingMethod, exif::In::PRIMARY)
            .is_some()
    );
    assert!(
        exif.get_field(exif::Tag::ImageDescription, exif::In::PRIMARY)
            .is_some()
    );
    let orientation = exif
        .get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0));
    assert_eq!(orientation, Some(1));
    assert!(has_gps_fields(&fixture));
    assert!(contains(&fixture, GPS_SENTINEL));
    assert!(contains(&fixture, DESCRIPTION_SENTINEL));
    assert_eq!(decode(&fixture).dimensions(), (WIDTH, HEIGHT));

    let rotated = jpeg_with_exif(Some(6));
    let orientation = read_exif(&rotated)
        .unwrap()
        .get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0));
    assert_eq!(orientation, Some(6));
}

#[test]
fn inspect_reads_size_and_orientation() {
    assert_eq!(
        photo::inspect(&jpeg_with_exif(Some(6))).unwrap(),
        JpegInfo {
            width: WIDTH,
            height: HEIGHT,
            orientation: 6
        }
    );
    assert_eq!(
        photo::inspect(&jpeg_with_exif(None)).unwrap().orientation,
        1
    );
    assert_eq!(photo::inspect(&plain_jpeg()).unwrap().orientation, 1);
}

// ---------------------------------------------------------------------------
// Metadata removal
// ---------------------------------------------------------------------------

#[test]
fn exif_and_gps_are_stripped_losslessly() {
    let original = plain_jpeg();
    for orientation in [Some(1), None] {
        let fixture = jpeg_with_exif(orientation);
        let p = process(&fixture).unwrap();
        assert_clean(&p);
        assert_eq!((p.width, p.height), (WIDTH, HEIGHT));
        assert_eq!(decode(&p.jpeg).dimensions(), (WIDTH, HEIGHT));

        // Lossless: scan data byte for byte, pixels identical.
        let (sos, _) = find_scan(&original);
        assert!(p.jpeg.ends_with(&original[sos..]));
        assert_eq!(
            decode(&p.jpeg).to_rgb8().as_raw(),
            decode(&original).to_rgb8().as_raw()
        );
        assert!(p.jpeg.len() < fixture.len());
    }
}

#[test]
fn thumbnail_fits_and_keeps_aspect() {
    let p = process(&jpeg_with_exif(Some(1))).unwrap();
    let thumb = decode(&p.thumbnail);
    assert_eq!(thumb.dimensions(), (320, 240));
    assert_eq!(mark_corner(&thumb), (false, false));

    let limits = PhotoLimits {
        thumb_max_side: 100,
        ..PhotoLimits::default()
    };
    let p = photo::process(&jpeg_with_exif(Some(6)), &limits).unwrap();
    assert_eq!(decode(&p.thumbnail).dimensions(), (75, 100));
}

#[test]
fn small_photo_thumbnail_is_not_enlarged() {
    let small = encode(&gradient(100, 80));
    let p = process(&small).unwrap();
    assert_eq!(decode(&p.thumbnail).dimensions(), (100, 80));
    assert_eq!((p.width, p.height), (100, 80));
}

#[test]
fn orientation_6_is_applied_and_dimensions_swap() {
    let p = process(&jpeg_with_exif(Some(6))).unwrap();
    assert_clean(&p);
    assert_eq!((p.width, p.height), (HEIGHT, WIDTH));
    let image = decode(&p.jpeg);
    assert_eq!(image.dimensions(), (HEIGHT, WIDTH));
    // Orientation 6 = rotate 90 degrees clockwise: top-left goes to top-right.
    assert_eq!(mark_corner(&image), (true, false));
    let thumb = decode(&p.thumbnail);
    assert_eq!(thumb.dimensions(), (240, 320));
    assert_eq!(mark_corner(&thumb), (true, false));
}

#[test]
fn every_orientation_is_applied() {
    // Where the stored top-left corner ends up: (right, bottom).
    let expected = [
        (1, (false, false)),
        (2, (true, false)),
        (3, (true, true)),
        (4, (false, true)),
        (5, (false, false)),
        (6, (true, false)),
        (7, (true, true)),
        (8, (false, true)),
    ];
    for (orientation, corner) in expected {
        let p = process(&jpeg_with_exif(Some(orientation))).unwrap();
        assert_clean(&p);
        let swapped = orientation >= 5;
        let dims = if swapped {
            (HEIGHT, WIDTH)
        } else {
            (WIDTH, HEIGHT)
        };
        assert_eq!((p.width, p.height), dims, "orientation {orientation}");
        let image = decode(&p.jpeg);
        assert_eq!(image.dimensions(), dims, "orientation {orientation}");
        assert_eq!(mark_corner(&image), corner, "orientation {orientation}");
        assert_eq!(
            mark_corner(&decode(&p.thumbnail)),
            corner,
            "thumbnail, orientation {orientation}"
        );
    }
}

#[test]
fn comment_segment_is_removed() {
    let mut comment = COMMENT_SENTINEL.to_vec();
    comment.extend_from_slice(b" photographed by juf Anouk");
    let fixture = splice_after_soi(&plain_jpeg(), &[segment(0xFE, &comment)]);
    assert!(contains(&fixture, COMMENT_SENTINEL));
    assert!(header_markers(&fixture).contains(&0xFE));
    let p = process(&fixture).unwrap();
    assert_clean(&p);
    assert_eq!(decode(&p.jpeg).dimensions(), (WIDTH, HEIGHT));
}

#[test]
fn other_metadata_segments_jfif_thumbnail_and_trailer_are_removed() {
    let original = plain_jpeg();
    // JFIF APP0 with a 2x1 embedded RGB thumbnail whose "pixels" are a sentinel.
    let mut jfif = b"JFIF\0\x01\x02\x01\x00\x48\x00\x48".to_vec();
    jfif.extend_from_slice(&[2, 1]);
    jfif.extend_from_slice(b"KRIN-G"); // 2 x 1 x 3 bytes
    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>".to_vec();
    xmp.extend_from_slice(GPS_SENTINEL);
    xmp.extend_from_slice(b"</x:xmpmeta>");
    let mut icc = b"ICC_PROFILE\0\x01\x01".to_vec();
    icc.extend_from_slice(DESCRIPTION_SENTINEL);
    let mut iptc = b"Photoshop 3.0\0".to_vec();
    iptc.extend_from_slice(COMMENT_SENTINEL);
    let mut fixture = original[..2].to_vec();
    for s in [
        segment(0xE0, &jfif),
        exif_segment(Some(1)),
        segment(0xE1, &xmp),
        segment(0xE2, &icc),
        segment(0xED, &iptc),
        segment(0xEF, DESCRIPTION_SENTINEL),
    ] {
        fixture.extend_from_slice(&s);
    }
    // Skip the encoder's own JFIF APP0 so there is one JFIF segment.
    assert_eq!(original[3], 0xE0);
    let after_own_app0 = 4 + usize::from(u16::from_be_bytes([original[4], original[5]]));
    fixture.extend_from_slice(&original[after_own_app0..]);
    // Data after EOI (some phones append their own blocks there).
    fixture.extend_from_slice(b"TRAILER");
    fixture.extend_from_slice(GPS_SENTINEL);
    assert!(contains(&fixture, b"KRIN-G"));

    let p = process(&fixture).unwrap();
    assert_clean(&p);
    assert!(!contains(&p.jpeg, b"KRIN-G"));
    assert!(!contains(&p.jpeg, b"TRAILER"));
    assert!(!contains(&p.jpeg, b"http://ns.adobe.com"));
    assert!(!contains(&p.jpeg, b"ICC_PROFILE"));
    assert!(!contains(&p.jpeg, b"Photoshop"));
    assert!(p.jpeg.ends_with(&[0xFF, 0xD9]));
    // Only the minimal JFIF APP0 and the decoding tables remain.
    for marker in header_markers(&p.jpeg) {
        assert!(
            matches!(marker, 0xE0 | 0xDB | 0xC0 | 0xC4),
            "unexpected segment 0xFF{marker:02X}"
        );
    }
    let jfif_len = u16::from_be_bytes([p.jpeg[4], p.jpeg[5]]);
    assert_eq!(jfif_len, 16, "JFIF APP0 must have no thumbnail");
    assert_eq!(
        decode(&p.jpeg).to_rgb8().as_raw(),
        decode(&original).to_rgb8().as_raw()
    );
}

#[test]
fn adobe_colour_transform_segment_is_kept_minimal() {
    let original = plain_jpeg();
    // Adobe APP14: version 100, flags0 0x8000, flags1 0, transform 1 (YCbCr),
    // followed by bytes that must not survive.
    let mut adobe = b"Adobe\x00\x64\x80\x00\x00\x00\x01".to_vec();
    adobe.extend_from_slice(COMMENT_SENTINEL);
    let fixture = splice_after_soi(&original, &[segment(0xEE, &adobe)]);
    let p = process(&fixture).unwrap();
    assert_clean(&p);
    let expected = segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01");
    assert!(contains(&p.jpeg, &expected));
    assert_eq!(
        decode(&p.jpeg).to_rgb8().as_raw(),
        decode(&original).to_rgb8().as_raw()
    );
}

#[test]
fn grayscale_photo_is_processed() {
    let gray = DynamicImage::ImageRgb8(gradient(200, 100)).to_luma8();
    let mut plain = Vec::new();
    JpegEncoder::new_with_quality(&mut plain, 85)
        .encode_image(&gray)
        .unwrap();
    let fixture = splice_after_soi(&plain, &[exif_segment(Some(8))]);
    let p = process(&fixture).unwrap();
    assert_clean(&p);
    assert_eq!((p.width, p.height), (100, 200));
    assert_eq!(decode(&p.jpeg).dimensions(), (100, 200));
    assert_eq!(decode(&p.thumbnail).dimensions(), (100, 200));
}

#[test]
fn embedded_progressive_and_restart_files_are_accepted() {
    for plain in RESTART_FIXTURES {
        let plain = plain.to_vec();
        assert_eq!(decode(&plain).dimensions(), (48, 32));
        let fixture = splice_after_soi(&plain, &[exif_segment(Some(3))]);
        let p = process(&fixture).unwrap();
        assert_clean(&p);
        assert_eq!((p.width, p.height), (48, 32));
        assert_eq!(mark_corner(&decode(&p.jpeg)), (true, true));

        // Orientation 1: kept byte for byte after the headers.
        let p = process(&splice_after_soi(&plain, &[exif_segment(Some(1))])).unwrap();
        let (sos, _) = find_scan(&plain);
        assert!(p.jpeg.ends_with(&plain[sos..]));
    }
}

#[test]
fn embedded_progressive_and_restart_files_with_broken_scans_fail() {
    for plain in RESTART_FIXTURES {
        let plain = plain.to_vec();
        // End of the first scan: the first marker that is neither a stuffed
        // zero nor a restart marker.
        let (_, data) = find_scan(&plain);
        let scan_end = (data..plain.len() - 1)
            .find(|&i| plain[i] == 0xFF && !matches!(plain[i + 1], 0x00 | 0xD0..=0xD7))
            .unwrap();
        // Cut anywhere inside the first scan, glue EOI on: always refused.
        for cut in data..scan_end {
            let mut broken = plain[..cut].to_vec();
            while broken.last() == Some(&0xFF) {
                broken.pop();
            }
            broken.extend_from_slice(&[0xFF, 0xD9]);
            assert!(process(&broken).is_err(), "cut at {cut} accepted");
        }
        // Truncate anywhere without EOI: always refused.
        for cut in 0..plain.len() - 1 {
            assert!(process(&plain[..cut]).is_err(), "cut at {cut} accepted");
        }
    }
}

// ---------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------

#[test]
fn huge_declared_dimensions_are_refused_before_decoding() {
    let mut bytes = vec![0xFF, 0xD8];
    // SOF0: 8-bit, 50000 x 50000, 3 components.
    bytes.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
    bytes.extend_from_slice(&50_000u16.to_be_bytes());
    bytes.extend_from_slice(&50_000u16.to_be_bytes());
    bytes.extend_from_slice(&[0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    // Pad to 300 bytes with a comment, then a (bogus) scan header and EOI.
    let pad = 300 - bytes.len() - 4 - 6;
    bytes.extend_from_slice(&segment(0xFE, &vec![b'x'; pad]));
    bytes.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9]);
    assert_eq!(bytes.len(), 300);
    assert_eq!(
        photo::inspect(&bytes).unwrap(),
        JpegInfo {
            width: 50_000,
            height: 50_000,
            orientation: 1
        }
    );

    let start = Instant::now();
    let result = process(&bytes);
    let elapsed = start.elapsed();
    assert!(
        matches!(
            result,
            Err(PhotoError::ImageTooLarge {
                width: 50_000,
                height: 50_000,
                max_pixels: 40_000_000
            })
        ),
        "{result:?}"
    );
    assert!(elapsed < Duration::from_millis(500), "took {elapsed:?}");
}

#[test]
fn pixel_limit_is_configurable() {
    let limits = PhotoLimits {
        max_pixels: u64::from(WIDTH * HEIGHT) - 1,
        ..PhotoLimits::default()
    };
    assert!(matches!(
        photo::process(&plain_jpeg(), &limits),
        Err(PhotoError::ImageTooLarge { .. })
    ));
    let limits = PhotoLimits {
        max_pixels: u64::from(WIDTH * HEIGHT),
        ..PhotoLimits::default()
    };
    assert!(photo::process(&plain_jpeg(), &limits).is_ok());
}

#[test]
fn file_size_limit() {
    let fixture = jpeg_with_exif(Some(1));
    let limits = PhotoLimits {
        max_bytes: 1000,
        ..PhotoLimits::default()
    };
    let result = photo::process(&fixture, &limits);
    assert!(
        matches!(result, Err(PhotoError::FileTooLarge { size, max: 1000 }) if size == fixture.len() as u64),
        "{result:?}"
    );
}

#[test]
fn defaults() {
    let limits = PhotoLimits::default();
    assert_eq!(limits.max_pixels, 40_000_000);
    assert_eq!(limits.max_bytes, 25 * 1024 * 1024);
    assert_eq!(limits.thumb_max_side, 320);
}

#[test]
fn random_bytes_and_png_are_not_jpeg() {
    let mut random = pseudo_random(7, 4096);
    random[0] = 0x42;
    assert!(matches!(process(&random), Err(PhotoError::NotAJpeg)));
    assert!(matches!(photo::inspect(&random), Err(PhotoError::NotAJpeg)));

    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(
            gradient(32, 32).as_raw(),
            32,
            32,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    assert!(matches!(process(&png), Err(PhotoError::NotAJpeg)));
    assert!(!photo::is_jpeg_magic(&png));
    assert!(photo::is_jpeg_magic(&plain_jpeg()));
}

#[test]
fn empty_and_tiny_inputs_error() {
    assert!(matches!(process(&[]), Err(PhotoError::Empty)));
    assert!(matches!(process(&[0xFF]), Err(PhotoError::NotAJpeg)));
    assert!(matches!(process(&[0xFF, 0xD8]), Err(PhotoError::NotAJpeg)));
    assert!(process(&[0xFF, 0xD8, 0xFF]).is_err());
    assert!(process(&[0xFF, 0xD8, 0xFF, 0xD9]).is_err());
}

#[test]
fn unsupported_coding_is_refused() {
    let mut arithmetic = plain_jpeg();
    let (sos, _) = find_scan(&arithmetic);
    let sof = arithmetic[..sos]
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .unwrap();
    arithmetic[sof + 1] = 0xC9;
    assert!(matches!(
        process(&arithmetic),
        Err(PhotoError::Unsupported(_))
    ));
}

#[test]
fn truncated_scan_data_errors() {
    let fixture = jpeg_with_exif(Some(1));
    let (_, data) = find_scan(&fixture);
    let middle = data + (fixture.len() - data) / 2;
    let truncated = &fixture[..middle];
    assert!(matches!(process(truncated), Err(PhotoError::Truncated(_))));

    // Same, but with an end-of-image marker glued on: the structure is
    // intact, the blocks are not.
    let mut patched = truncated.to_vec();
    while patched.last() == Some(&0xFF) {
        patched.pop();
    }
    patched.extend_from_slice(&[0xFF, 0xD9]);
    assert!(matches!(
        process(&patched),
        Err(PhotoError::DecodeFailed(_))
    ));

    // Orientation 6 goes through the decoder path; it must fail the same way.
    let rotated = jpeg_with_exif(Some(6));
    let (_, data) = find_scan(&rotated);
    let mut patched = rotated[..data + (rotated.len() - data) / 3].to_vec();
    while patched.last() == Some(&0xFF) {
        patched.pop();
    }
    patched.extend_from_slice(&[0xFF, 0xD9]);
    assert!(matches!(
        process(&patched),
        Err(PhotoError::DecodeFailed(_))
    ));
}

#[test]
fn garbage_scan_data_errors() {
    let fixture = jpeg_with_exif(Some(1));
    let (_, data) = find_scan(&fixture);
    let scan_len = fixture.len() - 2 - data;
    let (from, to) = (data + scan_len / 3, data + 2 * scan_len / 3);

    // Garbage without 0xFF bytes: every marker is still where it belongs.
    let mut no_markers = fixture.clone();
    for (byte, noise) in no_markers[from..to]
        .iter_mut()
        .zip(pseudo_random(99, to - from))
    {
        *byte = noise.min(0xFE);
    }
    assert!(matches!(
        process(&no_markers),
        Err(PhotoError::DecodeFailed(_))
    ));

    // Raw noise (contains 0xFF, so also stray markers).
    let mut noisy = fixture.clone();
    noisy[from..to].copy_from_slice(&pseudo_random(5, to - from));
    assert!(process(&noisy).is_err());

    // A zeroed stretch.
    let mut zeroed = fixture.clone();
    zeroed[from..to].fill(0);
    assert!(process(&zeroed).is_err());
}

#[test]
fn every_truncation_errors() {
    let fixture = jpeg_with_exif(Some(1));
    for cut in (0..fixture.len() - 1).step_by(97) {
        assert!(process(&fixture[..cut]).is_err(), "cut at {cut} accepted");
    }
    // Losing only the final EOI byte is also a truncation.
    assert!(process(&fixture[..fixture.len() - 1]).is_err());
}

#[test]
fn random_corruption_never_panics_or_leaks_metadata() {
    let fixture = small_jpeg_with_exif(Some(6));
    let noise = pseudo_random(2024, 3 * 300);
    let mut accepted = 0;
    for chunk in noise.chunks_exact(3) {
        let mut mutated = fixture.clone();
        let pos = usize::from(u16::from_be_bytes([chunk[0], chunk[1]])) % mutated.len();
        mutated[pos] = chunk[2];
        if let Ok(p) = process(&mutated) {
            accepted += 1;
            for out in [&p.jpeg, &p.thumbnail] {
                assert!(!contains(out, GPS_SENTINEL));
                assert!(!contains(out, DESCRIPTION_SENTINEL));
            }
        }
    }
    // Some single-byte changes are harmless (inside the EXIF block, or a
    // coefficient bit), so not all are refused; but many must be.
    assert!(accepted < 300, "no corruption was detected");
}

#[test]
#[ignore = "needs a directory of real photos: KRING_PHOTO_CORPUS=/path cargo test -- --ignored"]
fn corpus_of_real_photos() {
    let Ok(dir) = std::env::var("KRING_PHOTO_CORPUS") else {
        return;
    };
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let start = Instant::now();
        let result = process(&bytes);
        eprintln!(
            "{}: {:?} in {:?}",
            path.display(),
            result.as_ref().map(|p| (p.width, p.height)),
            start.elapsed()
        );
        if let Ok(p) = result {
            count += 1;
            assert!(read_exif(&p.jpeg).is_err());
            decode(&p.thumbnail);
            if photo::inspect(&bytes).unwrap().orientation == 1 {
                // Stripping must not change a single decoded pixel.
                assert_eq!(
                    decode(&p.jpeg).to_rgb8().as_raw(),
                    decode(&bytes).to_rgb8().as_raw(),
                    "{}",
                    path.display()
                );
            } else {
                decode(&p.jpeg);
            }
        }
    }
    assert!(count > 0);
}

#[test]
#[ignore = "timing report: cargo test -- --ignored --nocapture timing"]
fn timing_2mp() {
    let big = encode(&gradient(1920, 1080));
    for orientation in [1u16, 6] {
        let fixture = splice_after_soi(&big, &[exif_segment(Some(orientation))]);
        let start = Instant::now();
        let p = process(&fixture).unwrap();
        eprintln!(
            "1920x1080, {} bytes, orientation {orientation}: {:?} -> {} bytes",
            fixture.len(),
            start.elapsed(),
            p.jpeg.len()
        );
    }
}
