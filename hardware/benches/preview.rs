//! What the kiosk's live camera preview costs, per frame and at 15 frames per
//! second, on camera-like JPEGs (see `camera-frames.sh`: real photographs as
//! a UVC webcam hands them over in MJPEG mode, made once ahead of the
//! measurement, so no encoding is counted).
//!
//!     cargo bench -p kring-hardware --bench preview
//!
//! Prints two tables:
//!
//! 1. the preview of one frame: the kiosk's full SIMD decode + area shrink
//!    ([`kring_hardware::preview`]), next to the DCT-scaled decode it used
//!    before ([`kring_hardware::preview_dct_scaled`]), + the copy into the pixel
//!    buffer the UI gets, for 1280x720 and 1920x1080 frames, into the
//!    viewfinder of the 800x480 and the 1280x800 screen, and into the fixed
//!    800x450 box the kiosk used before (for comparison). Wall and CPU time
//!    (the process's CPU clock: jpeg-decoder decodes each colour component
//!    on a thread of its own, so CPU time is what counts on a shared core);
//!    median and p90; the CPU share of one core at 15 fps is 15 x the mean
//!    CPU time per frame.
//! 2. the whole pipeline without a screen: [`LivePreview`] over a
//!    [`FolderCamera`] at 15 fps for some seconds (capture thread, file
//!    reads, frame checks, decode, hand-over), CPU time of the process over
//!    wall time.
//!
//! `--seconds N` sets the length of the pipeline runs (default 10);
//! `--frames DIR` uses another folder (with `720p/` and `1080p/` in it).
//! The kiosk itself under Xvfb is measured by `kiosk-cpu.sh` beside this file.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kring_hardware::{
    Camera, DEFAULT_PREVIEW_CPU_BUDGET, FolderCamera, LiveEvent, LivePreview, jpeg_dimensions,
    preview, preview_dct_scaled,
};
use nix::time::{ClockId, clock_gettime};

