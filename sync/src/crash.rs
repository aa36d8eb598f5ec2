//! Deliberate crash points for the soak test (feature `crash-points`): when
//! `KRING_CRASH_POINTS` names a point (comma separated, e.g. `commit,upload`)
//! the process aborts there with probability `KRING_CRASH_PROBABILITY`
//! (default 0.05), first appending the point's name to `KRING_CRASH_LOG` if set.
//! Without the feature this compiles to nothing.

/// Aborts the process here if the soak test asks for it.
#[inline]
pub fn crash_point(name: &str) {
    #[cfg(feature = "crash-points")]
    {
        use rand::Rng;
        use std::sync::OnceLock;
        static CONFIG: OnceLock<(Vec<String>, f64)> = OnceLock::new();
        let (points, p) = CONFIG.get_or_init(|| {
            let points = std::env::var("KRING_CRASH_POINTS")
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let p = std::env::var("KRING_CRASH_PROBABILITY")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.05);
            (points, p)
        });
        if points.iter().any(|x| x == name) && rand::rng().random_bool(*p) {
            tracing::error!(point = name, "deliberate crash (soak test)");
            // Tell the soak which point fired (best effort), then die at once.
            if let Ok(path) = std::env::var("KRING_CRASH_LOG") {
                use std::io::Write;
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let _ = writeln!(f, "{name}");
                    let _ = f.sync_all();
                }
            }
            std::process::abort();
        }
    }
    #[cfg(not(feature = "crash-points"))]
    let _ = name;
}
