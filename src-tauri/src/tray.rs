//! The tray icon and its menu.
//!
//! Linux delivers no click events for tray icons (libayatana-appindicator shows only a
//! menu), so every tray action is a menu entry; no behaviour may depend on a click.

use tauri::menu::{Menu, MenuEvent, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

use crate::error::{Error, Result};
use crate::MAIN_WINDOW;

/// An action offered in the tray menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayAction {
    /// Bring the co-signer window to the front.
    Show,
    /// Quit the app.
    Quit,
}

impl TrayAction {
    /// Every action, in menu order.
    pub const ALL: [TrayAction; 2] = [TrayAction::Show, TrayAction::Quit];

    /// The stable menu id of this action.
    pub fn id(self) -> &'static str {
        match self {
            TrayAction::Show => "show",
            TrayAction::Quit => "quit",
        }
    }

    /// The label shown in the menu.
    pub fn label(self) -> &'static str {
        match self {
            TrayAction::Show => "Show ChainLock",
            TrayAction::Quit => "Quit ChainLock",
        }
    }

    /// The action behind a menu id, if the id is one of ours.
    pub fn from_id(id: &str) -> Option<TrayAction> {
        TrayAction::ALL.into_iter().find(|action| action.id() == id)
    }
}

/// Builds the tray icon with its menu for `app`.
pub fn install<R: Runtime>(app: &AppHandle<R>) -> Result<()> {
    let setup = |step| move |source| Error::Setup { step, source };
    let items = TrayAction::ALL
        .into_iter()
        .map(|action| MenuItem::with_id(app, action.id(), action.label(), true, None::<&str>))
        .collect::<tauri::Result<Vec<_>>>()
        .map_err(setup("create the tray menu entries"))?;
    let refs: Vec<&dyn tauri::menu::IsMenuItem<R>> = items
        .iter()
        .map(|item| item as &dyn tauri::menu::IsMenuItem<R>)
        .collect();
    let menu = Menu::with_items(app, &refs).map_err(setup("build the tray menu"))?;

    let mut tray = TrayIconBuilder::with_id("chainlock")
        .tooltip("ChainLock co-signer")
        .menu(&menu)
        .on_menu_event(on_menu_event);
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app).map_err(setup("build the tray icon"))?;
    Ok(())
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match TrayAction::from_id(event.id().as_ref()) {
        Some(TrayAction::Show) => {
            if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
                // Best effort: a window manager may refuse focus; the user can still find
                // the window, and nothing depends on it being in front.
                let _ = window.show();
                let _ = window.unminimize();
                let _ = window.set_focus();
            }
        }
        Some(TrayAction::Quit) => app.exit(0),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::TrayAction;

    #[test]
    fn menu_ids_round_trip_and_are_distinct() {
        for action in TrayAction::ALL {
            assert_eq!(TrayAction::from_id(action.id()), Some(action));
        }
        assert_ne!(TrayAction::Show.id(), TrayAction::Quit.id());
    }

    #[test]
    fn unknown_menu_ids_do_nothing() {
        assert_eq!(TrayAction::from_id(""), None);
        assert_eq!(TrayAction::from_id("Show"), None);
        assert_eq!(TrayAction::from_id("sign"), None);
    }
}
