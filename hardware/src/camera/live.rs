//! The live camera preview, off the UI thread and as cheap as it can be:
//!
//! - a *capture* thread reads the camera at its own rate and keeps only the
//!   newest frame (also for the shutter);
//! - a *decode* thread turns the newest frame into a small RGB picture
//!   ([`preview`]: a SIMD decode on this thread, then a SIMD area-averaging
//!   shrink to exactly the on-screen size) and hands it to the UI, then
//!   waits until the UI has taken it.
//!
//! Frames that arrive while one is still being decoded or shown are
//! dropped, never queued: each hand-over is a one-item mailbox where a newer
//! frame replaces an older one. A frame identical to the last one shown
//! (byte for byte) is not decoded or handed over again. While paused (the
//! preview is hidden) nothing is decoded; after [`LivePreview::stop`] the
//! threads end and the camera is stopped.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;

use super::{Camera, Frame};
use crate::HardwareError;
use crate::jpeg::preview;

/// How often waiting threads look whether they were stopped.
const POLL: Duration = Duration::from_millis(200);
/// How long the capture thread waits before trying a failing camera again.
const RETRY: Duration = Duration::from_secs(1);
/// The share of one core the decode thread may use, averaged over each
/// picture (see [`LivePreview::set_cpu_budget`]). A 1080p camera frame takes
/// a Raspberry Pi 4 core an estimated 30-40 ms to decode (3-4x an x86
/// server core; `docs/performance.md`): at 15 fps that would be half the
/// core or more, so there the preview shows fewer pictures a second instead;
/// a faster core (or a 720p camera) gets all 15.
pub const DEFAULT_PREVIEW_CPU_BUDGET: f64 = 0.3;

/// When the decode thread may start on its next picture: the last one began
/// at `started` and took `took`, and decoding may use `budget` (0..=1) of a
/// core. Frames that arrive before then replace each other (dropped).
pub(crate) fn next_decode_at(started: Instant, took: Duration, budget: f64) -> Instant {
    let budget = if budget.is_finite() {
        budget.clamp(0.01, 1.0)
    } else {
        1.0
    };
    started + took.div_f64(budget)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a mailbox holds after a wait.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Taken<T> {
    Item(T),
    /// Nothing came within the timeout.
    Empty,
    /// The sender closed the mailbox (and nothing is left in it).
    Closed,
}

/// A hand-over of one item between two threads where only the newest
/// counts: putting an item while the previous one was not taken yet
/// replaces (drops) it. Nothing ever queues.
#[derive(Debug)]
pub(crate) struct Mailbox<T> {
    slot: Mutex<(Option<T>, bool)>,
    ready: Condvar,
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Mailbox {
            slot: Mutex::new((None, false)),
            ready: Condvar::new(),
        }
    }
}

impl<T> Mailbox<T> {
    /// Leaves `item` for the reader. Returns the item it replaced, which
    /// nobody took (dropped), if there was one.
    pub(crate) fn put(&self, item: T) -> Option<T> {
        let replaced = lock(&self.slot).0.replace(item);
        self.ready.notify_one();
        replaced
    }

    /// Takes the item, waiting up to `timeout` for one.
    pub(crate) fn take(&self, timeout: Duration) -> Taken<T> {
        let slot = lock(&self.slot);
        let (mut slot, _) = self
            .ready
            .wait_timeout_while(slot, timeout, |(item, closed)| item.is_none() && !*closed)
            .unwrap_or_else(PoisonError::into_inner);
        match slot.0.take() {
            Some(item) => Taken::Item(item),
            None if slot.1 => Taken::Closed,
            None => Taken::Empty,
        }
    }

    /// No more items will come; a waiting reader wakes up.
    pub(crate) fn close(&self) {
        lock(&self.slot).1 = true;
        self.ready.notify_all();
    }
}

/// Tells the decode thread that the UI has taken a picture. Dropping it says
/// the same (so a picture the UI never got, e.g. because the window closed,
/// does not hold the preview up).
pub struct Shown {
    gate: Arc<(Mutex<bool>, Condvar)>,
}

