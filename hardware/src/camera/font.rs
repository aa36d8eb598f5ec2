//! A tiny 5x7 bitmap font (digits, a few signs and the letters of "UTC") for the synthetic
//! camera's clock, so no font file is needed.

use image::{Rgb, RgbImage};

/// Glyph width and height in font pixels.
pub(crate) const GLYPH_W: u32 = 5;
pub(crate) const GLYPH_H: u32 = 7;
/// Advance per character in font pixels (glyph plus one column of space).
pub(crate) const ADVANCE: u32 = GLYPH_W + 1;

/// Rows top to bottom; bit 4 is the leftmost column.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        _ => [0; 7],
    }
}

/// Width in image pixels of `text` drawn at `scale`.
pub(crate) fn text_width(text: &str, scale: u32) -> u32 {
    let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    chars.saturating_mul(ADVANCE).saturating_mul(scale)
}

/// Draws `text` with its top-left corner at (`x`, `y`), each font pixel a
/// `scale` x `scale` square; whatever falls outside the image is clipped.
pub(crate) fn draw_text(
    image: &mut RgbImage,
    x: u32,
    y: u32,
    scale: u32,
    text: &str,
    color: Rgb<u8>,
) {
    let (w, h) = image.dimensions();
    let mut pen_x = x;
    for c in text.chars() {
        let rows = glyph(c);
        for (row, bits) in (0u32..).zip(rows) {
            for col in 0..GLYPH_W {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                let x0 = pen_x.saturating_add(col * scale);
                let y0 = y.saturating_add(row * scale);
                for py in y0..y0.saturating_add(scale).min(h) {
                    for px in x0..x0.saturating_add(scale).min(w) {
                        image.put_pixel(px, py, color);
                    }
                }
            }
        }
        pen_x = pen_x.saturating_add(ADVANCE * scale);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_distinct_and_drawn() {
        let all: Vec<[u8; 7]> = "0123456789".chars().map(glyph).collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let mut image = RgbImage::new(40, 20);
        draw_text(&mut image, 1, 1, 2, "8", Rgb([255, 255, 255]));
        let lit = image.pixels().filter(|p| p.0 == [255, 255, 255]).count();
        let font_pixels: u32 = glyph('8').iter().map(|row| row.count_ones()).sum();
        assert_eq!(font_pixels, 17);
        // Each font pixel is a 2x2 square.
        assert_eq!(lit, 17 * 4);
        assert_eq!(text_width("12:34", 3), 5 * 6 * 3);
    }
}
