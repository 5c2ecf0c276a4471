//! Generates the Tauri context (configuration, capabilities, embedded UI) at build time, and
//! declares the app's own commands so each is denied unless a capability allows it.

/// Every command of `chainlock_app::handler`, in the same order.
const COMMANDS: &[&str] = &[
    "inbox",
    "review",
    "diff_summary",
    "diff_rows",
    "sign",
    "reject",
    "finalize",
    "history",
    "settings",
    "set_notifications",
    "set_sync_interval",
    "set_autostart",
    "create_key",
    "sync_now",
    "opening_review",
    "read_ledger_key",
    "add_ledger_key",
    "set_key_label",
    "review_artifact",
    "cancel_work",
    "open_request_file",
    "opening_request_file",
    "watch_package",
];

fn main() {
    // The window's files are built by Vite into ui/dist; say how when they are missing
    // rather than letting the context macro fail obscurely.
    let index = std::path::Path::new("../ui/dist/index.html");
    println!("cargo:rerun-if-changed=../ui/dist");
    if !index.exists() {
        println!(
            "cargo:warning=ui/dist/index.html is missing: run `npm ci --prefix ui && npm run build --prefix ui` (scripts/setup does it)"
        );
    }
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .unwrap_or_else(|e| panic!("tauri build step failed: {e:#}"));
}
