//! Table tests with crafted byte strings, and two tiny real files (made with
//! libjpeg-turbo's `cjpeg`, the same as the server's photo tests use).

#![allow(clippy::unwrap_used)]

use std::borrow::Cow;

use crate::marker::*;
use crate::test_support::*;
use crate::walk::split_scan;
use crate::*;

// Made with libjpeg-turbo 2.1.5 from a 48x32 RGB image whose top-left 12x8
// pixels are red (see `testdata/README.md`); the server's tests use them too.
fn baseline() -> Vec<u8> {
    include_bytes!("../testdata/baseline-restart.jpg").to_vec()
}

fn progressive() -> Vec<u8> {
    include_bytes!("../testdata/progressive-restart.jpg").to_vec()
}

/// A structurally complete (not decodable) one-component JPEG: SOI,
/// `before`, SOF0 16x16, SOS, `data`, EOI.
fn tiny(before: &[u8], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0xFF, SOI];
    v.extend_from_slice(before);
    v.extend_from_slice(&segment(SOF0, &[8, 0, 16, 0, 16, 1, 1, 0x11, 0]));
    v.extend_from_slice(&segment(SOS, &[1, 1, 0, 0, 63, 0]));
    v.extend_from_slice(data);
    v.extend_from_slice(&[0xFF, EOI]);
    v
}

fn kind(result: &Result<impl Sized, JpegError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(JpegError::NotJpeg) => "NotJpeg",
        Err(JpegError::Truncated(_)) => "Truncated",
        Err(JpegError::Malformed(_)) => "Malformed",
        Err(JpegError::NoFrameHeader) => "NoFrameHeader",
        Err(JpegError::Unsupported(_)) => "Unsupported",
        Err(JpegError::Corrupt(_)) => "Corrupt",
    }
}

