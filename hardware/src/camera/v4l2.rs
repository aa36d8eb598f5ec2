//! The real camera: V4L2 through nokhwa, MJPEG only.
//!
//! We ask the camera for MJPEG and keep its JPEG bytes as they are. Notes on
//! nokhwa 0.10 that shaped this code:
//!
//! - `RequestedFormatType::Closest` looks up frame rates at the *requested*
//!   resolution, so it fails on cameras without exactly that size. We open
//!   the device with "any MJPEG format", then choose the format closest to
//!   1920x1080 ourselves from `compatible_camera_formats()` and set it with
//!   `Exact`.
//! - The V4L2 backend hands out the whole mmap buffer, not `bytesused`
//!   bytes, so a frame is cut at its end-of-image marker; frames that are
//!   truncated or corrupt are skipped.
//! - Reading a frame blocks without a time-out until the driver delivers one.
//! - Many UVC cameras leave the Huffman tables out of their MJPEG frames; the
//!   standard tables are then inserted as a DHT segment (no re-encoding).

use std::fmt;
use std::time::SystemTime;

use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
};

use super::{Camera, Frame};
use crate::HardwareError;
use crate::jpeg::normalize_camera_jpeg;

/// The resolution we ask for (or the closest the camera offers).
pub const PREFERRED_SIZE: (u32, u32) = (1920, 1080);
/// The frame rate we prefer among the formats at the chosen resolution.
pub const PREFERRED_FPS: u32 = 30;
/// Corrupt or truncated frames skipped in a row before `frame()` fails.
const MAX_BAD_FRAMES: usize = 5;

const MJPEG_ONLY: &[FrameFormat] = &[FrameFormat::MJPEG];

/// A V4L2 camera (`/dev/video<n>`) streaming MJPEG.
pub struct V4l2Camera {
    index: u32,
    camera: Option<nokhwa::Camera>,
    streaming: bool,
    name: String,
}

impl fmt::Debug for V4l2Camera {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V4l2Camera")
            .field("index", &self.index)
            .field("open", &self.camera.is_some())
            .field("streaming", &self.streaming)
            .field("name", &self.name)
            .finish()
    }
}

fn camera_error(context: &str, error: impl fmt::Display) -> HardwareError {
    HardwareError::Camera(format!("{context}: {error}"))
}

/// Among `formats`, the MJPEG one closest to [`PREFERRED_SIZE`] (by squared
/// distance in pixels, ties to the larger), then with the frame rate closest
/// to [`PREFERRED_FPS`] (ties to the higher).
pub(crate) fn choose_format(formats: &[CameraFormat]) -> Option<CameraFormat> {
    let (pw, ph) = (i64::from(PREFERRED_SIZE.0), i64::from(PREFERRED_SIZE.1));
    formats
        .iter()
        .filter(|f| f.format() == FrameFormat::MJPEG && f.width() > 0 && f.height() > 0)
        .min_by_key(|f| {
            let dx = i64::from(f.width()) - pw;
            let dy = i64::from(f.height()) - ph;
            let area = i64::from(f.width()) * i64::from(f.height());
            let fps_gap = (i64::from(f.frame_rate()) - i64::from(PREFERRED_FPS)).abs();
            (
                dx * dx + dy * dy,
                -area,
                fps_gap,
                -i64::from(f.frame_rate()),
            )
        })
        .copied()
}

impl V4l2Camera {
    /// Opens `/dev/video<index>` and configures MJPEG at (or near) 1920x1080.
    /// Fails if the device does not exist, is busy, or offers no MJPEG.
    pub fn open(index: u32) -> Result<Self, HardwareError> {
        let camera = open_nokhwa(index)?;
        let name = describe(index, &camera);
        Ok(V4l2Camera {
            index,
            camera: Some(camera),
            streaming: false,
            name,
        })
    }

    /// A camera for `/dev/video<index>` that is opened on the first
    /// successful [`Camera::start`].
    pub fn unopened(index: u32) -> Self {
        V4l2Camera {
            index,
            camera: None,
            streaming: false,
            name: format!("/dev/video{index}"),
        }
    }

    /// The configured format (resolution, MJPEG, frame rate), if open.
    pub fn format(&self) -> Option<(u32, u32, u32)> {
        self.camera.as_ref().map(|c| {
            let f = c.camera_format();
            (f.width(), f.height(), f.frame_rate())
        })
    }
}

fn describe(index: u32, camera: &nokhwa::Camera) -> String {
    let f = camera.camera_format();
    format!(
        "{} (/dev/video{index}, MJPEG {}x{} @ {} fps)",
        camera.info().human_name(),
        f.width(),
        f.height(),
        f.frame_rate()
    )
}

fn open_nokhwa(index: u32) -> Result<nokhwa::Camera, HardwareError> {
    // nokhwa 0.10 has panicking paths while enumerating formats (e.g.
    // `step_by(0)` for a driver reporting a zero step); a strange
    // /dev/video* node must not take the kiosk down while Auto probes it.
    std::panic::catch_unwind(|| open_nokhwa_inner(index)).unwrap_or_else(|_| {
        Err(HardwareError::Camera(format!(
            "nokhwa panicked while opening /dev/video{index}"
        )))
    })
}

