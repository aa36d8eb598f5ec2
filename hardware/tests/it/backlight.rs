//! Backlight over a fake sysfs tree.

use std::path::Path;

use kring_hardware::{Backlight, HardwareError, NoBacklight, SysfsBacklight};

fn fake_backlight(root: &Path, name: &str, max: &str, brightness: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("max_brightness"), max).unwrap();
    std::fs::write(dir.join("brightness"), brightness).unwrap();
    dir
}

fn raw(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("brightness"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn sysfs_backlight_writes_and_reads_levels() {
    let root = tempfile::tempdir().unwrap();
    let dir = fake_backlight(root.path(), "rpi_backlight", "255\n", "255\n");
    let mut backlight = SysfsBacklight::open(&dir).unwrap();
    assert_eq!(backlight.max_brightness(), 255);
    assert!((backlight.level() - 1.0).abs() < 1e-6);

    for (level, expected) in [
        (0.5, "128"),
        (0.2, "51"),
        (1.0, "255"),
        (0.0, "0"),
        (0.004, "1"),
    ] {
        backlight.set_level(level).unwrap();
        assert_eq!(raw(&dir), expected, "level {level}");
        let read = backlight.level();
        let want: f32 = expected.parse::<f32>().unwrap() / 255.0;
        assert!((read - want).abs() < 1e-6, "read {read}, want {want}");
    }

    // Someone else (the app at boot, a shell) changes it: level() sees that.
    std::fs::write(dir.join("brightness"), "100\n").unwrap();
    assert!((backlight.level() - 100.0 / 255.0).abs() < 1e-6);

    // Out-of-range levels are refused and change nothing.
    for bad in [-0.1, 1.01, f32::NAN, f32::INFINITY] {
        assert!(matches!(
            backlight.set_level(bad),
            Err(HardwareError::InvalidLevel(_))
        ));
        assert_eq!(raw(&dir), "100");
    }
}

#[test]
fn sysfs_backlight_refuses_broken_directories() {
    let root = tempfile::tempdir().unwrap();
    assert!(SysfsBacklight::open(root.path().join("missing")).is_err());
    let zero = fake_backlight(root.path(), "zero", "0", "0");
    assert!(matches!(
        SysfsBacklight::open(&zero),
        Err(HardwareError::Backlight { .. })
    ));
    let junk = fake_backlight(root.path(), "junk", "lots", "1");
    assert!(SysfsBacklight::open(&junk).is_err());
}

#[test]
fn detect_picks_the_first_working_backlight() {
    let root = tempfile::tempdir().unwrap();
    assert!(SysfsBacklight::detect_in(root.path()).is_none());
    assert!(SysfsBacklight::detect_in(&root.path().join("missing")).is_none());
    fake_backlight(root.path(), "a_broken", "0", "0");
    let good = fake_backlight(root.path(), "b_panel", "100", "40");
    fake_backlight(root.path(), "c_other", "255", "255");
    let backlight = SysfsBacklight::detect_in(root.path()).unwrap();
    assert_eq!(backlight.dir(), good);
    assert!((backlight.level() - 0.4).abs() < 1e-6);
}

#[test]
fn no_backlight_is_a_no_op_that_remembers() {
    let mut backlight = NoBacklight::default();
    assert!((backlight.level() - 1.0).abs() < 1e-6);
    backlight.set_level(0.25).unwrap();
    assert!((backlight.level() - 0.25).abs() < 1e-6);
    assert!(backlight.set_level(2.0).is_err());
    assert!((backlight.level() - 0.25).abs() < 1e-6);
    // Usable behind the trait object the app holds.
    let mut boxed: Box<dyn Backlight> = Box::new(NoBacklight::default());
    boxed.set_level(0.0).unwrap();
    assert_eq!(boxed.level(), 0.0);
}