fn markers(layout: &Layout) -> Vec<u8> {
    layout.segments.iter().map(|s| s.marker).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------
// The walker
// ---------------------------------------------------------------------------

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
fn sof_markers() {
    let sofs: Vec<u8> = (0..=255u8).filter(|&m| is_sof(m)).collect();
    assert_eq!(
        sofs,
        [
            0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF
        ]
    );
    assert!(is_rst(RST0) && is_rst(RST7) && !is_rst(SOI));
    assert!(is_app(APP0) && is_app(APP15) && !is_app(COM));
}

/// Name, input, and the segment markers of its layout or the error kind.
type WalkCase = (&'static str, Vec<u8>, Result<Vec<u8>, &'static str>);

#[test]
fn walk_table() {
    let ok = |markers: &[u8]| Ok::<Vec<u8>, &'static str>(markers.to_vec());
    let with_tail = [tiny(&[], &[0x12, 0x34]), b"TRAILER".to_vec()].concat();
    let mut fill = vec![0xFF, SOI, 0xFF, 0xFF, 0xFF];
    fill.extend_from_slice(&segment(SOF0, &[8, 0, 16, 0, 16, 1, 1, 0x11, 0])[1..]);
    fill.extend_from_slice(&[0xFF, 0xFF]);
    fill.extend_from_slice(&segment(SOS, &[1, 1, 0, 0, 63, 0])[1..]);
    fill.extend_from_slice(&[0x12, 0xFF, 0xFF, 0xFF, 0xD9]);
    let no_eoi = {
        let t = tiny(&[], &[0x12, 0x34]);
        t[..t.len() - 2].to_vec()
    };
    let table: Vec<WalkCase> = vec![
        ("minimal", tiny(&[], &[0x12, 0x34]), ok(&[SOF0, SOS])),
        ("empty scan data", tiny(&[], &[]), ok(&[SOF0, SOS])),
        ("bytes after EOI", with_tail, ok(&[SOF0, SOS])),
        ("fill bytes before markers", fill, ok(&[SOF0, SOS])),
        (
            "RST and stuffed zeros in scan",
            tiny(&[], &[0x11, 0xFF, 0xD0, 0x33, 0xFF, 0x00, 0xFF, 0xD1, 0x44]),
            ok(&[SOF0, SOS]),
        ),
        (
            "RST after fill bytes in scan",
            tiny(&[], &[0x11, 0xFF, 0xFF, 0xD0, 0x22]),
            ok(&[SOF0, SOS]),
        ),
        (
            "RST out of order in scan (only validation minds)",
            tiny(&[], &[0x11, 0xFF, 0xD5, 0x22]),
            ok(&[SOF0, SOS]),
        ),
        (
            "RST outside scan stands alone",
            tiny(&[0xFF, RST0], &[0x12]),
            ok(&[RST0, SOF0, SOS]),
        ),
        (
            "TEM stands alone",
            tiny(&[0xFF, TEM], &[0x12]),
            ok(&[TEM, SOF0, SOS]),
        ),
        (
            "empty segment",
            tiny(&[0xFF, COM, 0x00, 0x02], &[]),
            ok(&[COM, SOF0, SOS]),
        ),
        ("not a JPEG", b"GIF89a....".to_vec(), Err("NotJpeg")),
        ("empty input", vec![], Err("NotJpeg")),
        ("only SOI", vec![0xFF, SOI], Err("NotJpeg")),
        ("SOI and FF", vec![0xFF, SOI, 0xFF], Err("Truncated")),
        (
            "SOI and fill bytes",
            vec![0xFF, SOI, 0xFF, 0xFF],
            Err("Truncated"),
        ),
        ("EOI missing", no_eoi, Err("Truncated")),
        (
            "scan data ends in FF",
            [&tiny(&[], &[0x12])[..26], &[0xFF]].concat(),
            Err("Truncated"),
        ),
        (
            "no marker after a segment",
            vec![0xFF, SOI, 0xFF, COM, 0, 2],
            Err("Truncated"),
        ),
        (
            "length cut off",
            vec![0xFF, SOI, 0xFF, APP1, 0x10],
            Err("Truncated"),
        ),
        (
            "segment runs past the end",
            vec![0xFF, SOI, 0xFF, APP1, 0x10, 0x00, 1, 2, 3],
            Err("Truncated"),
        ),
        (
            "length below 2",
            vec![0xFF, SOI, 0xFF, APP1, 0x00, 0x01, 0, 0],
            Err("Malformed"),
        ),
        (
            "garbage where a marker belongs",
            vec![0xFF, SOI, 0xFF, COM, 0x00, 0x02, 0x12, 0x34],
            Err("Malformed"),
        ),
        (
            "stuffed zero outside scan",
            vec![0xFF, SOI, 0xFF, 0x00, 0xFF, EOI],
            Err("Malformed"),
        ),
        (
            "second SOI",
            vec![0xFF, SOI, 0xFF, SOI, 0xFF, EOI],
            Err("Malformed"),
        ),
        (
            "fill bytes before a stuffed zero in scan",
            tiny(&[], &[0x11, 0xFF, 0xFF, 0x00, 0x22]),
            Err("Corrupt"),
        ),
    ];
    for (name, bytes, want) in table {
        let got = Layout::walk(&bytes);
        match (&got, want) {
            (Ok(layout), Ok(want)) => {
                assert_eq!(markers(layout), want, "{name}");
                assert!(layout.eoi_end <= bytes.len(), "{name}");
                assert_eq!(
                    &bytes[layout.eoi_end - 2..layout.eoi_end],
                    [0xFF, EOI],
                    "{name}"
                );
            }
            (_, Err(want)) => assert_eq!(kind(&got), want, "{name}: {got:?}"),
            (Err(e), Ok(_)) => panic!("{name}: {e}"),
        }
    }
}

#[test]
fn walker_reports_segments_scan_data_and_stops_after_eoi() {
    let bytes = [
        tiny(&[0xFF, 0xFF, COM, 0, 3, b'x'], &[0x11, 0xFF, 0xD0, 0x22]),
        b"after".to_vec(),
    ]
    .concat();
    let pieces: Vec<Piece> = Walker::new(&bytes).unwrap().map(Result::unwrap).collect();
    let Piece::Segment(com) = &pieces[0] else {
        panic!("{pieces:?}")
    };
    // The segment starts at the FF right before its code, after the fill byte.
    assert_eq!(
        (com.marker, com.start, com.payload.clone(), com.end),
        (COM, 3, 7..8, 8)
    );
    assert_eq!(com.payload(&bytes), b"x");
    assert_eq!(com.bytes(&bytes), [0xFF, COM, 0, 3, b'x']);
    let Piece::Segment(sos) = &pieces[2] else {
        panic!("{pieces:?}")
    };
    assert_eq!(sos.marker, SOS);
    assert_eq!(pieces[3], Piece::ScanData(sos.end..sos.end + 4));
    let Piece::Segment(eoi) = &pieces[4] else {
        panic!("{pieces:?}")
    };
    assert_eq!((eoi.marker, eoi.end), (EOI, bytes.len() - 5));
    assert_eq!(pieces.len(), 5);

    // After an error the walk is over.
    let broken = [0xFF, SOI, 0xFF, COM, 0, 1, 0xFF, EOI];
    let mut walker = Walker::new(&broken).unwrap();
    assert!(matches!(walker.next(), Some(Err(JpegError::Malformed(_)))));
    assert!(walker.next().is_none());
}

#[test]
fn walk_real_files() {
    for (bytes, scans) in [(baseline(), 1), (progressive(), 10)] {
        let mut with_tail = bytes.clone();
        with_tail.extend_from_slice(b"trailing garbage");
        let layout = Layout::walk(&with_tail).unwrap();
        assert_eq!(layout.eoi_end, bytes.len());
        assert_eq!(
            layout.segments.iter().filter(|s| s.marker == SOS).count(),
            scans
        );
        assert!(layout.segments.iter().any(|s| s.marker == DHT));
        // The segments tile the file from after SOI to EOI.
        let mut pos = 2;
        for s in &layout.segments {
            assert_eq!(s.start, pos);
            pos = s.end;
        }
        assert_eq!(pos + 2, layout.eoi_end);
        let header = layout.frame_header(&with_tail).unwrap();
        assert_eq!((header.width, header.height), (48, 32));
        assert_eq!(header.components().len(), 3);
        assert_eq!(dimensions(&bytes).unwrap(), (48, 32));
    }
}

#[test]
fn every_cut_of_a_real_file_is_refused() {
    for bytes in [baseline(), progressive()] {
        for cut in 0..bytes.len() - 1 {
            let got = Layout::walk(&bytes[..cut]);
            let want = if cut < 3 { "NotJpeg" } else { "Truncated" };
            assert_eq!(kind(&got), want, "cut at {cut}: {got:?}");
        }
    }
}

#[test]
fn frame_header_must_come_before_the_first_scan() {
    let mut no_sof = vec![0xFF, SOI];
    no_sof.extend_from_slice(&segment(SOS, &[1, 1, 0, 0, 63, 0]));
    no_sof.extend_from_slice(&[0x12, 0xFF, EOI]);
    let mut late_sof = no_sof[..no_sof.len() - 2].to_vec();
    late_sof.extend_from_slice(&segment(SOF0, &[8, 0, 16, 0, 16, 1, 1, 0x11, 0]));
    late_sof.extend_from_slice(&[0xFF, EOI]);
    for (name, bytes) in [
        ("no SOF", no_sof),
        ("SOF after SOS", late_sof),
        ("only SOI and EOI", vec![0xFF, SOI, 0xFF, EOI]),
    ] {
        let layout = Layout::walk(&bytes).unwrap();
        let got = layout.frame_header(&bytes);
        assert_eq!(kind(&got), "NoFrameHeader", "{name}");
        assert_eq!(kind(&dimensions(&bytes)), "NoFrameHeader", "{name}");
        assert_eq!(kind(&read_header(&bytes)), "NoFrameHeader", "{name}");
    }
}

// ---------------------------------------------------------------------------
// The frame header
// ---------------------------------------------------------------------------

#[test]
fn frame_header_table() {
    let good = sof_payload(640, 480);
    let with = |at: usize, value: u8| {
        let mut p = good.clone();
        p[at] = value;
        p
    };
    let table: Vec<(&str, Vec<u8>, &str)> = vec![
        ("good", good.clone(), "ok"),
        ("too short", good[..5].to_vec(), "Malformed"),
        ("no components", [&good[..5], &[0]].concat(), "Malformed"),
        ("five components", with(5, 5), "Malformed"),
        ("count does not match length", with(5, 4), "Malformed"),
        (
            "length does not match count",
            good[..good.len() - 1].to_vec(),
            "Malformed",
        ),
        ("width 0", sof_payload(0, 16), "Malformed"),
        ("height 0 (DNL)", sof_payload(16, 0), "Unsupported"),
        ("sampling 0", with(7, 0x02), "Malformed"),
        ("sampling 5", with(7, 0x51), "Malformed"),
        ("quantisation table 4", with(8, 4), "Malformed"),
        ("duplicate component id", with(9, 1), "Malformed"),
    ];
    for (name, payload, want) in table {
        let got = FrameHeader::parse(SOF0, &payload);
        assert_eq!(kind(&got), want, "{name}: {got:?}");
    }

    let header = FrameHeader::parse(SOF2, &good).unwrap();
    assert_eq!(
        (header.width, header.height, header.precision),
        (640, 480, 8)
    );
    assert_eq!(header.coding(), Coding::Progressive);
    assert_eq!(
        header.components(),
        [
            Component {
                id: 1,
                h: 2,
                v: 2,
                tq: 0
            },
            Component {
                id: 2,
                h: 1,
                v: 1,
                tq: 1
            },
            Component {
                id: 3,
                h: 1,
                v: 1,
                tq: 1
            },
        ]
    );
    for (marker, coding) in [
        (SOF0, Coding::Sequential),
        (SOF1, Coding::Sequential),
        (SOF2, Coding::Progressive),
        (0xC3, Coding::Other),
        (0xC9, Coding::Other),
        (0xCF, Coding::Other),
    ] {
        assert_eq!(FrameHeader::parse(marker, &good).unwrap().coding(), coding);
    }
}

// ---------------------------------------------------------------------------
// Headers and EXIF orientation
// ---------------------------------------------------------------------------

#[test]
fn read_header_reads_frame_size() {
    let info = read_header(&headers(&[], 640, 480)).unwrap();
    assert_eq!((info.frame.width, info.frame.height), (640, 480));
    assert_eq!(info.orientation, None);
    // No EOI needed, no scan read.
    assert_eq!(read_header(&baseline()[..300]).unwrap().frame.width, 48);
}

#[test]
fn read_header_reads_orientation_both_byte_orders() {
    for le in [true, false] {
        for o in 1..=8u16 {
            let bytes = headers(&app1_exif(&tiff_with_orientation(le, o)), 10, 20);
            let info = read_header(&bytes).unwrap();
            assert_eq!(info.orientation.map(u16::from), Some(o), "le={le}");
            assert_eq!((info.frame.width, info.frame.height), (10, 20));
        }
    }
}

#[test]
fn read_header_ignores_invalid_orientation_and_broken_exif() {
    for o in [0u16, 9, 300] {
        let bytes = headers(&app1_exif(&tiff_with_orientation(true, o)), 10, 20);
        assert_eq!(read_header(&bytes).unwrap().orientation, None);
    }
    // IFD offset pointing far outside the segment.
    let mut tiff = tiff_with_orientation(false, 6);
    tiff[4..8].copy_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
    assert_eq!(exif_orientation(&app1_exif(&tiff)[4..]), None);
    // Entry count larger than the data.
    let mut tiff = tiff_with_orientation(false, 6);
    tiff[8..10].copy_from_slice(&0xFFFFu16.to_be_bytes());
    tiff[22..24].copy_from_slice(&0x0113u16.to_be_bytes()); // no orientation entry any more
    assert_eq!(exif_orientation(&app1_exif(&tiff)[4..]), None);
    // Wrong type (LONG), zero count, bad magic, bad byte order mark.
    let mut long = tiff_with_orientation(false, 6);
    long[24..26].copy_from_slice(&4u16.to_be_bytes());
    let mut zero = tiff_with_orientation(false, 6);
    zero[26..30].copy_from_slice(&0u32.to_be_bytes());
    let mut magic = tiff_with_orientation(false, 6);
    magic[2..4].copy_from_slice(&43u16.to_be_bytes());
    let mut order = tiff_with_orientation(false, 6);
    order[0..2].copy_from_slice(b"XX");
    for tiff in [long, zero, magic, order] {
        assert_eq!(exif_orientation(&app1_exif(&tiff)[4..]), None);
    }
    assert_eq!(
        exif_orientation(&app1_exif(&tiff_with_orientation(false, 6))[4..]),
        Some(6)
    );
    // An XMP APP1 is not EXIF.
    let mut xmp = vec![0xFF, APP1, 0x00, 0x0A];
    xmp.extend_from_slice(b"http:/x");
    xmp.push(0);
    assert_eq!(
        read_header(&headers(&xmp, 10, 20)).unwrap().orientation,
        None
    );
    // The first valid orientation counts, and only before the frame header.
    let two = [
        xmp.clone(),
        app1_exif(&tiff_with_orientation(true, 3)),
        app1_exif(&tiff_with_orientation(true, 5)),
    ]
    .concat();
    assert_eq!(
        read_header(&headers(&two, 10, 20)).unwrap().orientation,
        Some(3)
    );
    let mut after = headers(&[], 10, 20);
    after.extend_from_slice(&app1_exif(&tiff_with_orientation(true, 6)));
    assert_eq!(read_header(&after).unwrap().orientation, None);
}

#[test]
fn read_header_accepts_fill_bytes_and_skips_other_segments() {
    let extra = [
        0xFF, 0xFF, 0xFF, 0xFE, 0x00, 0x05, b'a', b'b', b'c', // COM after fill bytes
        0xFF, 0xE0, 0x00, 0x02, // empty APP0
        0xFF, TEM, // stand-alone
    ];
    let info = read_header(&headers(&extra, 33, 44)).unwrap();
    assert_eq!((info.frame.width, info.frame.height), (33, 44));
}

#[test]
fn read_header_finds_frame_of_any_sof_type() {
    let mut bytes = headers(&[], 100, 50);
    bytes[3] = SOF2; // progressive
    assert_eq!(read_header(&bytes).unwrap().frame.width, 100);
    bytes[3] = 0xC9; // arithmetic: the size is still reported
    let info = read_header(&bytes).unwrap();
    assert_eq!(
        (info.frame.height, info.frame.coding()),
        (50, Coding::Other)
    );
}

#[test]
fn read_header_errors() {
    let mut bad_sampling = headers(&[], 16, 16);
    bad_sampling[13] = 4;
    let table: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "NotJpeg"),
        ("GIF", b"GIF89a".to_vec(), "NotJpeg"),
        ("EOI first", vec![0xFF, SOI, 0xFF, EOI], "NoFrameHeader"),
        (
            "SOS first",
            vec![0xFF, SOI, 0xFF, SOS, 0x00, 0x02],
            "NoFrameHeader",
        ),
        (
            "segment runs past the end",
            vec![0xFF, SOI, 0xFF, APP1, 0x10, 0x00, 1, 2, 3],
            "Truncated",
        ),
        (
            "length cut off",
            vec![0xFF, SOI, 0xFF, APP1, 0x10],
            "Truncated",
        ),
        (
            "ends without a frame header",
            vec![0xFF, SOI, 0xFF, COM, 0x00, 0x02],
            "Truncated",
        ),
        ("ends in a marker", vec![0xFF, SOI, 0xFF, 0xFF], "Truncated"),
        (
            "length below 2",
            vec![0xFF, SOI, 0xFF, APP1, 0x00, 0x01, 0, 0],
            "Malformed",
        ),
        (
            "garbage where a marker belongs",
            vec![0xFF, SOI, 0xFF, COM, 0x00, 0x02, 0x12, 0x34],
            "Malformed",
        ),
        (
            "restart marker",
            headers(&[0xFF, RST0], 16, 16),
            "Malformed",
        ),
        ("second SOI", headers(&[0xFF, SOI], 16, 16), "Malformed"),
        ("height 0 (DNL)", headers(&[], 16, 0), "Unsupported"),
        ("width 0", headers(&[], 0, 16), "Malformed"),
        ("sampling factor 0", bad_sampling, "Malformed"),
    ];
    for (name, bytes, want) in table {
        let got = read_header(&bytes);
        assert_eq!(kind(&got), want, "{name}: {got:?}");
    }
    assert_eq!(
        read_header(&[0xFF, SOI, 0xFF, COM, 0x00, 0x02])
            .unwrap_err()
            .to_string(),
        "JPEG file is truncated: the file ends before the frame header"
    );
}