fn open_nokhwa_inner(index: u32) -> Result<nokhwa::Camera, HardwareError> {
    // Open with any MJPEG format: this always fulfils if the camera offers
    // MJPEG at all.
    let any_mjpeg = RequestedFormat::with_formats(RequestedFormatType::None, MJPEG_ONLY);
    let mut camera = nokhwa::Camera::with_backend(
        CameraIndex::Index(index),
        any_mjpeg,
        ApiBackend::Video4Linux,
    )
    .map_err(|e| camera_error(&format!("opening /dev/video{index}"), e))?;

    match camera.compatible_camera_formats() {
        Ok(formats) => {
            if let Some(best) = choose_format(&formats)
                && best != camera.camera_format()
            {
                let request =
                    RequestedFormat::with_formats(RequestedFormatType::Exact(best), MJPEG_ONLY);
                if let Err(error) = camera.set_camera_requset(request) {
                    tracing::warn!(
                        index,
                        wanted = %best,
                        %error,
                        "camera refused the preferred MJPEG format; keeping its current one"
                    );
                }
            }
        }
        Err(error) => {
            tracing::warn!(index, %error, "could not list the camera's formats; keeping its current one");
        }
    }
    // A refused format change may leave the driver somewhere else: ask it.
    let format = camera
        .refresh_camera_format()
        .map_err(|e| camera_error("reading the camera format", e))?;
    if format.format() != FrameFormat::MJPEG {
        return Err(HardwareError::Camera(format!(
            "/dev/video{index} is set to {} instead of MJPEG",
            format.format()
        )));
    }
    tracing::debug!(index, %format, "V4L2 camera configured");
    Ok(camera)
}

impl Camera for V4l2Camera {
    fn start(&mut self) -> Result<(), HardwareError> {
        if self.camera.is_none() {
            let camera = open_nokhwa(self.index)?;
            self.name = describe(self.index, &camera);
            tracing::info!(camera = %self.name, "camera opened");
            self.camera = Some(camera);
        }
        if self.streaming {
            return Ok(());
        }
        let Some(camera) = self.camera.as_mut() else {
            return Err(HardwareError::NotStarted);
        };
        if let Err(error) = camera.open_stream() {
            // The device may have gone away (USB): reopen on the next start.
            self.camera = None;
            return Err(camera_error("starting the stream", error));
        }
        self.streaming = true;
        Ok(())
    }

    fn frame(&mut self) -> Result<Frame, HardwareError> {
        let Some(camera) = self.camera.as_mut().filter(|_| self.streaming) else {
            return Err(HardwareError::NotStarted);
        };
        let format = camera.camera_format();
        if format.format() != FrameFormat::MJPEG {
            return Err(HardwareError::Camera(format!(
                "the camera delivers {} instead of MJPEG",
                format.format()
            )));
        }
        let mut last_error = None;
        for _ in 0..MAX_BAD_FRAMES {
            let raw = match camera.frame_raw() {
                Ok(raw) => raw,
                Err(error) => {
                    // A read error usually means the device is gone.
                    self.streaming = false;
                    let _ = camera.stop_stream();
                    self.camera = None;
                    return Err(camera_error("reading a frame", error));
                }
            };
            let captured_at = SystemTime::now();
            match normalize_camera_jpeg(&raw) {
                Ok((jpeg, header)) => {
                    return Ok(Frame {
                        jpeg: jpeg.into_owned(),
                        width: header.width,
                        height: header.height,
                        captured_at,
                    });
                }
                Err(error) => {
                    tracing::debug!(%error, bytes = raw.len(), "skipping a bad MJPEG frame");
                    last_error = Some(error);
                }
            }
        }
        Err(last_error.unwrap_or(HardwareError::NotStarted))
    }

    fn stop(&mut self) {
        if let Some(camera) = self.camera.as_mut()
            && self.streaming
            && let Err(error) = camera.stop_stream()
        {
            tracing::warn!(%error, "stopping the camera stream");
        }
        self.streaming = false;
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mjpeg(w: u32, h: u32, fps: u32) -> CameraFormat {
        CameraFormat::new_from(w, h, FrameFormat::MJPEG, fps)
    }

    #[test]
    fn chooses_1080p_mjpeg_at_30_fps() {
        let formats = [
            CameraFormat::new_from(1920, 1080, FrameFormat::YUYV, 30),
            mjpeg(640, 480, 30),
            mjpeg(1920, 1080, 5),
            mjpeg(1920, 1080, 30),
            mjpeg(1920, 1080, 60),
            mjpeg(3840, 2160, 30),
        ];
        assert_eq!(choose_format(&formats), Some(mjpeg(1920, 1080, 30)));
    }

    #[test]
    fn chooses_the_closest_size_when_1080p_is_missing() {
        let formats = [
            mjpeg(640, 480, 30),
            mjpeg(1280, 720, 30),
            mjpeg(1600, 1200, 15),
            CameraFormat::new_from(1920, 1080, FrameFormat::YUYV, 30),
        ];
        assert_eq!(choose_format(&formats), Some(mjpeg(1600, 1200, 15)));
        assert_eq!(
            choose_format(&[CameraFormat::new_from(1920, 1080, FrameFormat::YUYV, 30)]),
            None
        );
    }

    #[test]
    fn opening_a_missing_device_fails_cleanly() {
        // No camera on CI: index 250 certainly does not exist.
        assert!(V4l2Camera::open(250).is_err());
        let mut camera = V4l2Camera::unopened(250);
        assert!(camera.start().is_err());
        assert!(matches!(camera.frame(), Err(HardwareError::NotStarted)));
        camera.stop();
    }
}
