//! The built stylesheet, script and wasm: their names, found once at start.
//!
//! A release build (`hash-files` in `Cargo.toml`) names each file after a
//! hash of its content and writes the hashes to `hash.txt` beside the server
//! binary. A changed file then has a new name, so the old one can be cached
//! for a year (`Cache-Control: immutable`) and a repeat visit downloads
//! nothing again.

use std::sync::OnceLock;

use leptos::config::LeptosOptions;

static STYLESHEET: OnceLock<String> = OnceLock::new();

/// The stylesheet's URL path: hashed once [`init`] found the hashes.
pub fn stylesheet() -> &'static str {
    STYLESHEET
        .get()
        .map_or(crate::paths::STYLESHEET, String::as_str)
}

/// Reads `hash.txt` beside the server binary, if there is one, and turns on
/// hashed names for the stylesheet and for Leptos' hydration scripts. True
/// if the files are hashed.
pub fn init(options: &mut LeptosOptions) -> bool {
    let hashes = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(options.hash_file.as_ref())))
        .and_then(|path| std::fs::read_to_string(path).ok());
    let Some(css) = hashes.as_deref().and_then(css_hash) else {
        options.hash_files = false;
        return false;
    };
    options.hash_files = true;
    let _ = STYLESHEET.set(format!(
        "/{}/{}.{css}.css",
        options.site_pkg_dir, options.output_name
    ));
    true
}

/// The stylesheet's hash in cargo-leptos' `hash.txt` (`css: <hash>` lines).
fn css_hash(hashes: &str) -> Option<&str> {
    hashes
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(file, _)| file.trim() == "css")
        .map(|(_, hash)| hash.trim())
        .filter(|hash| {
            // Base64url: a name, never a path.
            !hash.is_empty()
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stylesheet_hash_is_read_from_cargo_leptos_hash_file() {
        let file = "js: 2rYqM1X5sZ\nwasm: Xk3b9Q\ncss: 9fX0a-K2_m1\n";
        assert_eq!(css_hash(file), Some("9fX0a-K2_m1"));
        assert_eq!(css_hash("js: abc\n"), None);
        assert_eq!(css_hash("css: ../../etc\n"), None, "a name, not a path");
        assert_eq!(css_hash("css:\n"), None);
    }
}