/// CPU time of the whole process (all threads, also ended ones).
fn cpu_now() -> Duration {
    let t = clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).expect("the process CPU clock");
    Duration::new(
        u64::try_from(t.tv_sec()).unwrap_or(0),
        u32::try_from(t.tv_nsec()).unwrap_or(0),
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The camera frames, made by `camera-frames.sh` when they are missing.
fn frames_dir(arg: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = arg {
        return dir;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let dir = target.join("camera-frames");
    if !dir.join("1080p").is_dir() || !dir.join("720p").is_dir() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/camera-frames.sh");
        println!("making the camera frames: bash {}", script.display());
        let status = std::process::Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .status()
            .expect("running camera-frames.sh");
        assert!(status.success(), "camera-frames.sh failed");
    }
    dir
}

fn load(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

struct Timing {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
    out: (u32, u32),
}

type PreviewFn = fn(&[u8], u32, u32) -> Result<image::RgbImage, kring_hardware::HardwareError>;

/// One preview per frame, `rounds` times over all frames.
fn time_preview(preview: PreviewFn, frames: &[Vec<u8>], max: (u32, u32), rounds: usize) -> Timing {
    // Warm up (page faults, allocator, branch predictors).
    for jpeg in frames.iter().take(3) {
        preview(jpeg, max.0, max.1).unwrap();
    }
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut out = (0, 0);
    for _ in 0..rounds {
        for jpeg in frames {
            let (w0, c0) = (Instant::now(), cpu_now());
            let rgb = preview(jpeg, max.0, max.1).unwrap();
            // What the kiosk does next: copy into the UI's pixel buffer
            // (SharedPixelBuffer::clone_from_slice).
            let buffer = rgb.as_raw().to_vec();
            let (c1, w1) = (cpu_now(), Instant::now());
            std::hint::black_box(buffer);
            out = rgb.dimensions();
            wall.push(w1 - w0);
            cpu.push(c1 - c0);
        }
    }
    wall.sort();
    cpu.sort();
    Timing { wall, cpu, out }
}

fn scale_name(original: (u32, u32), out: (u32, u32)) -> &'static str {
    // The DCT scale is the largest 1/n whose size still covers `out`.
    for (n, name) in [(8, "1/8"), (4, "1/4"), (2, "1/2")] {
        if original.0.div_ceil(n) >= out.0 && original.1.div_ceil(n) >= out.1 {
            return name;
        }
    }
    "1/1"
}

/// LivePreview over a FolderCamera at 15 fps for `seconds`; the "UI" takes
/// each picture at once. Returns (CPU share of one core, pictures/s, stats).
fn pipeline(
    dir: &Path,
    max: (u32, u32),
    budget: f64,
    seconds: u64,
) -> (f64, f64, kring_hardware::LiveStats) {
    let camera: Arc<Mutex<Box<dyn Camera>>> = Arc::new(Mutex::new(Box::new(
        FolderCamera::new(dir).with_fps(FolderCamera::DEFAULT_FPS),
    )));
    let latest = Arc::new(Mutex::new(None));
    let sink = |event: LiveEvent| {
        if let LiveEvent::Picture(rgb, shown) = event {
            std::hint::black_box(rgb.as_raw().to_vec());
            drop(shown);
        }
    };
    let mut live = LivePreview::start(camera, latest, max, sink, None).unwrap();
    live.set_cpu_budget(budget);
    std::thread::sleep(Duration::from_millis(500));
    let (w0, c0, s0) = (Instant::now(), cpu_now(), live.stats());
    std::thread::sleep(Duration::from_secs(seconds));
    let (c1, w1, s1) = (cpu_now(), Instant::now(), live.stats());
    live.stop();
    std::thread::sleep(Duration::from_millis(300));
    let wall = (w1 - w0).as_secs_f64();
    let share = (c1 - c0).as_secs_f64() / wall * 100.0;
    let pictures = (s1.shown - s0.shown) as f64 / wall;
    (share, pictures, s1)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seconds: u64 = value("--seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let dir = frames_dir(value("--frames").map(PathBuf::from));

    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "kring live preview benchmark: {cpu_model}, {cores} cores visible, {}",
        std::env::consts::ARCH
    );
    println!(
        "frames: {} (real photos, baseline 4:2:2 q82)",
        dir.display()
    );
    println!();

    // The viewfinder's box on the two screens (see viewfinder_box in the
    // kiosk's photo controller), and the box the kiosk asked for before.
    let boxes = [
        ("800x480 screen", (438, 392)),
        ("1280x800 screen", (918, 712)),
        ("old fixed 800x450", (800, 450)),
    ];
    println!("1. one preview: decode + shrink + copy to the UI's buffer");
    println!(
        "   the kiosk's: zune-jpeg full decode (SIMD, one thread) + area-averaging SIMD shrink (fast_image_resize)"
    );
    println!(
        "   before: jpeg-decoder at the DCT scale (a thread per colour component) + the same shrink"
    );
    println!(
        "| frame     | KB avg | box                          | decoder      | scale | out     | wall ms med | p90   | CPU ms med | p90   | CPU % of a core @15 fps |"
    );
    println!(
        "|-----------|--------|------------------------------|--------------|-------|---------|-------------|-------|------------|-------|-------------------------|"
    );
    for (label, sub) in [("1280x720", "720p"), ("1920x1080", "1080p")] {
        let frames = load(&dir.join(sub));
        assert!(
            !frames.is_empty(),
            "no frames in {}",
            dir.join(sub).display()
        );
        let kb = frames.iter().map(Vec::len).sum::<usize>() as f64 / frames.len() as f64 / 1024.0;
        let original = jpeg_dimensions(&frames[0]).unwrap();
        for ((name, max), (decoder, preview)) in boxes.into_iter().flat_map(|b| {
            [
                (b, ("zune-jpeg", preview as PreviewFn)),
                (b, ("jpeg-decoder", preview_dct_scaled as PreviewFn)),
            ]
        }) {
            let rounds = if original.0 > 1280 { 8 } else { 12 };
            let t = time_preview(preview, &frames, max, rounds);
            let scale = if decoder == "zune-jpeg" {
                "1/1"
            } else {
                scale_name(original, t.out)
            };
            let mean_cpu = t.cpu.iter().sum::<Duration>().as_secs_f64() / t.cpu.len().max(1) as f64;
            println!(
                "| {label:<9} | {kb:>6.0} | {:<28} | {decoder:<12} | {:>5} | {:>7} | {:>11.2} | {:>5.2} | {:>10.2} | {:>5.2} | {:>22.1}% |",
                format!("{name} {}x{}", max.0, max.1),
                scale,
                format!("{}x{}", t.out.0, t.out.1),
                ms(percentile(&t.wall, 0.5)),
                ms(percentile(&t.wall, 0.9)),
                ms(percentile(&t.cpu, 0.5)),
                ms(percentile(&t.cpu, 0.9)),
                mean_cpu * 15.0 * 100.0,
            );
        }
    }
    println!();
    println!(
        "2. the pipeline without a screen: LivePreview over FolderCamera at 15 fps, {seconds} s each"
    );
    println!(
        "   budget: the decode thread's CPU budget (default {DEFAULT_PREVIEW_CPU_BUDGET}); a core k times slower"
    );
    println!(
        "   with the default budget shows as many pictures/s as this one with budget/k (k = 3, 4: a Pi 4)"
    );
    println!(
        "| frames    | box                 | budget | like             | CPU % of a core | pictures/s | camera frames | dropped | shown |"
    );
    println!(
        "|-----------|---------------------|--------|------------------|-----------------|------------|---------------|---------|-------|"
    );
    let budgets = [
        (DEFAULT_PREVIEW_CPU_BUDGET, "this core"),
        (DEFAULT_PREVIEW_CPU_BUDGET / 3.0, "a core 3x slower"),
        (DEFAULT_PREVIEW_CPU_BUDGET / 4.0, "a core 4x slower"),
    ];
    for (label, sub) in [("1280x720", "720p"), ("1920x1080", "1080p")] {
        let (name, max) = boxes[0];
        for (budget, like) in budgets {
            let (share, rate, stats) = pipeline(&dir.join(sub), max, budget, seconds);
            println!(
                "| {label:<9} | {:<19} | {budget:>6.3} | {like:<16} | {share:>14.1}% | {rate:>10.1} | {:>13} | {:>7} | {:>5} |",
                name, stats.frames, stats.dropped, stats.shown,
            );
        }
    }
    println!();
    println!(
        "A Raspberry Pi 4 core (Cortex-A72, 1.5-1.8 GHz) is roughly 3-4x slower than an x86 server core at JPEG decoding: multiply the CPU columns by 3-4 for the device."
    );
}