// ---------------------------------------------------------------------------
// Lossless stripping
// ---------------------------------------------------------------------------

#[test]
fn strip_metadata_drops_metadata_and_copies_the_rest() {
    let keep = [
        segment(APP0, b"JFIF\0\x01\x02\x00\x00\x01\x00\x01\x00\x00"),
        segment(APP0, b"AVI1\0\0\0\0"),
        segment(APP14, b"Adobe\0\x64\0\0\0\0\x01"),
        segment(DQT, &[0; 65]),
        vec![0xFF, TEM],
    ];
    let drop = [
        app1_exif(&tiff_with_orientation(true, 6)),
        segment(APP1, b"http://ns.adobe.com/xap/1.0/\0XMP-SENTINEL"),
        segment(0xE2, b"ICC_PROFILE\0ICC-SENTINEL"),
        segment(0xED, b"Photoshop 3.0\0IPTC-SENTINEL"),
        segment(APP15, b"APP15-SENTINEL"),
        segment(APP14, b"NotAdobe-SENTINEL"),
        segment(APP0, b"JFXX\0\x10THUMB-SENTINEL"),
        segment(COM, b"COMMENT-SENTINEL"),
    ];
    let data = [0x11, 0xFF, 0x00, 0xFF, 0xD0, 0x22];
    let mut dirty = vec![0xFF, SOI];
    for (k, d) in keep.iter().zip(&drop) {
        dirty.extend_from_slice(d);
        dirty.extend_from_slice(k);
    }
    for d in &drop[keep.len()..] {
        dirty.extend_from_slice(d);
    }
    let dirty = [&tiny(&dirty[2..], &data)[..], b"TRAILER-SENTINEL"].concat();
    let stripped = strip_metadata(&dirty).unwrap();
    assert_eq!(stripped.jpeg, tiny(&keep.concat(), &data));
    assert_eq!(stripped.dropped_segments, drop.len());
    assert_eq!(stripped.trailing_bytes, 16);
    assert!(!contains(&stripped.jpeg, b"SENTINEL"));
    assert!(!contains(&stripped.jpeg, b"Exif"));
    // Idempotent.
    assert_eq!(strip_metadata(&stripped.jpeg).unwrap().jpeg, stripped.jpeg);
    // A real file without metadata comes back byte for byte.
    assert_eq!(strip_metadata(&baseline()).unwrap().jpeg, baseline());
    assert_eq!(strip_metadata(&progressive()).unwrap().jpeg, progressive());
}

