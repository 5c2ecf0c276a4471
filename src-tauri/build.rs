//! Generates the Tauri context (configuration, capabilities, embedded UI) at build time.
fn main() {
    tauri_build::build();
}
