//! JPEG decoding for the device: camera-frame normalisation and DCT-scaled
//! or SIMD decoding for previews, thumbnails and QR scanning.
//!
//! The file structure (segment walk, frame header, metadata stripping,
//! Motion-JPEG tables) is `kring_jpeg`'s; this module maps its errors onto
//! [`HardwareError`] and runs the decoders. Inputs may come from a USB camera
//! or a folder of files, so nothing here trusts lengths or sizes it reads:
//! every decoder only runs after the frame header passed our own checks
//! ([`checked_frame`]).

use std::borrow::Cow;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::codecs::jpeg::JpegEncoder;
use image::{GrayImage, RgbImage};
use jpeg_decoder::{ColorTransform, Decoder, PixelFormat};
use kring_jpeg::{FrameHeader, JpegError, Layout};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

use crate::HardwareError;

/// Largest picture (width x height of the *original*) we agree to decode.
/// A 4K camera frame is 8.3 MP; a 65535x65535 header from a broken file is not
/// decoded at all.
pub(crate) const MAX_DECODE_PIXELS: u64 = 64_000_000;

/// Largest picture [`preview`] decodes whole (4K, 25 MB as RGB); larger
/// ones are decoded at a reduced DCT size.
pub(crate) const FULL_DECODE_MAX_PIXELS: u64 = 3840 * 2160;

/// JPEG quality of [`thumbnail_jpeg`].
pub const THUMBNAIL_QUALITY: u8 = 75;

/// The JPEG structure errors as the device's: `NotJpeg`, `UnsupportedJpeg`
/// (a DNL height, ...) and `InvalidJpeg` for every broken structure.
impl From<JpegError> for HardwareError {
    fn from(error: JpegError) -> Self {
        match error {
            JpegError::NotJpeg => HardwareError::NotJpeg,
            JpegError::Unsupported(message) => HardwareError::UnsupportedJpeg(message),
            JpegError::Truncated(message) => {
                HardwareError::InvalidJpeg(format!("truncated: {message}"))
            }
            JpegError::NoFrameHeader => HardwareError::InvalidJpeg("no frame header (SOF)".into()),
            JpegError::Malformed(message) | JpegError::Corrupt(message) => {
                HardwareError::InvalidJpeg(message)
            }
        }
    }
}

/// Width and height from a JPEG's frame header, without decoding any pixels.
/// Also checks the file's structure from start to end-of-image.
pub fn jpeg_dimensions(jpeg: &[u8]) -> Result<(u32, u32), HardwareError> {
    Ok(kring_jpeg::dimensions(jpeg)?)
}

/// Removes metadata from a JPEG without touching the image: drops APP1..APP15
/// segments (EXIF with GPS, XMP, ICC profiles, IPTC, maker notes, ...) except
/// an APP14 "Adobe" segment (it says how to interpret the colours), APP0
/// segments other than JFIF and AVI1 (e.g. JFXX thumbnails), COM comments and
/// anything after the end-of-image marker. Every other segment and the
/// entropy-coded data are copied byte for byte, so the result decodes to
/// exactly the same pixels (see [`kring_jpeg::strip_metadata`]).
///
/// Fails on input that is not a complete JPEG (it never passes bytes through
/// unchecked).
pub fn strip_metadata(jpeg: &[u8]) -> Result<Vec<u8>, HardwareError> {
    let stripped = kring_jpeg::strip_metadata(jpeg)?;
    tracing::debug!(
        dropped_segments = stripped.dropped_segments,
        trailing_bytes = stripped.trailing_bytes,
        bytes_in = jpeg.len(),
        bytes_out = stripped.jpeg.len(),
        "stripped JPEG metadata"
    );
    Ok(stripped.jpeg)
}

/// A camera's MJPEG buffer as a standalone JPEG file, without re-encoding:
/// cut at the end-of-image marker, with the standard Huffman tables inserted
/// when the frame has none (see [`kring_jpeg::normalize_mjpeg_frame`]).
///
/// Fails on truncated or corrupt frames (the caller skips them).
#[cfg_attr(not(feature = "v4l2"), allow(dead_code))]
pub(crate) fn normalize_camera_jpeg(
    buffer: &[u8],
) -> Result<(Cow<'_, [u8]>, FrameHeader), HardwareError> {
    Ok(kring_jpeg::normalize_mjpeg_frame(buffer)?)
}