#[test]
fn strip_metadata_refuses_broken_input() {
    let jpeg = baseline();
    let mut bad_length = jpeg.clone();
    bad_length[4] = 0xFF;
    bad_length[5] = 0xFF;
    for (name, bytes, want) in [
        ("not a JPEG", b"hello world".to_vec(), "NotJpeg"),
        ("truncated", jpeg[..jpeg.len() - 20].to_vec(), "Truncated"),
        ("length past the end", bad_length, "Truncated"),
        ("no frame", vec![0xFF, SOI, 0xFF, EOI], "NoFrameHeader"),
        ("zero width", headers(&[], 0, 16), "Truncated"),
        (
            "zero width, complete",
            [&headers(&[], 0, 16)[..], &[0xFF, EOI]].concat(),
            "Malformed",
        ),
    ] {
        let got = strip_metadata(&bytes);
        assert_eq!(kind(&got), want, "{name}: {got:?}");
    }
}

// ---------------------------------------------------------------------------
// Motion-JPEG frames
// ---------------------------------------------------------------------------

/// The baseline file without its DHT segments, as an MJPEG camera sends it.
fn without_tables(jpeg: &[u8]) -> Vec<u8> {
    let layout = Layout::walk(jpeg).unwrap();
    let mut out = vec![0xFF, SOI];
    for s in layout.segments.iter().filter(|s| s.marker != DHT) {
        out.extend_from_slice(s.bytes(jpeg));
    }
    out.extend_from_slice(&[0xFF, EOI]);
    out
}

