//! QR codes: scanning camera frames, and the enrollment link they carry.
//!
//! The server shows `kring://enroll?server=<url>&code=<code>` as a QR code;
//! the device scans it during enrollment and trades the code for its
//! credentials at `server`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use image::GrayImage;

use crate::jpeg::decode_scaled_luma;

/// The first pass decodes at the smallest DCT scale that is at least this
/// wide or high (960x540 for a 1080p frame, full size for 720p).
const FAST_PASS_SIZE: u32 = 800;

/// Looks for a QR code in a JPEG frame and returns its text.
///
/// Decodes only the luma channel, first at a reduced DCT size for speed; if
/// nothing is found there and the frame was reduced, once more at full size
/// (small codes). `None` if there is no readable code or the JPEG does not
/// decode.
pub fn scan(jpeg: &[u8]) -> Option<String> {
    let fast = match decode_scaled_luma(jpeg, FAST_PASS_SIZE, FAST_PASS_SIZE) {
        Ok(decoded) => decoded,
        Err(error) => {
            tracing::debug!(%error, "QR scan: frame does not decode");
            return None;
        }
    };
    if let Some(text) = scan_gray(&fast.image) {
        return Some(text);
    }
    if fast.image.dimensions() == fast.original {
        return None;
    }
    let (w, h) = fast.original;
    match decode_scaled_luma(jpeg, w, h) {
        Ok(full) => scan_gray(&full.image),
        Err(error) => {
            tracing::debug!(%error, "QR scan: full-size decode failed");
            None
        }
    }
}

/// Looks for a QR code in a greyscale image (e.g. a [`crate::preview`]
/// converted to luma) and returns the text of the first one that decodes.
pub fn scan_gray(image: &GrayImage) -> Option<String> {
    let (w, h) = image.dimensions();
    if w < 21 || h < 21 {
        return None;
    }
    // rqrr has panicked on unusual images before; a frame must never take
    // the kiosk down.
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut prepared =
            rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
                // x < w and y < h by construction.
                image
                    .get_pixel_checked(x as u32, y as u32)
                    .map_or(255, |p| p.0[0])
            });
        prepared
            .detect_grids()
            .into_iter()
            .find_map(|grid| match grid.decode() {
                Ok((_, text)) => Some(text),
                Err(error) => {
                    tracing::trace!(%error, "QR grid found but not decoded");
                    None
                }
            })
    }));
    result.unwrap_or_else(|_| {
        tracing::warn!("QR scanner panicked on a frame; ignored");
        None
    })
}

/// What a `kring://enroll` link says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollLink {
    /// The server's base URL (`http://` or `https://`), percent-decoded.
    pub server: String,
    /// The one-time enrollment code, e.g. `K7QM-2XPD`, as written.
    pub code: String,
}

/// Longest accepted code; real codes are 9 characters.
const MAX_CODE_LEN: usize = 64;
/// Longest accepted server URL.
const MAX_SERVER_LEN: usize = 2048;

/// Parses `kring://enroll?server=<url>&code=<code>`.
///
/// The scheme and `enroll` are case-insensitive; parameters may come in any
/// order, values may be percent-encoded, unknown parameters are ignored (so
/// later servers can add some). Returns `None` for other schemes or actions,
/// a missing, empty or repeated `server` or `code`, a server that is not an
/// `http(s)://` URL with a host, bad percent-encoding, or control characters.
pub fn parse_enroll_link(s: &str) -> Option<EnrollLink> {
    let s = s.trim();
    let scheme_len = "kring://".len();
    if s.len() < scheme_len || !s.is_char_boundary(scheme_len) {
        return None;
    }
    let (scheme, rest) = s.split_at(scheme_len);
    if !scheme.eq_ignore_ascii_case("kring://") {
        return None;
    }
    let (action, query) = rest.split_once('?')?;
    let action = action.strip_suffix('/').unwrap_or(action);
    if !action.eq_ignore_ascii_case("enroll") {
        return None;
    }
    let query = query.split_once('#').map_or(query, |(q, _)| q);

    let mut server = None;
    let mut code = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key {
            "server" => &mut server,
            "code" => &mut code,
            _ => continue,
        };
        if slot.is_some() {
            return None; // repeated: ambiguous, refuse
        }
        *slot = Some(percent_decode(value)?);
    }
    let server = server?.trim().to_string();
    let code = code?.trim().to_string();

    if code.is_empty()
        || code.len() > MAX_CODE_LEN
        || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return None;
    }
    if server.len() > MAX_SERVER_LEN || server.chars().any(|c| c.is_control() || c == ' ') {
        return None;
    }
    let lower = server.to_ascii_lowercase();
    let after_scheme = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))?;
    let host = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if host.is_empty() || host.starts_with(':') || host.contains('@') {
        return None;
    }
    Some(EnrollLink { server, code })
}

/// Decodes `%XX` escapes (UTF-8); `None` on a bad escape or invalid UTF-8.
/// `+` is kept as is (this is a URL, not a form).
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_plain_and_encoded_links() {
        let link = parse_enroll_link("kring://enroll?server=http://127.0.0.1:8080&code=K7QM-2XPD")
            .unwrap();
        assert_eq!(link.server, "http://127.0.0.1:8080");
        assert_eq!(link.code, "K7QM-2XPD");

        let link = parse_enroll_link(
            "KRING://Enroll/?code=K7QM-2XPD&v=2&server=https%3A%2F%2Fkring.example.nl%2Fkdv",
        )
        .unwrap();
        assert_eq!(link.server, "https://kring.example.nl/kdv");
        assert_eq!(link.code, "K7QM-2XPD");
    }

    #[test]
    fn rejects_junk() {
        for junk in [
            "",
            "hello",
            "https://example.nl/enroll?server=http://a&code=X",
            "kring://pair?server=http://a&code=X",
            "kring://enroll",
            "kring://enroll?server=http://a",
            "kring://enroll?code=K7QM-2XPD",
            "kring://enroll?server=&code=K7QM-2XPD",
            "kring://enroll?server=http://a&code=",
            "kring://enroll?server=ftp://a&code=K7QM",
            "kring://enroll?server=http://&code=K7QM",
            "kring://enroll?server=http://a&code=K7QM&code=OTHER",
            "kring://enroll?server=http%3&code=K7QM",
            "kring://enroll?server=http://a&code=K7%0AQM",
            "kring://enroll?server=http://a%0Ab&code=K7QM",
            "kring://enroll?server=http://a&code=K7 QM",
            "kring://enroll?server=javascript:alert(1)&code=K7QM",
            "kring://enroll?server=http://user@evil&code=K7QM",
            "kring:/",
            "kring://éé",
        ] {
            assert_eq!(parse_enroll_link(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2fc").as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%ff"), None); // not UTF-8
    }

    #[test]
    fn tiny_or_blank_images_have_no_code() {
        assert_eq!(scan_gray(&GrayImage::new(10, 10)), None);
        assert_eq!(
            scan_gray(&GrayImage::from_pixel(200, 100, image::Luma([255]))),
            None
        );
        assert_eq!(scan(b"not a jpeg"), None);
    }
}