/// The DCT scale factor the decoder used, as the denominator of `1/n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DctScale {
    Full = 1,
    Half = 2,
    Quarter = 4,
    Eighth = 8,
}

impl DctScale {
    /// Recognises the scaled size jpeg-decoder produces: `ceil(len * k / 8)`
    /// for `k` in 8, 4, 2, 1 (per axis).
    pub(crate) fn detect(original: (u32, u32), decoded: (u32, u32)) -> Option<DctScale> {
        [
            DctScale::Full,
            DctScale::Half,
            DctScale::Quarter,
            DctScale::Eighth,
        ]
        .into_iter()
        .find(|scale| {
            let n = *scale as u32;
            original.0.div_ceil(n) == decoded.0 && original.1.div_ceil(n) == decoded.1
        })
    }
}

/// An image decoded at a reduced DCT size.
#[derive(Debug)]
pub(crate) struct ScaledDecode<P> {
    /// The decoded pixels, at `original / scale` (rounded up).
    pub image: P,
    /// The JPEG's own size.
    pub original: (u32, u32),
    pub scale: DctScale,
}

fn clamp_u16(v: u32) -> u16 {
    u16::try_from(v.max(1)).unwrap_or(u16::MAX)
}

/// Samples as jpeg-decoder returned them.
struct RawDecode {
    data: Vec<u8>,
    format: PixelFormat,
    /// Decoded (scaled) size.
    size: (u32, u32),
    /// The JPEG's own size.
    original: (u32, u32),
}

/// The smallest DCT scale (1/8, 1/4, 1/2 or 1) whose decoded picture still
/// covers a JPEG of size `original` shown in a `max_w` x `max_h` box: the
/// picture fitted into the box (aspect ratio kept, never enlarged) is no
/// larger than the decoded one on either side. Scaled sizes round up, as the
/// decoder's do (`ceil(len / n)`).
pub(crate) fn dct_scale_for(original: (u32, u32), max_w: u32, max_h: u32) -> DctScale {
    let (tw, th) = fit_within(original.0, original.1, max_w, max_h);
    [DctScale::Eighth, DctScale::Quarter, DctScale::Half]
        .into_iter()
        .find(|scale| {
            let n = *scale as u32;
            original.0.div_ceil(n) >= tw && original.1.div_ceil(n) >= th
        })
        .unwrap_or(DctScale::Full)
}

/// The JPEG up to its EOI and its frame header, once the header passed our
/// own checks (1 or 3 components, 8-bit samples, at most
/// [`MAX_DECODE_PIXELS`]): no decoder sees a frame that fails them.
fn checked_frame(jpeg: &[u8]) -> Result<(&[u8], FrameHeader), HardwareError> {
    let layout = Layout::walk(jpeg)?;
    let header = layout.frame_header(jpeg)?;
    let components = header.components().len();
    if !matches!(components, 1 | 3) {
        return Err(HardwareError::UnsupportedJpeg(format!(
            "{components} colour components"
        )));
    }
    if header.precision != 8 {
        return Err(HardwareError::UnsupportedJpeg(format!(
            "{}-bit samples",
            header.precision
        )));
    }
    let pixels = u64::from(header.width) * u64::from(header.height);
    if pixels > MAX_DECODE_PIXELS {
        return Err(HardwareError::UnsupportedJpeg(format!(
            "{}x{} is larger than {MAX_DECODE_PIXELS} pixels",
            header.width, header.height
        )));
    }
    Ok((&jpeg[..layout.eoi_end], header))
}