#[test]
fn normalize_inserts_standard_tables_into_tableless_frames() {
    assert_eq!(STANDARD_DHT_PAYLOAD.len(), 416);
    let tableless = without_tables(&baseline());
    let mut buffer = tableless.clone();
    buffer.extend(std::iter::repeat_n(0u8, 4096)); // stale mmap tail
    let (fixed, header) = normalize_mjpeg_frame(&buffer).unwrap();
    assert!(matches!(fixed, Cow::Owned(_)));
    assert_eq!((header.width, header.height), (48, 32));
    assert_eq!(
        fixed.len(),
        tableless.len() + 4 + STANDARD_DHT_PAYLOAD.len()
    );
    let layout = Layout::walk(&fixed).unwrap();
    let dht = layout
        .segments
        .iter()
        .position(|s| s.marker == DHT)
        .unwrap();
    assert_eq!(
        layout.segments[dht + 1].marker,
        SOS,
        "tables right before the scan"
    );
    assert_eq!(layout.segments[dht].payload(&fixed), STANDARD_DHT_PAYLOAD);
    // cjpeg wrote the standard tables too: the result validates.
    strip_and_validate(&fixed, 100).unwrap();

    // A frame that has its tables is only cut at EOI.
    let mut with_tail = baseline();
    with_tail.extend_from_slice(&[0xAB; 100]);
    let (kept, _) = normalize_mjpeg_frame(&with_tail).unwrap();
    assert!(matches!(kept, Cow::Borrowed(_)));
    assert_eq!(&kept[..], &baseline()[..]);
    // Progressive frames are left alone.
    let progressive_tableless = without_tables(&progressive());
    let (kept, _) = normalize_mjpeg_frame(&progressive_tableless).unwrap();
    assert!(matches!(kept, Cow::Borrowed(_)));
    // Truncated or scan-less frames are refused.
    let b = baseline();
    assert_eq!(
        kind(&normalize_mjpeg_frame(&b[..b.len() - 10])),
        "Truncated"
    );
    let scanless = [&headers(&[], 16, 16)[..], &[0xFF, EOI]].concat();
    assert_eq!(kind(&normalize_mjpeg_frame(&scanless)), "Malformed");
}