impl Shown {
    fn new() -> (Shown, Arc<(Mutex<bool>, Condvar)>) {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        (Shown { gate: gate.clone() }, gate)
    }
}

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shown").finish_non_exhaustive()
    }
}

impl Drop for Shown {
    fn drop(&mut self) {
        *lock(&self.gate.0) = true;
        self.gate.1.notify_all();
    }
}

/// What the preview hands to the UI. Called on the preview's threads: the
/// UI side passes it on to its event loop.
#[derive(Debug)]
pub enum LiveEvent {
    /// A new picture, exactly the size asked for with
    /// [`LivePreview::set_size`] (fitted, aspect ratio kept). Drop the
    /// [`Shown`] once it is on its way to the screen; the next picture is
    /// only decoded after that.
    Picture(RgbImage, Shown),
    /// The camera does not start or deliver (reported once until it works
    /// again; it is retried every second).
    CameraError(HardwareError),
}

/// Counts of what the preview did with the camera's frames.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LiveStats {
    /// Frames read from the camera.
    pub frames: u64,
    /// Frames that were replaced by a newer one before the decoder got to
    /// them (the decoder or the UI was busy).
    pub dropped: u64,
    /// Frames identical to the last one shown (not decoded again).
    pub unchanged: u64,
    /// Frames not decoded because the preview was paused.
    pub paused: u64,
    /// Pictures decoded and handed to the UI.
    pub shown: u64,
    /// Frames that did not decode.
    pub bad: u64,
}

#[derive(Debug, Default)]
struct Counters {
    frames: AtomicU64,
    dropped: AtomicU64,
    unchanged: AtomicU64,
    paused: AtomicU64,
    shown: AtomicU64,
    bad: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

#[derive(Debug)]
struct Shared {
    running: AtomicBool,
    paused: AtomicBool,
    /// The on-screen size, `w << 32 | h`.
    size: AtomicU64,
    /// [`LivePreview::set_cpu_budget`], as `f64` bits.
    budget: AtomicU64,
    frames: Mailbox<Frame>,
    counters: Counters,
}

impl Shared {
    fn running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    fn size(&self) -> (u32, u32) {
        let v = self.size.load(Ordering::Relaxed);
        // Both halves were u32s.
        ((v >> 32) as u32, (v & u64::from(u32::MAX)) as u32)
    }

    /// Sleeps up to `total`, waking early when stopped.
    fn sleep(&self, total: Duration) {
        let mut left = total;
        while self.running() && !left.is_zero() {
            let step = left.min(POLL);
            std::thread::sleep(step);
            left -= step;
        }
    }
}

fn pack(w: u32, h: u32) -> u64 {
    (u64::from(w.max(1)) << 32) | u64::from(h.max(1))
}

/// A running live preview (see the module documentation). Dropping it stops
/// it.
pub struct LivePreview {
    shared: Arc<Shared>,
    capture: Option<JoinHandle<()>>,
}

impl fmt::Debug for LivePreview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LivePreview")
            .field("running", &self.is_running())
            .field("paused", &self.shared.paused.load(Ordering::Relaxed))
            .field("size", &self.shared.size())
            .field("stats", &self.stats())
            .finish()
    }
}