/// Runs jpeg-decoder at [`dct_scale_for`] the `req_w` x `req_h` box, so a
/// 1080p frame is never fully decoded for a small picture. `want_luma` asks
/// for the Y channel only (no colour conversion).
fn decode_raw(
    jpeg: &[u8],
    req_w: u32,
    req_h: u32,
    want_luma: bool,
) -> Result<RawDecode, HardwareError> {
    let (image, header) = checked_frame(jpeg)?;
    let scale = dct_scale_for((header.width, header.height), req_w, req_h);
    // jpeg-decoder has panicked on crafted input in the past; a broken frame
    // must not take the kiosk down.
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut decoder = Decoder::new(Cursor::new(image));
        decoder.read_info()?;
        // Ask for exactly the chosen scale's size: jpeg-decoder takes the
        // smallest scale that reaches the request on one side.
        let n = scale as u32;
        let (w, h) = decoder.scale(
            clamp_u16(header.width.div_ceil(n)),
            clamp_u16(header.height.div_ceil(n)),
        )?;
        if want_luma && header.components().len() == 3 {
            decoder.set_color_transform(ColorTransform::None);
        }
        let data = decoder.decode()?;
        let format = decoder
            .info()
            .map_or(PixelFormat::RGB24, |info| info.pixel_format);
        Ok::<_, jpeg_decoder::Error>((data, format, (u32::from(w), u32::from(h))))
    }));
    match result {
        Ok(Ok((data, format, size))) => Ok(RawDecode {
            data,
            format,
            size,
            original: (header.width, header.height),
        }),
        Ok(Err(e)) => Err(HardwareError::Decode(e.to_string())),
        Err(_) => Err(HardwareError::Decode("the JPEG decoder panicked".into())),
    }
}

fn size_mismatch() -> HardwareError {
    HardwareError::Decode("decoder returned fewer samples than its size".into())
}

/// Decodes to RGB at the smallest DCT scale covering `req_w` x `req_h`
/// (see [`decode_raw`]).
pub(crate) fn decode_scaled_rgb(
    jpeg: &[u8],
    req_w: u32,
    req_h: u32,
) -> Result<ScaledDecode<RgbImage>, HardwareError> {
    let RawDecode {
        data,
        format,
        size: (w, h),
        original,
    } = decode_raw(jpeg, req_w, req_h, false)?;
    let image = match format {
        PixelFormat::RGB24 => RgbImage::from_raw(w, h, data).ok_or_else(size_mismatch)?,
        PixelFormat::L8 => {
            let gray = GrayImage::from_raw(w, h, data).ok_or_else(size_mismatch)?;
            image::DynamicImage::ImageLuma8(gray).into_rgb8()
        }
        other => {
            return Err(HardwareError::UnsupportedJpeg(format!(
                "pixel format {other:?}"
            )));
        }
    };
    let scale = DctScale::detect(original, (w, h))
        .ok_or_else(|| HardwareError::Decode(format!("unexpected decoded size {w}x{h}")))?;
    Ok(ScaledDecode {
        image,
        original,
        scale,
    })
}

/// Decodes the luma (Y) channel only, at the smallest DCT scale covering
/// `req_w` x `req_h`. For QR scanning: no colour conversion at all.
pub(crate) fn decode_scaled_luma(
    jpeg: &[u8],
    req_w: u32,
    req_h: u32,
) -> Result<ScaledDecode<GrayImage>, HardwareError> {
    let RawDecode {
        data,
        format,
        size: (w, h),
        original,
    } = decode_raw(jpeg, req_w, req_h, true)?;
    let image = match format {
        PixelFormat::L8 => GrayImage::from_raw(w, h, data).ok_or_else(size_mismatch)?,
        // With ColorTransform::None jpeg-decoder 0.3 does not interleave:
        // each output row holds the whole row of Y, then of Cb, then of Cr
        // (R, G, B for Adobe RGB files, where the first is still usable).
        // The unit test `luma_decode_matches_the_gray_level` pins this.
        PixelFormat::RGB24 => {
            let row = w as usize;
            if data.len() < row * 3 * h as usize {
                return Err(size_mismatch());
            }
            let mut luma = Vec::with_capacity(row * h as usize);
            for line in data.chunks_exact(row * 3) {
                luma.extend_from_slice(&line[..row]);
            }
            GrayImage::from_raw(w, h, luma).ok_or_else(size_mismatch)?
        }
        other => {
            return Err(HardwareError::UnsupportedJpeg(format!(
                "pixel format {other:?}"
            )));
        }
    };
    let scale = DctScale::detect(original, (w, h))
        .ok_or_else(|| HardwareError::Decode(format!("unexpected decoded size {w}x{h}")))?;
    Ok(ScaledDecode {
        image,
        original,
        scale,
    })
}