// ---------------------------------------------------------------------------
// Scan validation
// ---------------------------------------------------------------------------

#[test]
fn split_scan_restart_markers() {
    // data: 11 22 | RST0 | 33 FF00 | RST1 | 44 | fill FF FF then EOI
    let bytes = [
        0x11, 0x22, 0xFF, 0xD0, 0x33, 0xFF, 0x00, 0xFF, 0xD1, 0x44, 0xFF, 0xFF, 0xFF, 0xD9,
    ];
    let (intervals, end) = split_scan(&bytes, 0).unwrap();
    assert_eq!(intervals, vec![0..2, 4..7, 9..10]);
    assert_eq!(end, 10);
    // Fill bytes before a restart marker.
    let (intervals, end) = split_scan(&[0x11, 0xFF, 0xFF, 0xD0, 0x22, 0xFF, 0xD9], 0).unwrap();
    assert_eq!((intervals, end), (vec![0..1, 4..5], 5));
    // RST7 wraps to RST0.
    let mut eight = Vec::new();
    for n in 0..9u8 {
        eight.extend_from_slice(&[0x10 + n, 0xFF, RST0 + (n & 7)]);
    }
    eight.extend_from_slice(&[0x77, 0xFF, EOI]);
    assert_eq!(split_scan(&eight, 0).unwrap().0.len(), 10);

    for (name, bytes, want) in [
        (
            "out of order",
            &[0x11, 0xFF, 0xD3, 0x22, 0xFF, 0xD9][..],
            "Corrupt",
        ),
        ("no end", &[0x11, 0x22, 0xFF, 0x00, 0x33], "Truncated"),
        ("ends in FF", &[0x11, 0xFF], "Truncated"),
        ("ends in fill bytes", &[0x11, 0xFF, 0xFF], "Truncated"),
        (
            "fill before stuffed zero",
            &[0x11, 0xFF, 0xFF, 0x00],
            "Corrupt",
        ),
    ] {
        let got = split_scan(bytes, 0);
        assert_eq!(kind(&got), want, "{name}: {got:?}");
    }
}

