//! The synthetic camera: a moving test pattern with a clock, encoded as
//! JPEG, for development machines, CI and demos without a camera.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use image::{Rgb, RgbImage};

use super::clock::FrameClock;
use super::font;
use super::{Camera, Frame};
use crate::HardwareError;
use crate::jpeg::encode_jpeg;

/// Colour bars, left to right (the classic eight, at 75 % intensity).
const BARS: [[u8; 3]; 8] = [
    [191, 191, 191],
    [191, 191, 0],
    [0, 191, 191],
    [0, 191, 0],
    [191, 0, 191],
    [191, 0, 0],
    [0, 0, 191],
    [16, 16, 16],
];

/// The bars scroll one full image width in this many milliseconds.
const SCROLL_PERIOD_MS: u64 = 8_000;

/// A camera that draws its frames: colour bars and a grey ramp that scroll
/// with time, a bouncing square, and the current UTC time (`HH:MM:SS.d`) in
/// large digits with a frame counter, JPEG-encoded at a configurable size.
/// Two frames taken a tenth of a second or more apart always differ.
pub struct SyntheticCamera {
    width: u32,
    height: u32,
    quality: u8,
    fps: u32,
    frame_no: u64,
    started: bool,
    clock: FrameClock,
}

impl fmt::Debug for SyntheticCamera {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyntheticCamera")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("quality", &self.quality)
            .field("fps", &self.fps)
            .field("frame_no", &self.frame_no)
            .field("started", &self.started)
            .finish()
    }
}

impl Default for SyntheticCamera {
    fn default() -> Self {
        SyntheticCamera::new(Self::DEFAULT_WIDTH, Self::DEFAULT_HEIGHT)
    }
}

impl SyntheticCamera {
    pub const DEFAULT_WIDTH: u32 = 1280;
    pub const DEFAULT_HEIGHT: u32 = 720;
    pub const DEFAULT_QUALITY: u8 = 85;
    /// Frames per second [`Camera::frame`] is paced to.
    pub const DEFAULT_FPS: u32 = 15;
    /// Sizes are clamped to `MIN_SIDE..=MAX_SIDE` per side.
    pub const MIN_SIDE: u32 = 16;
    pub const MAX_SIDE: u32 = 4096;

    /// A synthetic camera producing `width` x `height` frames (each side
    /// clamped to 16..=4096) at quality 85 and 15 frames per second.
    pub fn new(width: u32, height: u32) -> Self {
        SyntheticCamera {
            width: width.clamp(Self::MIN_SIDE, Self::MAX_SIDE),
            height: height.clamp(Self::MIN_SIDE, Self::MAX_SIDE),
            quality: Self::DEFAULT_QUALITY,
            fps: Self::DEFAULT_FPS,
            frame_no: 0,
            started: false,
            clock: FrameClock::new(Self::DEFAULT_FPS),
        }
    }

    /// JPEG quality, 1..=100.
    pub fn with_quality(mut self, quality: u8) -> Self {
        self.quality = quality.clamp(1, 100);
        self
    }

    /// Frames per second that [`Camera::frame`] sleeps to keep; 0 means
    /// "as fast as they can be drawn".
    pub fn with_fps(mut self, fps: u32) -> Self {
        self.fps = fps;
        self.clock.set_fps(fps);
        self
    }