/// Decodes the whole frame to RGB with zune-jpeg: SIMD inverse DCT, colour
/// conversion and upsampling (AVX2 on x86, NEON on the Pi's Cortex-A72), on
/// the calling thread. It has no DCT scaling, but for camera frames of up to
/// 1080p its full decode costs less than jpeg-decoder's scaled one, which
/// also starts a thread per colour component for every frame (see
/// `cargo bench -p kring-hardware --bench preview`).
///
/// `image` and `header` come from [`checked_frame`].
fn decode_full_rgb(image: &[u8], header: FrameHeader) -> Result<RgbImage, HardwareError> {
    let (w, h) = (header.width as usize, header.height as usize);
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(w)
        .set_max_height(h)
        .set_strict_mode(false);
    // A broken frame must not take the kiosk down, whatever the decoder does.
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(image), options);
        let data = decoder.decode()?;
        Ok::<_, zune_jpeg::errors::DecodeErrors>((
            data,
            decoder.output_colorspace(),
            decoder.dimensions(),
        ))
    }));
    match result {
        Ok(Ok((data, Some(ColorSpace::RGB), Some((dw, dh))))) if (dw, dh) == (w, h) => {
            RgbImage::from_raw(header.width, header.height, data).ok_or_else(size_mismatch)
        }
        Ok(Ok((_, space, size))) => Err(HardwareError::Decode(format!(
            "decoder returned {space:?} at {size:?} for a {w}x{h} frame"
        ))),
        Ok(Err(e)) => Err(HardwareError::Decode(e.to_string())),
        Err(_) => Err(HardwareError::Decode("the JPEG decoder panicked".into())),
    }
}

/// Shrinks `src` to `tw` x `th` with fast_image_resize (SIMD: AVX2 on x86,
/// NEON on the Pi): a bilinear filter stretched over the whole source area
/// each output pixel covers, so large factors average the source instead of
/// skipping pixels (no aliasing).
pub(crate) fn shrink(src: RgbImage, tw: u32, th: u32) -> Result<RgbImage, HardwareError> {
    use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer, images};
    let (tw, th) = (tw.max(1), th.max(1));
    if src.dimensions() == (tw, th) {
        return Ok(src);
    }
    let resize_error = |e: &dyn std::fmt::Display| HardwareError::Decode(format!("resize: {e}"));
    let (sw, sh) = src.dimensions();
    let from = images::ImageRef::new(sw, sh, src.as_raw(), PixelType::U8x3)
        .map_err(|e| resize_error(&e))?;
    let mut to = images::Image::new(tw, th, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new()
        .resize(&from, &mut to, &options)
        .map_err(|e| resize_error(&e))?;
    RgbImage::from_raw(tw, th, to.into_vec()).ok_or_else(size_mismatch)
}

/// The largest size with `w:h`'s aspect ratio that fits in `max_w` x `max_h`
/// (never larger than `w` x `h`, never zero).
pub(crate) fn fit_within(w: u32, h: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let (max_w, max_h) = (max_w.max(1), max_h.max(1));
    if w <= max_w && h <= max_h {
        return (w.max(1), h.max(1));
    }
    // Compare w/max_w with h/max_h without floats: the tighter side decides.
    let (w64, h64, mw, mh) = (
        u64::from(w),
        u64::from(h),
        u64::from(max_w),
        u64::from(max_h),
    );
    if w64 * mh >= h64 * mw {
        let nh = (h64 * mw + w64 / 2) / w64;
        (max_w, u32::try_from(nh).unwrap_or(max_h).clamp(1, max_h))
    } else {
        let nw = (w64 * mh + h64 / 2) / h64;
        (u32::try_from(nw).unwrap_or(max_w).clamp(1, max_w), max_h)
    }
}