impl LivePreview {
    /// Starts the preview of `camera` with pictures of at most `size`
    /// (width, height in pixels). Each frame read is also left in `latest`
    /// (for the shutter). `sink` gets the pictures and camera errors, on the
    /// preview's threads.
    ///
    /// `previous` is the preview this one follows, if any: it is stopped,
    /// and the new capture thread waits for it to let go of the camera
    /// before starting it (so the old one cannot stop the camera the new
    /// one just started), without blocking the caller.
    ///
    /// Fails only if a thread cannot be spawned.
    pub fn start<S>(
        camera: Arc<Mutex<Box<dyn Camera>>>,
        latest: Arc<Mutex<Option<Frame>>>,
        size: (u32, u32),
        sink: S,
        previous: Option<LivePreview>,
    ) -> Result<LivePreview, HardwareError>
    where
        S: Fn(LiveEvent) + Send + Clone + 'static,
    {
        let previous_capture = previous.and_then(|mut p| {
            p.stop();
            p.capture.take()
        });
        let shared = Arc::new(Shared {
            running: AtomicBool::new(true),
            paused: AtomicBool::new(false),
            size: AtomicU64::new(pack(size.0, size.1)),
            budget: AtomicU64::new(DEFAULT_PREVIEW_CPU_BUDGET.to_bits()),
            frames: Mailbox::default(),
            counters: Counters::default(),
        });
        let spawn_error = |e: std::io::Error| HardwareError::Camera(format!("preview thread: {e}"));
        let decode = {
            let shared = shared.clone();
            let sink = sink.clone();
            std::thread::Builder::new()
                .name("kring-preview".into())
                .spawn(move || decode_loop(&shared, &sink))
                .map_err(spawn_error)?
        };
        drop(decode); // ends by itself once stopped
        let capture = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("kring-capture".into())
                .spawn(move || {
                    if let Some(previous) = previous_capture {
                        let _ = previous.join();
                    }
                    capture_loop(&camera, &latest, &shared, &sink);
                })
        };
        match capture {
            Ok(handle) => Ok(LivePreview {
                shared,
                capture: Some(handle),
            }),
            Err(e) => {
                shared.running.store(false, Ordering::SeqCst);
                shared.frames.close();
                Err(spawn_error(e))
            }
        }
    }

    /// Stops the preview: no more pictures; the threads end on their own
    /// (within a frame time) and the capture thread stops the camera.
    /// Does not block.
    pub fn stop(&mut self) {
        if self.shared.running.swap(false, Ordering::SeqCst) {
            self.shared.frames.close();
            tracing::debug!(stats = ?self.stats(), "live preview stopped");
        }
    }

    /// False once stopped.
    pub fn is_running(&self) -> bool {
        self.shared.running()
    }

    /// While paused (the preview is not on the screen) frames are still read
    /// (the shutter gets the newest) but not decoded.
    pub fn set_paused(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::SeqCst);
    }

    /// The on-screen size of the preview, in pixels; the next picture has it.
    pub fn set_size(&self, width: u32, height: u32) {
        self.shared
            .size
            .store(pack(width, height), Ordering::Relaxed);
    }

    /// The share of one core (0.01 to 1) that decoding may use, averaged
    /// over each picture: after a picture that took `t` to decode, the next
    /// one starts no sooner than `t / budget` after it began. Frames that
    /// come in meanwhile are dropped, so a slow core shows fewer pictures a
    /// second instead of using more of itself. Default
    /// [`DEFAULT_PREVIEW_CPU_BUDGET`].
    pub fn set_cpu_budget(&self, budget: f64) {
        self.shared
            .budget
            .store(budget.to_bits(), Ordering::Relaxed);
    }

    /// What happened to the frames so far.
    pub fn stats(&self) -> LiveStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LiveStats {
            frames: get(&c.frames),
            dropped: get(&c.dropped),
            unchanged: get(&c.unchanged),
            paused: get(&c.paused),
            shown: get(&c.shown),
            bad: get(&c.bad),
        }
    }
}

impl Drop for LivePreview {
    fn drop(&mut self) {
        self.stop();
    }
}

