//! The tray icon and its menu.
//!
//! Linux delivers no click events for tray icons (libayatana-appindicator shows only a
//! menu), so every tray action is a menu entry; no behaviour may depend on a click. The menu
//! lists each request waiting for my signature; the tooltip and the icon (a badge) show
//! their count.

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

use crate::desktop;
use crate::error::{Error, Result};
use crate::ipc::AppEvent;

/// The tray icon's id.
pub const TRAY_ID: &str = "chainlock";
/// Menu id prefix of the per-request entries: `review:<request id>`.
const REVIEW_PREFIX: &str = "review:";

/// An action offered in the tray menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayAction {
    /// Bring the window to the front on the inbox.
    OpenInbox,
    /// Open the review of a request.
    Review(String),
    /// Pause or resume notifications.
    PauseNotifications,
    /// Quit the app.
    Quit,
}

impl TrayAction {
    /// The stable menu id of this action.
    pub fn id(&self) -> String {
        match self {
            TrayAction::OpenInbox => "open-inbox".into(),
            TrayAction::Review(id) => format!("{REVIEW_PREFIX}{id}"),
            TrayAction::PauseNotifications => "pause-notifications".into(),
            TrayAction::Quit => "quit".into(),
        }
    }

    /// The action behind a menu id, if the id is one of ours.
    pub fn from_id(id: &str) -> Option<TrayAction> {
        match id {
            "open-inbox" => Some(TrayAction::OpenInbox),
            "pause-notifications" => Some(TrayAction::PauseNotifications),
            "quit" => Some(TrayAction::Quit),
            other => other
                .strip_prefix(REVIEW_PREFIX)
                .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(|r| TrayAction::Review(r.to_owned())),
        }
    }
}

/// The tooltip for `waiting` requests.
pub fn tooltip(waiting: usize) -> String {
    match waiting {
        0 => "ChainLock: nothing waits for your signature".into(),
        1 => "ChainLock: 1 request waits for your signature".into(),
        n => format!("ChainLock: {n} requests wait for your signature"),
    }
}

/// The default icon with an amber badge in its lower right corner: requests are waiting.
fn badged(icon: &Image<'_>) -> Image<'static> {
    let (w, h) = (icon.width(), icon.height());
    let mut rgba = icon.rgba().to_vec();
    let r = f64::from(w.min(h)) * 0.22;
    let (cx, cy) = (f64::from(w) - r - 1.0, f64::from(h) - r - 1.0);
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (f64::from(x) + 0.5 - cx, f64::from(y) + 0.5 - cy);
            if dx * dx + dy * dy <= r * r {
                let i = ((y * w + x) * 4) as usize;
                if let Some(px) = rgba.get_mut(i..i + 4) {
                    px.copy_from_slice(&[0xd9, 0x3a, 0x2b, 0xff]);
                }
            }
        }
    }
    Image::new_owned(rgba, w, h)
}

fn menu<R: Runtime>(
    app: &AppHandle<R>,
    waiting: &[(String, String)],
    paused: bool,
) -> tauri::Result<Menu<R>> {
    let mut items: Vec<Box<dyn IsMenuItem<R>>> = Vec::new();
    items.push(Box::new(MenuItem::with_id(
        app,
        TrayAction::OpenInbox.id(),
        "Open inbox",
        true,
        None::<&str>,
    )?));
    items.push(Box::new(PredefinedMenuItem::separator(app)?));
    if waiting.is_empty() {
        items.push(Box::new(MenuItem::new(
            app,
            "Nothing waits for your signature",
            false,
            None::<&str>,
        )?));
    }
    for (request, title) in waiting {
        items.push(Box::new(MenuItem::with_id(
            app,
            TrayAction::Review(request.clone()).id(),
            format!("Review {title}"),
            true,
            None::<&str>,
        )?));
    }
    items.push(Box::new(PredefinedMenuItem::separator(app)?));
    items.push(Box::new(CheckMenuItem::with_id(
        app,
        TrayAction::PauseNotifications.id(),
        "Pause notifications",
        true,
        paused,
        None::<&str>,
    )?));
    items.push(Box::new(MenuItem::with_id(
        app,
        TrayAction::Quit.id(),
        "Quit ChainLock",
        true,
        None::<&str>,
    )?));
    let refs: Vec<&dyn IsMenuItem<R>> = items.iter().map(|i| i.as_ref()).collect();
    Menu::with_items(app, &refs)
}

/// Builds the tray icon with its (empty) menu for `app`.
pub fn install<R: Runtime>(app: &AppHandle<R>) -> Result<()> {
    let setup = |step| move |source| Error::Setup { step, source };
    let menu = menu(app, &[], false).map_err(setup("build the tray menu"))?;
    let mut tray = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip(tooltip(0))
        .menu(&menu)
        .on_menu_event(on_menu_event);
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app).map_err(setup("build the tray icon"))?;
    Ok(())
}

/// Shows `waiting` (request id, title) in the menu, the tooltip and the icon.
pub fn update<R: Runtime>(app: &AppHandle<R>, waiting: &[(String, String)], paused: bool) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    // Best effort: a tray that cannot be updated leaves the inbox, the source of truth.
    if let Ok(menu) = menu(app, waiting, paused) {
        let _ = tray.set_menu(Some(menu));
    }
    let _ = tray.set_tooltip(Some(tooltip(waiting.len())));
    if let Some(icon) = app.default_window_icon() {
        let icon = if waiting.is_empty() {
            icon.clone().to_owned()
        } else {
            badged(icon)
        };
        let _ = tray.set_icon(Some(icon));
    }
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match TrayAction::from_id(event.id().as_ref()) {
        Some(TrayAction::OpenInbox) => {
            desktop::show_window(app);
            desktop::emit(app, AppEvent::OpenInbox);
        }
        Some(TrayAction::Review(request)) => {
            desktop::show_window(app);
            desktop::emit(app, AppEvent::OpenReview { request });
        }
        Some(TrayAction::PauseNotifications) => {
            let on = !app
                .try_state::<std::sync::Arc<crate::state::Shared>>()
                .is_some_and(|s| s.notifying());
            desktop::set_notifications(app, on);
        }
        Some(TrayAction::Quit) => app.exit(0),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{tooltip, TrayAction};

    #[test]
    fn menu_ids_round_trip() {
        for action in [
            TrayAction::OpenInbox,
            TrayAction::Review("abcdef0123".into()),
            TrayAction::PauseNotifications,
            TrayAction::Quit,
        ] {
            assert_eq!(TrayAction::from_id(&action.id()), Some(action));
        }
    }

    #[test]
    fn unknown_or_malformed_menu_ids_do_nothing() {
        assert_eq!(TrayAction::from_id(""), None);
        assert_eq!(TrayAction::from_id("sign"), None);
        assert_eq!(TrayAction::from_id("review:"), None);
        assert_eq!(TrayAction::from_id("review:../x"), None);
    }

    #[test]
    fn the_tooltip_counts_waiting_requests() {
        assert_eq!(tooltip(0), "ChainLock: nothing waits for your signature");
        assert_eq!(tooltip(1), "ChainLock: 1 request waits for your signature");
        assert_eq!(tooltip(3), "ChainLock: 3 requests wait for your signature");
    }
}