#[test]
fn strip_and_validate_accepts_real_files_and_keeps_their_scans() {
    for jpeg in [baseline(), progressive()] {
        let mut dirty = jpeg[..2].to_vec();
        dirty.extend_from_slice(&segment(COM, b"SECR"));
        dirty.extend_from_slice(&app1_exif(&tiff_with_orientation(true, 6)));
        dirty.extend_from_slice(&jpeg[2..]);
        dirty.extend_from_slice(b"TRAILER");
        let stripped = strip_and_validate(&dirty, 100).unwrap();
        assert!(!contains(&stripped.jpeg, b"SECR"));
        assert!(!contains(&stripped.jpeg, b"Exif"));
        assert_eq!((stripped.dropped_segments, stripped.trailing_bytes), (2, 7));
        // cjpeg's JFIF APP0 has no thumbnail: the minimal copy is the same.
        assert_eq!(stripped.jpeg, jpeg);
    }
}

#[test]
fn strip_and_validate_keeps_minimal_jfif_and_adobe() {
    let jpeg = baseline();
    let own_app0 = 4 + usize::from(u16::from_be_bytes([jpeg[4], jpeg[5]]));
    let mut jfif = b"JFIF\0\x01\x02\x01\x00\x48\x00\x48".to_vec();
    jfif.extend_from_slice(&[2, 1]);
    jfif.extend_from_slice(b"KRIN-G"); // a 2x1 RGB thumbnail
    let mut adobe = b"Adobe\x00\x64\x80\x00\x00\x00\x01".to_vec();
    adobe.extend_from_slice(b"EXTRA");
    let mut fixture = jpeg[..2].to_vec();
    fixture.extend_from_slice(&segment(APP0, &jfif));
    fixture.extend_from_slice(&segment(APP14, &adobe));
    fixture.extend_from_slice(&segment(APP14, b"Adobe\x00\x64\x80\x00\x00\x00\x02"));
    fixture.extend_from_slice(&jpeg[own_app0..]);
    let out = strip_and_validate(&fixture, 100).unwrap().jpeg;
    let mut want = jpeg[..2].to_vec();
    want.extend_from_slice(&segment(APP0, b"JFIF\0\x01\x02\x01\x00\x48\x00\x48\0\0"));
    want.extend_from_slice(&segment(APP14, b"Adobe\x00\x64\0\0\0\0\x01"));
    want.extend_from_slice(&jpeg[own_app0..]);
    assert_eq!(out, want);
}

