//! The frame clock of the imitation cameras: frames happen at fixed times
//! (`start + k / fps`) whether anyone reads them or not, as on a real camera.
//! A reader that comes late gets the newest frame at once; the frames it
//! missed are gone (dropped, not queued). A reader that is early waits for
//! the next frame time.

use std::time::{Duration, Instant};

/// When the next frame is handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tick {
    /// The frame's number on the clock (0 is the frame at start).
    pub index: u64,
    /// How long to wait for it (zero when it is already there).
    pub wait: Duration,
    /// Frames that happened since the last one handed over and that nobody
    /// took: the camera dropped them.
    pub dropped: u64,
}

/// The frame to hand over `elapsed` after the clock started, when frame
/// `last` was the previous one handed over (`None`: none yet).
///
/// - none yet: the newest frame, now;
/// - the reader is late (one or more frame times passed since `last`): the
///   newest frame, now, and the ones in between are dropped;
/// - the reader is early: frame `last + 1`, after waiting for its time.
pub(crate) fn next_tick(elapsed: Duration, interval: Duration, last: Option<u64>) -> Tick {
    if interval.is_zero() {
        return Tick {
            index: last.map_or(0, |l| l + 1),
            wait: Duration::ZERO,
            dropped: 0,
        };
    }
    // Whole frame times since the start; u64 nanoseconds last 584 years.
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let step = nanos(interval);
    let current = nanos(elapsed) / step;
    match last {
        None => Tick {
            index: current,
            wait: Duration::ZERO,
            dropped: 0,
        },
        Some(last) if current > last => Tick {
            index: current,
            wait: Duration::ZERO,
            dropped: current - last - 1,
        },
        Some(last) => {
            let due = (last + 1).saturating_mul(step);
            Tick {
                index: last + 1,
                wait: Duration::from_nanos(due.saturating_sub(nanos(elapsed))),
                dropped: 0,
            }
        }
    }
}

/// A frame clock at `fps` frames per second (0: no clock, every call is a
/// new frame at once).
#[derive(Debug, Clone)]
pub(crate) struct FrameClock {
    fps: u32,
    start: Option<Instant>,
    last: Option<u64>,
    dropped: u64,
}

impl FrameClock {
    pub(crate) fn new(fps: u32) -> Self {
        FrameClock {
            fps,
            start: None,
            last: None,
            dropped: 0,
        }
    }

    pub(crate) fn set_fps(&mut self, fps: u32) {
        self.fps = fps;
        self.reset();
    }

    /// The camera stopped: the next frame starts the clock again.
    pub(crate) fn reset(&mut self) {
        self.start = None;
        self.last = None;
    }

    /// Waits for the next frame time. Returns how many frames were dropped
    /// since the previous call (frame times nobody asked for).
    pub(crate) fn wait_next(&mut self) -> u64 {
        if self.fps == 0 {
            return 0;
        }
        let start = *self.start.get_or_insert_with(Instant::now);
        let tick = next_tick(
            start.elapsed(),
            Duration::from_secs(1) / self.fps,
            self.last,
        );
        if !tick.wait.is_zero() {
            std::thread::sleep(tick.wait);
        }
        self.last = Some(tick.index);
        self.dropped += tick.dropped;
        tick.dropped
    }

    /// Frames dropped since the clock was made.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ticks_follow_the_clock_and_drop_what_was_missed() {
        let interval = Duration::from_micros(66_667); // 15 fps
        // (elapsed ms, last handed over) -> (index, wait ms, dropped)
        for (elapsed, last, want) in [
            // the first frame is there at once, whenever it is asked for
            (0, None, (0, 0, 0)),
            (250, None, (3, 0, 0)),
            // early: wait for the next frame time
            (10, Some(0), (1, 56, 0)),
            (66, Some(0), (1, 0, 0)),
            (140, Some(2), (3, 60, 0)),
            // exactly on time
            (134, Some(1), (2, 0, 0)),
            // late by less than a frame: the next one, at once
            (70, Some(0), (1, 0, 0)),
            // late by several frames: the newest, the others are dropped
            (350, Some(0), (5, 0, 4)),
            (1000, Some(10), (14, 0, 3)),
        ] {
            let tick = next_tick(elapsed * MS, interval, last);
            let got = (tick.index, tick.wait.as_millis() as u64, tick.dropped);
            assert_eq!(got, want, "at {elapsed} ms after {last:?}");
        }
    }

    #[test]
    fn no_interval_means_no_waiting_and_no_dropping() {
        assert_eq!(
            next_tick(Duration::from_secs(5), Duration::ZERO, Some(7)),
            Tick {
                index: 8,
                wait: Duration::ZERO,
                dropped: 0
            }
        );
    }

    #[test]
    fn a_slow_reader_gets_the_newest_frame_and_drops_the_rest() {
        // Only lower bounds on time: a loaded machine may oversleep.
        let mut clock = FrameClock::new(50); // 20 ms
        let started = Instant::now();
        clock.wait_next();
        clock.wait_next();
        assert!(started.elapsed() >= 19 * MS, "waited for the second frame");
        std::thread::sleep(70 * MS);
        let dropped = clock.wait_next();
        assert!(dropped >= 2, "frames passed while busy are dropped");
        assert!(clock.dropped() >= dropped);
    }
}
