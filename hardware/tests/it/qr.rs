//! QR scanning of camera frames, end to end: the enrollment QR code the
//! server shows, filmed by the device.

use image::{Rgb, RgbImage};
use kring_hardware::qr::scan_gray;
use kring_hardware::{Camera, EnrollLink, SyntheticCamera, parse_enroll_link, preview, scan};

const LINK: &str = "kring://enroll?server=http://127.0.0.1:8080&code=K7QM-2XPD";

/// A frame of `w` x `h` with a busy background and the QR code for `text`
/// (4-module quiet zone, `module` pixels per module) at (`x`, `y`).
fn frame_with_qr(text: &str, w: u32, h: u32, module: u32, x: u32, y: u32) -> Vec<u8> {
    frame_with_qr_q(text, w, h, module, x, y, 85)
}

fn frame_with_qr_q(
    text: &str,
    w: u32,
    h: u32,
    module: u32,
    x: u32,
    y: u32,
    quality: u8,
) -> Vec<u8> {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let modules = u32::try_from(code.width()).unwrap();
    let quiet = 4;
    let side = (modules + 2 * quiet) * module;
    let mut image = RgbImage::from_fn(w, h, |px, py| {
        // A gradient with stripes, like a room behind the phone.
        Rgb([
            (px * 255 / w) as u8,
            ((py / 7) % 2 * 60 + 80) as u8,
            (py * 255 / h) as u8,
        ])
    });
    for py in 0..side {
        for px in 0..side {
            let (mx, my) = (px / module, py / module);
            let dark = mx >= quiet
                && my >= quiet
                && mx < quiet + modules
                && my < quiet + modules
                && code[((mx - quiet) as usize, (my - quiet) as usize)] == qrcode::Color::Dark;
            let v = if dark { 20 } else { 240 };
            image.put_pixel(x + px, y + py, Rgb([v, v, v]));
        }
    }
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
        .encode_image(&image)
        .unwrap();
    jpeg
}

#[test]
fn enrollment_qr_round_trip() {
    let jpeg = frame_with_qr(LINK, 1280, 720, 8, 300, 150);
    let text = scan(&jpeg).expect("the QR code is found");
    assert_eq!(text, LINK);
    assert_eq!(
        parse_enroll_link(&text),
        Some(EnrollLink {
            server: "http://127.0.0.1:8080".into(),
            code: "K7QM-2XPD".into(),
        })
    );
}

#[test]
fn qr_in_a_1080p_frame_is_found_at_reduced_size() {
    // 6 px per module: readable at the half-size first pass.
    let jpeg = frame_with_qr(LINK, 1920, 1080, 6, 1200, 300);
    assert_eq!(scan(&jpeg).as_deref(), Some(LINK));
}

#[test]
fn small_qr_in_a_1080p_frame_needs_the_full_size_pass() {
    // 1 px per module: half a pixel after the half-size decode, too small
    // there; the full-size pass reads it.
    let jpeg = frame_with_qr_q(LINK, 1920, 1080, 1, 100, 700, 98);
    let half = preview(&jpeg, 960, 540).unwrap();
    let half_gray = image::DynamicImage::ImageRgb8(half).into_luma8();
    assert_eq!(scan_gray(&half_gray), None, "too small at half size");
    assert_eq!(scan(&jpeg).as_deref(), Some(LINK));
}

#[test]
fn frames_without_a_qr_code_give_none() {
    let mut camera = SyntheticCamera::default().with_fps(0);
    camera.start().unwrap();
    let frame = camera.frame().unwrap();
    assert_eq!(scan(&frame.jpeg), None);
    assert_eq!(scan(b"\xFF\xD8\xFF garbage"), None);
    assert_eq!(scan(&[]), None);
}

#[test]
fn other_qr_codes_are_read_but_are_not_enroll_links() {
    let jpeg = frame_with_qr("https://example.nl/menu", 800, 600, 6, 100, 100);
    let text = scan(&jpeg).unwrap();
    assert_eq!(text, "https://example.nl/menu");
    assert_eq!(parse_enroll_link(&text), None);
}

#[test]
fn junk_links_are_rejected() {
    for junk in [
        "",
        "K7QM-2XPD",
        "http://127.0.0.1:8080/enroll?code=K7QM-2XPD",
        "kring://enroll?server=http://127.0.0.1:8080",
        "kring://enroll?code=K7QM-2XPD",
        "kring://unenroll?server=http://127.0.0.1:8080&code=K7QM-2XPD",
        "kring://enroll?server=file:///etc/passwd&code=K7QM-2XPD",
        "kring://enroll?server=http://127.0.0.1:8080&code=K7QM-2XPD&code=AAAA-BBBB",
        "kring://enroll?server=http://127.0.0.1:8080&code=<script>",
    ] {
        assert_eq!(parse_enroll_link(junk), None, "{junk:?}");
    }
    // Percent-encoded server values are decoded.
    assert_eq!(
        parse_enroll_link("kring://enroll?server=http%3A%2F%2F127.0.0.1%3A8080&code=K7QM-2XPD")
            .unwrap()
            .server,
        "http://127.0.0.1:8080"
    );
}