#[test]
fn strip_and_validate_refusals() {
    let jpeg = baseline();
    let layout = Layout::walk(&jpeg).unwrap();
    let sos = layout
        .segments
        .iter()
        .find(|s| s.marker == SOS)
        .unwrap()
        .clone();
    let sof = layout
        .segments
        .iter()
        .find(|s| s.marker == SOF0)
        .unwrap()
        .clone();
    let data = sos.payload.end;

    // The baseline file has restart markers: swap the first two.
    let rst0 = data
        + jpeg[data..]
            .windows(2)
            .position(|w| w == [0xFF, RST0])
            .unwrap();
    let mut swapped = jpeg.clone();
    swapped[rst0 + 1] = RST0 + 1;
    // Cut the scan short and glue EOI on: the structure is intact, the blocks are not.
    let mut missing_block = jpeg[..jpeg.len() - 40].to_vec();
    while missing_block.last() == Some(&0xFF) {
        missing_block.pop();
    }
    missing_block.extend_from_slice(&[0xFF, EOI]);
    // Garbage in the middle of the scan, markers and stuffed zeros kept.
    let mut garbage = jpeg.clone();
    for i in data + 10..jpeg.len() - 10 {
        if jpeg[i] != 0xFF && jpeg[i - 1] != 0xFF && i % 3 != 0 {
            garbage[i] = ((i * 37) % 255) as u8;
        }
    }
    let mut twelve_bit = jpeg.clone();
    twelve_bit[sof.payload.start] = 12;
    let mut arithmetic = jpeg.clone();
    arithmetic[sof.start + 1] = 0xC9;
    let two_frames = [&jpeg[..sof.end], sof.bytes(&jpeg), &jpeg[sof.end..]].concat();
    let mut unknown_component = jpeg.clone();
    unknown_component[sos.payload.start + 1] = 9;
    let mut undefined_table = jpeg.clone();
    undefined_table[sos.payload.start + 2] = 0x33;
    let no_scan = [&jpeg[..sos.start], &[0xFF, EOI]].concat();
    let sos_first = {
        let mut v = vec![0xFF, SOI];
        v.extend_from_slice(&segment(SOS, &[1, 1, 0, 0, 63, 0]));
        v.extend_from_slice(&[0x12, 0xFF, EOI]);
        v
    };
    let rst_outside = [&jpeg[..2], &[0xFF, RST0], &jpeg[2..]].concat();
    let bad_dri = [
        &jpeg[..sos.start],
        &segment(DRI, &[0, 1, 2]),
        &jpeg[sos.start..],
    ]
    .concat();
    let table: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not a JPEG", b"GIF89a".to_vec(), "NotJpeg"),
        ("restart markers out of order", swapped, "Corrupt"),
        ("a block missing", missing_block, "Corrupt"),
        ("garbage scan data", garbage, "Corrupt"),
        ("truncated scan", jpeg[..data + 30].to_vec(), "Truncated"),
        ("no EOI", jpeg[..jpeg.len() - 2].to_vec(), "Truncated"),
        ("12-bit samples", twelve_bit, "Unsupported"),
        ("arithmetic coding", arithmetic, "Unsupported"),
        ("two frame headers", two_frames, "Malformed"),
        (
            "scan of an unknown component",
            unknown_component,
            "Malformed",
        ),
        ("scan uses an undefined table", undefined_table, "Malformed"),
        ("no scan", no_scan, "Malformed"),
        ("scan before the frame", sos_first, "NoFrameHeader"),
        ("restart marker outside scan data", rst_outside, "Malformed"),
        ("restart interval segment of 3 bytes", bad_dri, "Malformed"),
    ];
    for (name, bytes, want) in table {
        let got = strip_and_validate(&bytes, 100);
        assert_eq!(kind(&got), want, "{name}: {got:?}");
    }
    // Each scan costs a pass: the caller bounds how many.
    let p = progressive();
    assert_eq!(kind(&strip_and_validate(&p, 10)), "ok");
    let got = strip_and_validate(&p, 9);
    assert_eq!(kind(&got), "Unsupported");
    assert_eq!(
        got.unwrap_err().to_string(),
        "unsupported JPEG: more than 9 scans"
    );
}