fn capture_loop<S: Fn(LiveEvent)>(
    camera: &Mutex<Box<dyn Camera>>,
    latest: &Mutex<Option<Frame>>,
    shared: &Shared,
    sink: &S,
) {
    let mut started = false;
    let mut failing = false;
    while shared.running() {
        let result = {
            let mut cam = lock(camera);
            let ready = if started { Ok(()) } else { cam.start() };
            ready.and_then(|()| {
                started = true;
                cam.frame()
            })
        };
        match result {
            Ok(frame) => {
                if failing {
                    tracing::info!("camera works again");
                    failing = false;
                }
                bump(&shared.counters.frames);
                *lock(latest) = Some(frame.clone());
                if shared.paused.load(Ordering::SeqCst) {
                    bump(&shared.counters.paused);
                } else if shared.frames.put(frame).is_some() {
                    bump(&shared.counters.dropped);
                }
            }
            // Someone else stopped it: start it again.
            Err(HardwareError::NotStarted) => started = false,
            Err(error) => {
                started = false;
                if failing {
                    tracing::debug!(%error, "camera still failing");
                } else {
                    tracing::warn!(%error, "camera failed; retrying every second");
                    failing = true;
                    sink(LiveEvent::CameraError(error));
                }
                shared.sleep(RETRY);
            }
        }
    }
    lock(camera).stop();
    shared.frames.close();
}

