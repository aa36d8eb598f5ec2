//! The camera sources, seen from the app: synthetic pattern, JPEG folder,
//! `open_camera` and the configuration strings.

use std::path::Path;
use std::time::{Duration, Instant};

use kring_hardware::{
    Camera, CameraChoice, FolderCamera, HardwareError, SyntheticCamera, jpeg_dimensions,
    open_camera, preview,
};
use serde::Deserialize;

fn decode_full(jpeg: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut decoder = jpeg_decoder::Decoder::new(jpeg);
    let pixels = decoder.decode().expect("a valid JPEG");
    let info = decoder.info().unwrap();
    (u32::from(info.width), u32::from(info.height), pixels)
}

#[test]
fn synthetic_frames_are_jpegs_of_the_configured_size() {
    for (w, h) in [(1280, 720), (640, 480), (1920, 1080)] {
        let mut camera = SyntheticCamera::new(w, h).with_fps(0);
        camera.start().unwrap();
        let frame = camera.frame().unwrap();
        assert_eq!((frame.width, frame.height), (w, h));
        assert_eq!(&frame.jpeg[..3], &[0xFF, 0xD8, 0xFF]);
        let (dw, dh, pixels) = decode_full(&frame.jpeg);
        assert_eq!((dw, dh), (w, h));
        assert_eq!(pixels.len(), (w * h * 3) as usize);
        assert_eq!(jpeg_dimensions(&frame.jpeg).unwrap(), (w, h));
        let age = frame.captured_at.elapsed().unwrap_or_default();
        assert!(age < Duration::from_secs(5), "captured_at is now-ish");
    }
    // The default is 1280x720.
    assert_eq!(SyntheticCamera::default().size(), (1280, 720));
}

#[test]
fn synthetic_frames_differ_over_time() {
    let mut camera = SyntheticCamera::default();
    camera.start().unwrap();
    let first = camera.frame().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let second = camera.frame().unwrap();
    assert_ne!(first.jpeg, second.jpeg);
    let (_, _, a) = decode_full(&first.jpeg);
    let (_, _, b) = decode_full(&second.jpeg);
    let changed = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.abs_diff(**y) > 16)
        .count();
    // The bars scroll and the clock ticks: a good part of the picture moves.
    assert!(
        changed > a.len() / 20,
        "only {changed} of {} samples changed",
        a.len()
    );
    assert!(second.captured_at > first.captured_at);
}

#[test]
fn synthetic_camera_is_paced() {
    let mut camera = SyntheticCamera::new(160, 120).with_fps(10);
    camera.start().unwrap();
    let started = Instant::now();
    for _ in 0..4 {
        camera.frame().unwrap();
    }
    // Three intervals of 100 ms at least.
    assert!(started.elapsed() >= Duration::from_millis(290));
}

fn write_jpeg(path: &Path, w: u32, h: u32, shade: u8) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(w, h, image::Rgb([shade, 255 - shade, 90]));
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 80)
        .encode_image(&image)
        .unwrap();
    // Trailing bytes and an odd layout must survive untouched.
    bytes.extend_from_slice(b"tail");
    std::fs::write(path, &bytes).unwrap();
    bytes
}

#[test]
fn folder_camera_returns_file_bytes_unchanged_and_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let b = write_jpeg(&dir.path().join("b.jpg"), 64, 48, 20);
    let a = write_jpeg(&dir.path().join("a.JPEG"), 32, 24, 200);
    let c = write_jpeg(&dir.path().join("c.jpeg"), 48, 64, 120);
    std::fs::write(dir.path().join("notes.txt"), b"not a picture").unwrap();
    std::fs::write(dir.path().join("d.png"), b"\x89PNG").unwrap();
    std::fs::create_dir(dir.path().join("sub.jpg")).unwrap();

    let mut camera = FolderCamera::new(dir.path()).with_fps(0);
    assert!(matches!(camera.frame(), Err(HardwareError::NotStarted)));
    camera.start().unwrap();
    assert_eq!(camera.files().len(), 3);
    let expected = [(&a, (32, 24)), (&b, (64, 48)), (&c, (48, 64))];
    for round in 0..2 {
        for (bytes, size) in expected {
            let frame = camera.frame().unwrap();
            assert_eq!(&frame.jpeg, bytes, "round {round}");
            assert_eq!((frame.width, frame.height), size);
        }
    }
    assert!(camera.name().contains(&dir.path().display().to_string()));
}