/// [`preview`] plus the DCT scale the decoder used, for tests.
pub(crate) fn preview_with_scale(
    jpeg: &[u8],
    max_w: u32,
    max_h: u32,
) -> Result<(RgbImage, ScaledDecode<()>), HardwareError> {
    let decoded = decode_scaled_rgb(jpeg, max_w, max_h)?;
    let (w, h) = decoded.image.dimensions();
    let (tw, th) = fit_within(w, h, max_w, max_h);
    let info = ScaledDecode {
        image: (),
        original: decoded.original,
        scale: decoded.scale,
    };
    let (dw, dh) = (w, h);
    let image = shrink(decoded.image, tw, th)?;
    tracing::trace!(
        original_w = info.original.0,
        original_h = info.original.1,
        dct_scale = info.scale as u32,
        decoded_w = dw,
        decoded_h = dh,
        out_w = tw,
        out_h = th,
        "preview"
    );
    Ok((image, info))
}

/// A small RGB picture of a JPEG frame that fits in `max_w` x `max_h`
/// (aspect ratio kept, never enlarged), for the live camera preview.
///
/// A full SIMD decode ([`decode_full_rgb`]) and a SIMD [`shrink`] (for
/// pictures over 4K the DCT-scaled decode of [`preview_dct_scaled`]): on x86
/// half the CPU time of jpeg-decoder's DCT-scaled decode for a 720p frame
/// (see `cargo bench -p kring-hardware --bench preview`).
pub fn preview(jpeg: &[u8], max_w: u32, max_h: u32) -> Result<RgbImage, HardwareError> {
    let (image, header) = checked_frame(jpeg)?;
    if u64::from(header.width) * u64::from(header.height) > FULL_DECODE_MAX_PIXELS {
        // Not a camera frame: decoding only what the box needs keeps the
        // memory small (a 64 MP picture would take 192 MB as RGB).
        return preview_dct_scaled(jpeg, max_w, max_h);
    }
    let full = decode_full_rgb(image, header)?;
    let (tw, th) = fit_within(full.width(), full.height(), max_w, max_h);
    shrink(full, tw, th)
}

/// The same picture as [`preview`] by jpeg-decoder at a reduced DCT size
/// (1/2, 1/4 or 1/8: the smallest whose picture still covers the frame
/// fitted into the box) and the same [`shrink`] for the rest. Kept for the
/// preview benchmark, which compares the two.
#[doc(hidden)]
pub fn preview_dct_scaled(jpeg: &[u8], max_w: u32, max_h: u32) -> Result<RgbImage, HardwareError> {
    preview_with_scale(jpeg, max_w, max_h).map(|(image, _)| image)
}

/// A JPEG thumbnail whose longer side is at most `max_side` (quality
/// [`THUMBNAIL_QUALITY`]), from a DCT-scaled decode. It carries no metadata.
pub fn thumbnail_jpeg(jpeg: &[u8], max_side: u32) -> Result<Vec<u8>, HardwareError> {
    let image = preview(jpeg, max_side, max_side)?;
    encode_jpeg(&image, THUMBNAIL_QUALITY)
}

