//! Deliberate crash points for the soak test (feature `crash-points`): when
//! `KRING_CRASH_POINTS` names a point (comma separated, e.g. `commit,upload`)
//! the process aborts there with probability `KRING_CRASH_PROBABILITY`
//! (default 0.05). Without the feature this compiles to nothing.

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
            std::process::abort();
        }
    }
    #[cfg(not(feature = "crash-points"))]
    let _ = name;
}