fn decode_loop<S: Fn(LiveEvent)>(shared: &Shared, sink: &S) {
    // What the UI shows now: the frame's bytes at this size.
    let mut last: Option<(Vec<u8>, (u32, u32))> = None;
    loop {
        let frame = match shared.frames.take(POLL) {
            Taken::Item(frame) => frame,
            Taken::Empty if shared.running() => continue,
            Taken::Empty | Taken::Closed => break,
        };
        if !shared.running() {
            break;
        }
        if shared.paused.load(Ordering::SeqCst) {
            bump(&shared.counters.paused);
            continue;
        }
        let size = shared.size();
        if last
            .as_ref()
            .is_some_and(|(jpeg, at)| *at == size && *jpeg == frame.jpeg)
        {
            bump(&shared.counters.unchanged);
            continue;
        }
        let started = Instant::now();
        let decoded = preview(&frame.jpeg, size.0, size.1);
        let budget = f64::from_bits(shared.budget.load(Ordering::Relaxed));
        let next = next_decode_at(started, started.elapsed(), budget);
        let picture = match decoded {
            Ok(picture) => picture,
            Err(error) => {
                if shared.counters.bad.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(%error, "camera frame does not decode (skipped)");
                }
                shared.sleep(next.saturating_duration_since(Instant::now()));
                continue;
            }
        };
        last = Some((frame.jpeg, size));
        bump(&shared.counters.shown);
        let (shown, gate) = Shown::new();
        sink(LiveEvent::Picture(picture, shown));
        // Frames that come in meanwhile replace each other in the mailbox.
        let (done, cv) = &*gate;
        let mut done = lock(done);
        while !*done && shared.running() {
            done = cv
                .wait_timeout(done, POLL)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(done);
        // Within the CPU budget; meanwhile frames replace each other.
        shared.sleep(next.saturating_duration_since(Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::camera::{FolderCamera, SyntheticCamera};
    use std::sync::mpsc;
    use std::time::Instant;

    #[test]
    fn a_mailbox_keeps_only_the_newest_item() {
        let mb = Mailbox::default();
        assert_eq!(mb.take(Duration::ZERO), Taken::Empty);
        assert_eq!(mb.put(1), None);
        assert_eq!(mb.put(2), Some(1), "the untaken item is dropped");
        assert_eq!(mb.put(3), Some(2));
        assert_eq!(mb.take(Duration::ZERO), Taken::Item(3));
        assert_eq!(mb.take(Duration::from_millis(5)), Taken::Empty);
        mb.put(4);
        mb.close();
        assert_eq!(
            mb.take(Duration::ZERO),
            Taken::Item(4),
            "left items are still taken"
        );
        assert_eq!(mb.take(Duration::from_secs(5)), Taken::Closed);
    }

    #[test]
    fn a_mailbox_wakes_a_waiting_reader() {
        let mb = Arc::new(Mailbox::default());
        let reader = {
            let mb = mb.clone();
            std::thread::spawn(move || mb.take(Duration::from_secs(10)))
        };
        std::thread::sleep(Duration::from_millis(20));
        mb.put("frame");
        assert_eq!(reader.join().unwrap(), Taken::Item("frame"));
    }

    fn camera(c: impl Camera + 'static) -> Arc<Mutex<Box<dyn Camera>>> {
        Arc::new(Mutex::new(Box::new(c)))
    }

    /// What the recording sink saw: a picture's size (and its Shown, held
    /// until the test lets go), or a camera error.
    type Seen = Result<((u32, u32), Shown), String>;

    /// A sink that sends what it gets to a channel.
    fn recording_sink() -> (
        impl Fn(LiveEvent) + Send + Clone + 'static,
        mpsc::Receiver<Seen>,
    ) {
        let (tx, rx) = mpsc::channel();
        let tx = Arc::new(Mutex::new(tx));
        let sink = move |event: LiveEvent| {
            let msg = match event {
                LiveEvent::Picture(picture, shown) => Ok((picture.dimensions(), shown)),
                LiveEvent::CameraError(e) => Err(e.to_string()),
            };
            let _ = lock(&tx).send(msg);
        };
        (sink, rx)
    }

    #[test]
    fn pictures_have_the_asked_size_and_a_slow_ui_drops_frames() {
        // A fast camera (no frame clock) and a UI that holds a picture 400 ms.
        let cam = camera(SyntheticCamera::new(640, 360).with_fps(0));
        let latest = Arc::new(Mutex::new(None));
        let (sink, rx) = recording_sink();
        let mut live =
            LivePreview::start(cam.clone(), latest.clone(), (200, 200), sink, None).unwrap();
        let (size, shown) = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        assert_eq!(size, (200, 113), "16:9 fitted into 200x200");
        std::thread::sleep(Duration::from_millis(400));
        let stats = live.stats();
        assert_eq!(
            stats.shown, 1,
            "nothing decoded while the UI holds the picture"
        );
        assert!(stats.frames > 3, "the camera kept going: {stats:?}");
        assert!(stats.dropped >= 1, "and its frames were dropped: {stats:?}");
        drop(shown);
        live.set_size(320, 320);
        let (size, _shown) = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        assert!(size == (200, 113) || size == (320, 180), "{size:?}");
        assert!(latest.lock().unwrap().is_some(), "the shutter has a frame");
        live.stop();
        assert!(!live.is_running());
    }

    #[test]
    fn an_unchanged_frame_is_not_decoded_again_and_pausing_stops_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let img = RgbImage::from_pixel(320, 180, image::Rgb([200, 100, 50]));
        let jpeg = crate::jpeg::encode_jpeg(&img, 80).unwrap();
        std::fs::write(dir.path().join("only.jpg"), jpeg).unwrap();
        let cam = camera(FolderCamera::new(dir.path()).with_fps(100));
        let (sink, rx) = recording_sink();
        let live = LivePreview::start(
            cam.clone(),
            Arc::new(Mutex::new(None)),
            (160, 90),
            sink,
            None,
        )
        .unwrap();
        let (size, shown) = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        assert_eq!(size, (160, 90));
        drop(shown);
        std::thread::sleep(Duration::from_millis(200));
        let stats = live.stats();
        assert_eq!(stats.shown, 1, "one file: one picture, {stats:?}");
        assert!(stats.unchanged >= 5, "{stats:?}");
        assert!(rx.try_recv().is_err());

        live.set_paused(true);
        std::thread::sleep(Duration::from_millis(50));
        let before = live.stats();
        std::thread::sleep(Duration::from_millis(100));
        let after = live.stats();
        assert!(after.frames > before.frames, "still reading the camera");
        assert_eq!(
            after.unchanged, before.unchanged,
            "but not comparing or decoding"
        );
        assert!(after.paused > before.paused);
    }

    #[test]
    fn the_next_decode_waits_for_the_cpu_budget() {
        let t0 = Instant::now();
        let took = Duration::from_millis(30);
        assert_eq!(
            next_decode_at(t0, took, 0.3),
            t0 + Duration::from_millis(100)
        );
        assert_eq!(
            next_decode_at(t0, took, 1.0),
            t0 + took,
            "a whole core: no pause"
        );
        assert_eq!(
            next_decode_at(t0, took, 7.0),
            t0 + took,
            "more than a core is a core"
        );
        assert_eq!(
            next_decode_at(t0, took, 0.0),
            t0 + took * 100,
            "at least 1 %"
        );
        assert_eq!(next_decode_at(t0, took, f64::NAN), t0 + took);
    }

    #[test]
    fn a_small_cpu_budget_shows_fewer_pictures_instead_of_using_more_cpu() {
        // Two different frames at 100 fps (so none is "unchanged"), a UI
        // that takes every picture at once, and 1 % of a core: each decode
        // of a few milliseconds is followed by a pause 99 times as long.
        let dir = tempfile::tempdir().unwrap();
        for (name, shade) in [("a.jpg", 40u8), ("b.jpg", 220u8)] {
            let img = RgbImage::from_fn(640, 360, |x, y| {
                image::Rgb([shade, (x % 256) as u8, (y % 256) as u8])
            });
            std::fs::write(
                dir.path().join(name),
                crate::jpeg::encode_jpeg(&img, 85).unwrap(),
            )
            .unwrap();
        }
        let cam = camera(FolderCamera::new(dir.path()).with_fps(100));
        let pictures = Arc::new(AtomicU64::new(0));
        let sink = {
            let pictures = pictures.clone();
            move |event: LiveEvent| {
                if let LiveEvent::Picture(_, shown) = event {
                    pictures.fetch_add(1, Ordering::Relaxed);
                    drop(shown);
                }
            }
        };
        let mut live =
            LivePreview::start(cam, Arc::new(Mutex::new(None)), (320, 180), sink, None).unwrap();
        live.set_cpu_budget(0.01);
        std::thread::sleep(Duration::from_millis(1500));
        let stats = live.stats();
        live.stop();
        assert!(stats.frames >= 40, "the camera kept going: {stats:?}");
        assert!(stats.shown >= 1, "{stats:?}");
        assert!(
            stats.shown * 4 <= stats.frames,
            "most frames are dropped, not decoded: {stats:?}"
        );
        assert!(
            stats.dropped + stats.shown + 2 >= stats.frames / 2,
            "{stats:?}"
        );
        assert_eq!(pictures.load(Ordering::Relaxed), stats.shown);
    }

    #[test]
    fn a_camera_error_is_reported_once_and_stopping_ends_the_threads() {
        let dir = tempfile::tempdir().unwrap(); // no JPEGs
        let cam = camera(FolderCamera::new(dir.path()));
        let (sink, rx) = recording_sink();
        let mut live = LivePreview::start(
            cam.clone(),
            Arc::new(Mutex::new(None)),
            (100, 100),
            sink,
            None,
        )
        .unwrap();
        let error = rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap_err();
        assert!(error.contains("no .jpg files"), "{error}");
        live.stop();
        let stopped = Instant::now();
        // The capture thread lets go of the camera soon after.
        let handle = live.capture.take().unwrap();
        handle.join().unwrap();
        assert!(stopped.elapsed() < Duration::from_secs(2));
        assert!(
            rx.recv_timeout(Duration::from_millis(100)).is_err(),
            "reported once"
        );
    }

    #[test]
    fn a_new_preview_waits_for_the_previous_one_to_let_go() {
        let cam = camera(SyntheticCamera::new(160, 90).with_fps(30));
        let latest = Arc::new(Mutex::new(None));
        let (sink, rx) = recording_sink();
        let first =
            LivePreview::start(cam.clone(), latest.clone(), (80, 45), sink.clone(), None).unwrap();
        drop(rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap());
        let second =
            LivePreview::start(cam.clone(), latest.clone(), (80, 45), sink, Some(first)).unwrap();
        // The old capture thread stopped the camera before the new one
        // started it, so the new one keeps getting frames.
        std::thread::sleep(Duration::from_millis(300));
        let before = second.stats().frames;
        std::thread::sleep(Duration::from_millis(200));
        assert!(second.stats().frames > before, "{:?}", second.stats());
    }
}