/// Encodes RGB pixels as a baseline JPEG.
pub(crate) fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, HardwareError> {
    let mut out = Vec::with_capacity(image.as_raw().len() / 8);
    let encoder = JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100));
    image.write_with_encoder(encoder)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use image::Rgb;
    use kring_jpeg::STANDARD_DHT_PAYLOAD;
    use kring_jpeg::marker::{DHT, EOI, SOI};

    fn full_rgb(jpeg: &[u8]) -> Result<RgbImage, HardwareError> {
        let (image, header) = checked_frame(jpeg)?;
        decode_full_rgb(image, header)
    }

    fn test_jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| {
            Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128])
        });
        encode_jpeg(&img, 85).unwrap()
    }

    #[test]
    fn structure_errors_map_to_hardware_errors() {
        let jpeg = test_jpeg(64, 48);
        assert_eq!(jpeg_dimensions(&jpeg).unwrap(), (64, 48));
        assert!(matches!(
            jpeg_dimensions(b"GIF89a...."),
            Err(HardwareError::NotJpeg)
        ));
        assert!(matches!(jpeg_dimensions(&[]), Err(HardwareError::NotJpeg)));
        for cut in [4, 20, jpeg.len() / 2, jpeg.len() - 1] {
            assert!(
                matches!(
                    jpeg_dimensions(&jpeg[..cut]),
                    Err(HardwareError::InvalidJpeg(_))
                ),
                "cut at {cut}"
            );
        }
        // Height 0 (defined by a DNL marker): well formed, not supported.
        let layout = Layout::walk(&jpeg).unwrap();
        let sof = layout.frame_header(&jpeg).unwrap();
        assert_eq!(sof.components().len(), 3);
        let at = layout
            .segments
            .iter()
            .find(|s| s.marker == sof.marker)
            .unwrap()
            .payload
            .start;
        let mut dnl = jpeg.clone();
        dnl[at + 1..at + 3].copy_from_slice(&[0, 0]);
        assert!(matches!(
            jpeg_dimensions(&dnl),
            Err(HardwareError::UnsupportedJpeg(_))
        ));
        assert!(matches!(
            strip_metadata(&[0xFF, 0xD8, 0xFF, 0xD9]),
            Err(HardwareError::InvalidJpeg(_))
        ));
    }

    #[test]
    fn dct_scale_detection() {
        assert_eq!(
            DctScale::detect((1920, 1080), (960, 540)),
            Some(DctScale::Half)
        );
        assert_eq!(
            DctScale::detect((1920, 1080), (240, 135)),
            Some(DctScale::Eighth)
        );
        assert_eq!(
            DctScale::detect((1281, 721), (161, 91)),
            Some(DctScale::Eighth)
        );
        assert_eq!(
            DctScale::detect((1920, 1080), (1920, 1080)),
            Some(DctScale::Full)
        );
        assert_eq!(DctScale::detect((1920, 1080), (800, 450)), None);
    }

    #[test]
    fn the_smallest_dct_scale_that_covers_the_shown_picture() {
        use DctScale::{Eighth, Full, Half, Quarter};
        for (original, max, want) in [
            // the kiosk's viewfinder: 800x480 screen (438x392), 1280x800 (918x712)
            ((1280, 720), (438, 392), Half),
            ((1920, 1080), (438, 392), Quarter),
            ((1280, 720), (918, 712), Full),
            ((1920, 1080), (918, 712), Half),
            ((640, 480), (438, 392), Full),
            // exactly a DCT size: that size, not the next larger
            ((1920, 1080), (960, 540), Half),
            ((1920, 1080), (480, 270), Quarter),
            ((1920, 1080), (240, 135), Eighth),
            // one pixel more than a DCT size: the next larger
            ((1920, 1080), (481, 271), Half),
            // the box's other side decides (portrait box, wide frame)
            ((1280, 720), (160, 1000), Eighth),
            ((1280, 720), (161, 1000), Quarter),
            // odd sizes round up like the decoder (1281 / 8 -> 161)
            ((1281, 721), (161, 91), Eighth),
            // never enlarged: a box larger than the frame needs the full size
            ((1280, 720), (4000, 4000), Full),
            ((16, 16), (1, 1), Eighth),
        ] {
            assert_eq!(
                dct_scale_for(original, max.0, max.1),
                want,
                "{original:?} in {max:?}"
            );
        }
    }

    #[test]
    fn preview_of_1080p_uses_the_scaled_decode_and_fits() {
        let jpeg = test_jpeg(1920, 1080);
        for (max_w, max_h, scale) in [
            (800, 480, DctScale::Half),
            (480, 270, DctScale::Quarter),
            (320, 240, DctScale::Quarter),
            (200, 200, DctScale::Eighth),
            (1920, 1080, DctScale::Full),
        ] {
            let decoded = decode_scaled_rgb(&jpeg, max_w, max_h).unwrap();
            assert_eq!(decoded.scale, scale, "box {max_w}x{max_h}");
            assert_eq!(decoded.original, (1920, 1080));
            let n = scale as u32;
            assert_eq!(decoded.image.dimensions(), (1920 / n, 1080 / n));

            let (image, info) = preview_with_scale(&jpeg, max_w, max_h).unwrap();
            assert_eq!(info.scale, scale);
            let (w, h) = image.dimensions();
            assert!(w <= max_w && h <= max_h, "{w}x{h} in {max_w}x{max_h}");
            assert!(w == max_w || h == max_h, "{w}x{h} fills {max_w}x{max_h}");
            // Aspect ratio 16:9 kept (within rounding).
            assert!((i64::from(w) * 9 - i64::from(h) * 16).abs() <= 16);
        }
    }

    #[test]
    fn shrink_keeps_flat_colours_and_gradients() {
        let flat = RgbImage::from_pixel(97, 55, Rgb([10, 200, 77]));
        let small = shrink(flat, 60, 34).unwrap();
        assert_eq!(small.dimensions(), (60, 34));
        assert!(small.pixels().all(|p| p.0 == [10, 200, 77]));

        let ramp = RgbImage::from_fn(200, 10, |x, _| Rgb([x as u8, 0, 255 - x as u8]));
        let half = shrink(ramp.clone(), 100, 5).unwrap();
        for x in 1..99u32 {
            // Output pixel x covers source 2x..2x+1, centre 2x + 0.5.
            let v = i32::from(half.get_pixel(x, 2).0[0]);
            assert!((v - (2 * x as i32)).abs() <= 1, "x {x}: {v}");
        }
        // Same size: unchanged.
        assert_eq!(shrink(ramp.clone(), 200, 10).unwrap(), ramp);
    }

    #[test]
    fn shrink_by_a_large_factor_averages_instead_of_aliasing() {
        // One-pixel black and white stripes, shrunk 8x: every output pixel
        // covers as much black as white, so all of them are mid-grey. A
        // filter that samples two source pixels per output pixel would give
        // black or white stripes instead.
        let stripes = RgbImage::from_fn(640, 360, |x, _| {
            if x % 2 == 0 {
                Rgb([0, 0, 0])
            } else {
                Rgb([255, 255, 255])
            }
        });
        let small = shrink(stripes, 80, 45).unwrap();
        for p in small.pixels() {
            assert!((i32::from(p.0[0]) - 128).abs() <= 8, "{:?}", p.0);
        }
    }

    #[test]
    fn a_picture_over_4k_is_previewed_from_a_scaled_decode() {
        // 4000x2250 is over FULL_DECODE_MAX_PIXELS: the same picture as the
        // DCT-scaled path, byte for byte (the full decode differs by rounding).
        let big = test_jpeg(4000, 2250);
        let a = preview(&big, 400, 300).unwrap();
        let b = preview_dct_scaled(&big, 400, 300).unwrap();
        assert_eq!(a.dimensions(), (400, 226), "4000:2250 fitted into 400x300");
        assert_eq!(a, b);
        // A camera frame goes through the full decode.
        let frame = test_jpeg(1280, 720);
        assert_ne!(
            preview(&frame, 400, 300).unwrap(),
            preview_dct_scaled(&frame, 400, 300).unwrap()
        );
    }

    #[test]
    fn the_full_decode_matches_jpeg_decoder() {
        let jpeg = test_jpeg(333, 217);
        let zune = full_rgb(&jpeg).unwrap();
        let reference = decode_scaled_rgb(&jpeg, 333, 217).unwrap().image;
        assert_eq!(zune.dimensions(), reference.dimensions());
        let worst = zune
            .as_raw()
            .iter()
            .zip(reference.as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        // Two correct decoders differ by rounding in IDCT and upsampling.
        assert!(worst <= 12, "largest difference {worst}");
    }

    #[test]
    fn the_full_decode_turns_grey_frames_into_rgb_and_refuses_broken_ones() {
        let gray = GrayImage::from_fn(64, 48, |x, _| image::Luma([(x * 4) as u8]));
        let mut jpeg = Vec::new();
        gray.write_with_encoder(JpegEncoder::new_with_quality(&mut jpeg, 90))
            .unwrap();
        let rgb = full_rgb(&jpeg).unwrap();
        assert_eq!(rgb.dimensions(), (64, 48));
        let p = rgb.get_pixel(40, 10).0;
        assert!(p[0] == p[1] && p[1] == p[2], "{p:?}");

        // Cut in the middle of the scan: a clear error or a picture, never a
        // panic; cut before the scan: an error.
        let colour = test_jpeg(320, 240);
        let _ = full_rgb(&colour[..colour.len() / 2]);
        assert!(full_rgb(&colour[..100]).is_err());
        assert!(full_rgb(b"not a jpeg at all").is_err());
    }

    #[test]
    fn fit_within_keeps_aspect_and_never_enlarges() {
        assert_eq!(fit_within(960, 540, 800, 480), (800, 450));
        assert_eq!(fit_within(540, 960, 800, 480), (270, 480));
        assert_eq!(fit_within(100, 50, 800, 480), (100, 50));
        assert_eq!(fit_within(5000, 1, 10, 10), (10, 1));
        assert_eq!(fit_within(10, 10, 0, 0), (1, 1));
    }

    #[test]
    fn normalize_inserts_standard_tables_into_tableless_frames() {
        let jpeg = test_jpeg(320, 240);
        let layout = Layout::walk(&jpeg).unwrap();
        // Build an MJPEG-style frame: the same file without its DHT segments.
        // image's encoder writes the standard Annex K tables, so the scan
        // still decodes with them.
        let mut stripped = vec![0xFF, SOI];
        for s in &layout.segments {
            if s.marker != DHT {
                stripped.extend_from_slice(&jpeg[s.start..s.end]);
            }
        }
        stripped.extend_from_slice(&[0xFF, EOI]);
        let mut buffer = stripped.clone();
        buffer.extend(std::iter::repeat_n(0u8, 4096)); // stale mmap tail
        assert_eq!(STANDARD_DHT_PAYLOAD.len(), 416);
        let (fixed, header) = normalize_camera_jpeg(&buffer).unwrap();
        assert_eq!((header.width, header.height), (320, 240));
        assert!(
            Layout::walk(&fixed)
                .unwrap()
                .segments
                .iter()
                .any(|s| s.marker == DHT)
        );
        assert_eq!(fixed.len(), stripped.len() + 4 + STANDARD_DHT_PAYLOAD.len());
        let a = decode_scaled_rgb(&jpeg, 320, 240).unwrap().image;
        let b = decode_scaled_rgb(&fixed, 320, 240).unwrap().image;
        assert_eq!(a, b);

        // A frame that has its tables is only cut at EOI.
        let mut with_tail = jpeg.clone();
        with_tail.extend_from_slice(&[0xAB; 100]);
        let (kept, _) = normalize_camera_jpeg(&with_tail).unwrap();
        assert!(matches!(kept, Cow::Borrowed(_)));
        assert_eq!(&kept[..], &jpeg[..]);
        // A truncated frame is refused.
        assert!(normalize_camera_jpeg(&jpeg[..jpeg.len() - 10]).is_err());
    }

    #[test]
    fn luma_decode_matches_the_gray_level() {
        // A grey ramp left to right, on a colour image: Y is the ramp.
        let img = RgbImage::from_fn(256, 64, |x, _| Rgb([x as u8, x as u8, x as u8]));
        let jpeg = encode_jpeg(&img, 95).unwrap();
        for (req, n) in [(256, 1), (128, 2), (32, 8)] {
            let luma = decode_scaled_luma(&jpeg, req, req / 4).unwrap();
            assert_eq!(luma.image.dimensions(), (256 / n, 64 / n));
            for y in [0, 64 / n / 2, 64 / n - 1] {
                for x in (0..256 / n).step_by(3) {
                    let want = (x * n + n / 2) as i32;
                    let got = i32::from(luma.image.get_pixel(x, y).0[0]);
                    assert!((got - want).abs() <= 8, "1/{n} at {x},{y}: {got} vs {want}");
                }
            }
        }
    }
}
