//! Compiles the Slint UI, with the English translation bundled (Dutch is the
//! source language) and debug info so tests can find elements by label.
fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations("ui/translations")
        .with_debug_info(true);
    if let Err(e) = slint_build::compile_with_config("ui/app.slint", config) {
        panic!("the Slint UI does not compile: {e}");
    }
}