#[test]
fn folder_camera_skips_broken_files_and_refuses_empty_folders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0-broken.jpg"),
        b"\xFF\xD8\xFF\xE0 cut short",
    )
    .unwrap();
    let good = write_jpeg(&dir.path().join("1-good.jpg"), 16, 16, 0);
    let mut camera = FolderCamera::new(dir.path()).with_fps(0);
    camera.start().unwrap();
    for _ in 0..3 {
        assert_eq!(camera.frame().unwrap().jpeg, good);
    }

    let empty = tempfile::tempdir().unwrap();
    let mut camera = FolderCamera::new(empty.path());
    assert!(matches!(camera.start(), Err(HardwareError::NoFrames(_))));
    let mut camera = FolderCamera::new(empty.path().join("missing"));
    assert!(matches!(camera.start(), Err(HardwareError::Io { .. })));
}

fn has_video_devices() -> bool {
    std::fs::read_dir("/dev").is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("video"))
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
    })
}

#[test]
fn auto_without_video_devices_is_the_synthetic_camera() {
    if has_video_devices() {
        // A machine with a camera: Auto may rightly pick it.
        return;
    }
    let mut camera = open_camera(&CameraChoice::Auto);
    assert!(camera.name().starts_with("synthetic"), "{}", camera.name());
    camera.start().unwrap();
    let frame = camera.frame().unwrap();
    assert_eq!((frame.width, frame.height), (1280, 720));
    camera.stop();
}

#[test]
fn explicit_choices_give_the_named_camera() {
    assert!(
        open_camera(&CameraChoice::Synthetic)
            .name()
            .starts_with("synthetic")
    );
    let dir = tempfile::tempdir().unwrap();
    let folder = open_camera(&CameraChoice::SyntheticFolder(dir.path().to_path_buf()));
    assert!(folder.name().starts_with("JPEG folder"));
    if !has_video_devices() {
        // Nothing to open: start reports it instead of panicking.
        let mut device = open_camera(&CameraChoice::Device(7));
        assert!(device.start().is_err());
        assert!(device.frame().is_err());
    }
}

#[test]
fn camera_choice_parses_its_strings_and_rejects_junk() {
    assert_eq!("auto".parse::<CameraChoice>().unwrap(), CameraChoice::Auto);
    assert_eq!(
        "synthetic".parse::<CameraChoice>().unwrap(),
        CameraChoice::Synthetic
    );
    assert_eq!(
        "folder:/var/lib/kring/demo frames"
            .parse::<CameraChoice>()
            .unwrap(),
        CameraChoice::SyntheticFolder("/var/lib/kring/demo frames".into())
    );
    assert_eq!(
        "device:0".parse::<CameraChoice>().unwrap(),
        CameraChoice::Device(0)
    );
    assert_eq!(
        "DEVICE:3".parse::<CameraChoice>().unwrap(),
        CameraChoice::Device(3)
    );
    for junk in [
        "",
        "camera",
        "auto:1",
        "synthetic:yes",
        "folder:",
        "folder",
        "device",
        "device:",
        "device:-1",
        "device:zero",
        "device:0x1",
        "/dev/video0",
        "device:99999999999",
    ] {
        assert!(
            matches!(
                junk.parse::<CameraChoice>(),
                Err(HardwareError::InvalidCameraChoice(_))
            ),
            "{junk:?} should be refused"
        );
    }
}

#[test]
fn camera_choice_deserialises_from_config_strings() {
    use serde::de::value::{Error, StrDeserializer};
    let parse = |s: &str| CameraChoice::deserialize(StrDeserializer::<Error>::new(s));
    assert_eq!(parse("device:2").unwrap(), CameraChoice::Device(2));
    assert_eq!(
        parse("folder:/tmp/x").unwrap(),
        CameraChoice::SyntheticFolder("/tmp/x".into())
    );
    let err = parse("webcam").unwrap_err().to_string();
    assert!(err.contains("invalid camera choice"), "{err}");
}

#[test]
fn preview_of_a_synthetic_frame_fits_the_screen() {
    let mut camera = SyntheticCamera::new(1920, 1080).with_fps(0);
    camera.start().unwrap();
    let frame = camera.frame().unwrap();
    let small = preview(&frame.jpeg, 800, 480).unwrap();
    assert_eq!(small.dimensions(), (800, 450));
    let tiny = preview(&frame.jpeg, 100, 100).unwrap();
    assert_eq!(tiny.dimensions(), (100, 56));
}
