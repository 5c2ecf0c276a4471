//! The commands without a window: an app on Tauri's mock runtime whose one window calls
//! them over the real IPC path (argument deserialization, the command wrappers, errors
//! serialized as the window receives them). Shared by the command test binaries.

// Each test binary compiles the whole module and uses a part of it.
#![allow(dead_code)]

use std::sync::Arc;

use serde_json::Value;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindowBuilder;

use chainlock_app::state::Shared;

/// A mock app managing `shared`, with its main window.
pub struct MockApp {
    _app: tauri::App<tauri::test::MockRuntime>,
    pub window: tauri::WebviewWindow<tauri::test::MockRuntime>,
}

impl MockApp {
    /// The app with every command of `chainlock_app::handler`, over `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        let app = mock_builder()
            .invoke_handler(chainlock_app::handler())
            .manage(shared)
            .build(mock_context(noop_assets()))
            .expect("build the mock app");
        let window = WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .expect("build the mock window");
        MockApp { _app: app, window }
    }

    /// Calls `cmd` with `args`: Ok(its value), or Err(the `CommandError` as JSON).
    pub fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        get_ipc_response(
            &self.window,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize::<Value>().unwrap())
    }

    /// [`Self::call`] with the error as its (kind, message).
    pub fn try_call(&self, cmd: &str, args: Value) -> Result<Value, (String, String)> {
        self.call(cmd, args).map_err(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_owned(),
                e["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
    }

    /// Calls `cmd`, which must succeed.
    pub fn ok(&self, cmd: &str, args: Value) -> Value {
        self.call(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    /// Calls `cmd`, which must fail: its error's (kind, message).
    pub fn error(&self, cmd: &str, args: Value) -> (String, String) {
        self.try_call(cmd, args)
            .expect_err(&format!("{cmd} should have failed"))
    }
}