    /// The frame size (after clamping).
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Draws the pattern as it looks at time `at` for frame number `frame_no`.
    pub fn render(&self, at: SystemTime, frame_no: u64) -> RgbImage {
        let (w, h) = (self.width, self.height);
        let (wu, hu) = (w as usize, h as usize);
        let ms = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));

        // Rows are built once and copied: cheap even in a debug build.
        let scroll =
            usize::try_from((ms % SCROLL_PERIOD_MS) * u64::from(w) / SCROLL_PERIOD_MS).unwrap_or(0);
        let mut bars_row = vec![0u8; wu * 3];
        let mut ramp_row = vec![0u8; wu * 3];
        for x in 0..wu {
            let bar = BARS[((x + scroll) % wu) * BARS.len() / wu];
            bars_row[x * 3..x * 3 + 3].copy_from_slice(&bar);
            // The ramp runs the other way.
            let v = u8::try_from(((x + wu - scroll) % wu) * 255 / wu).unwrap_or(255);
            ramp_row[x * 3..x * 3 + 3].copy_from_slice(&[v, v, v]);
        }
        let split = hu * 2 / 3;
        let mut raw = vec![0u8; wu * hu * 3];
        for (y, row) in raw.chunks_exact_mut(wu * 3).enumerate() {
            row.copy_from_slice(if y < split { &bars_row } else { &ramp_row });
        }
        let mut image = RgbImage::from_raw(w, h, raw).unwrap_or_else(|| RgbImage::new(w, h));

        // A square bouncing left and right along the split, one trip per 4 s.
        let side = (h / 8).max(4);
        let travel = u64::from(w.saturating_sub(side).max(1));
        let phase = (ms % 4_000) * 2 * travel / 4_000;
        let sx = u32::try_from(if phase < travel {
            phase
        } else {
            2 * travel - phase
        })
        .unwrap_or(0);
        let sy = u32::try_from(split).unwrap_or(0).saturating_sub(side / 2);
        fill_rect(&mut image, sx, sy, side, side, Rgb([255, 255, 255]));
        fill_rect(
            &mut image,
            sx + side / 4,
            sy + side / 4,
            side / 2,
            side / 2,
            Rgb([230, 30, 30]),
        );

        // The clock, big and centred on a black box.
        let secs = ms / 1000;
        let clock = format!(
            "{:02}:{:02}:{:02}.{}",
            (secs / 3600) % 24,
            (secs / 60) % 60,
            secs % 60,
            (ms % 1000) / 100
        );
        let chars = u32::try_from(clock.len()).unwrap_or(10);
        let scale = (h / 60).min(w * 9 / 10 / (chars * font::ADVANCE)).max(1);
        let small = (scale / 3).max(1);
        let label = format!("UTC #{frame_no}");
        let text_w = font::text_width(&clock, scale);
        let text_h = font::GLYPH_H * scale;
        let label_h = font::GLYPH_H * small;
        let pad = scale * 2;
        let box_w = (text_w + 2 * pad).min(w);
        let box_h = (text_h + label_h + 3 * pad).min(h);
        let box_x = (w - box_w) / 2;
        let box_y = (h / 3).saturating_sub(box_h / 2);
        fill_rect(&mut image, box_x, box_y, box_w, box_h, Rgb([0, 0, 0]));
        font::draw_text(
            &mut image,
            box_x + pad,
            box_y + pad,
            scale,
            &clock,
            Rgb([255, 255, 255]),
        );
        font::draw_text(
            &mut image,
            box_x + pad,
            box_y + 2 * pad + text_h,
            small,
            &label,
            Rgb([255, 220, 0]),
        );
        image
    }
}

/// Fills a rectangle, clipped to the image, row slice by row slice.
fn fill_rect(image: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, color: Rgb<u8>) {
    let (iw, ih) = image.dimensions();
    let x1 = x.saturating_add(w).min(iw) as usize;
    let y1 = y.saturating_add(h).min(ih) as usize;
    let (x0, y0) = (x as usize, y as usize);
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let stride = iw as usize * 3;
    let raw: &mut [u8] = image;
    for row in raw.chunks_exact_mut(stride).take(y1).skip(y0) {
        for px in row[x0 * 3..x1 * 3].chunks_exact_mut(3) {
            px.copy_from_slice(&color.0);
        }
    }
}

impl Camera for SyntheticCamera {
    fn start(&mut self) -> Result<(), HardwareError> {
        if !self.started {
            tracing::debug!(
                width = self.width,
                height = self.height,
                "synthetic camera started"
            );
        }
        self.started = true;
        Ok(())
    }

    fn frame(&mut self) -> Result<Frame, HardwareError> {
        if !self.started {
            return Err(HardwareError::NotStarted);
        }
        // On the camera's frame clock: a late reader gets a frame at once
        // (the missed ones were never drawn), an early one waits.
        self.clock.wait_next();
        let now = SystemTime::now();
        let image = self.render(now, self.frame_no);
        let jpeg = encode_jpeg(&image, self.quality)?;
        self.frame_no += 1;
        Ok(Frame {
            jpeg,
            width: self.width,
            height: self.height,
            captured_at: now,
        })
    }

    fn stop(&mut self) {
        self.started = false;
        self.clock.reset();
    }

    fn name(&self) -> String {
        format!("synthetic test pattern {}x{}", self.width, self.height)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::time::Duration;

    #[test]
    fn render_changes_with_time_and_is_deterministic() {
        let camera = SyntheticCamera::new(320, 180);
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let a = camera.render(t, 1);
        assert_eq!(a.dimensions(), (320, 180));
        assert_eq!(a, camera.render(t, 1));
        assert_ne!(a, camera.render(t + Duration::from_millis(100), 1));
        assert_ne!(a, camera.render(t + Duration::from_secs(1), 1));
        // Many colours: bars, ramp, text.
        let mut colours: Vec<[u8; 3]> = a.pixels().map(|p| p.0).collect();
        colours.sort_unstable();
        colours.dedup();
        assert!(colours.len() > 20, "only {} colours", colours.len());
    }

    #[test]
    fn sizes_are_clamped() {
        assert_eq!(SyntheticCamera::new(0, 100_000).size(), (16, 4096));
    }

    #[test]
    fn frame_needs_start() {
        let mut camera = SyntheticCamera::new(64, 64).with_fps(0);
        assert!(matches!(camera.frame(), Err(HardwareError::NotStarted)));
        camera.start().unwrap();
        assert!(camera.frame().is_ok());
        camera.stop();
        assert!(matches!(camera.frame(), Err(HardwareError::NotStarted)));
    }
}
