//! Screenshots of the window for the window tests, from the X server's framebuffer.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use super::Image;

/// Screenshots of the window, checked not to be blank.
pub struct Shots {
    import: PathBuf,
    dir: PathBuf,
    docs: Option<PathBuf>,
}

impl Shots {
    pub fn new(import: PathBuf) -> Shots {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("window");
        fs::create_dir_all(&dir).expect("create the screenshot directory");
        let docs = std::env::var_os("UPDATE_SCREENSHOTS")
            .map(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots"));
        if let Some(docs) = &docs {
            fs::create_dir_all(docs).expect("create docs/screenshots");
        }
        Shots { import, dir, docs }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.png"))
    }

    /// Takes an X screenshot of the window (the 1120x760 window sits at the screen's top left
    /// corner), saves it as `<name>.png` and checks it is not blank.
    ///
    /// Not WebDriver's screenshot: under Xvfb without compositing, WebKitWebDriver's
    /// screenshot waits for a presentation update that stops coming a few seconds after the
    /// page is idle, and hangs; the X server's framebuffer always has the painted window.
    pub fn take(&self, display: &str, name: &str) -> Image {
        // Let the page paint what the last command changed.
        thread::sleep(Duration::from_millis(600));
        let path = self.path(name);
        let status = Command::new(&self.import)
            .args([
                "-display",
                display,
                "-window",
                "root",
                "-crop",
                "1120x760+0+0",
                "+repage",
            ])
            .arg(&path)
            .status()
            .expect("run ImageMagick's import");
        assert!(status.success(), "import -window root failed: {status}");
        let png = fs::read(&path).expect("read the screenshot");
        if let Some(docs) = &self.docs {
            fs::write(docs.join(format!("{name}.png")), &png).expect("save the screenshot");
        }
        let image = Image::decode(&png, &path);
        image.assert_not_blank(&path);
        eprintln!("screenshot: {}", path.display());
        image
    }
}
