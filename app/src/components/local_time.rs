use leptos::prelude::*;

/// A time for people to read. The server writes it in UTC, which is also
/// what a browser without JavaScript shows; once the app runs in the
/// browser, it is written again in the browser's own time zone and
/// language, with how far away it is ("in 7 days"). `at` is RFC 3339.
#[component]
pub fn LocalTime(at: String) -> impl IntoView {
    let shown = RwSignal::new(in_utc(&at));
    // Effects run only in the browser, after hydration: the first render
    // matches the server's HTML.
    #[cfg(feature = "hydrate")]
    {
        let at = at.clone();
        Effect::new(move |_| {
            if let Some(local) = browser::local(&at) {
                shown.set(local);
            }
        });
    }
    view! { <time datetime=at>{shown}</time> }
}

/// `2026-12-12T22:37:50Z` → `2026-12-12 22:37 UTC`: the same everywhere,
/// without a calendar library.
fn in_utc(at: &str) -> String {
    match (at.get(..10), at.get(11..16), at.ends_with('Z')) {
        (Some(day), Some(minute), true) if at.as_bytes().get(10) == Some(&b'T') => {
            format!("{day} {minute} UTC")
        }
        _ => at.to_owned(),
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use js_sys::{Array, Date, Intl, Object, Reflect};
    use leptos::wasm_bindgen::JsValue;

    /// The time in the browser's zone and language, and how far away it is.
    pub fn local(at: &str) -> Option<String> {
        let date = Date::new(&JsValue::from_str(at));
        let time = date.get_time();
        if time.is_nan() {
            return None;
        }
        let options = Object::new();
        set(&options, "dateStyle", "medium");
        set(&options, "timeStyle", "short");
        let absolute = Intl::DateTimeFormat::new(&Array::new(), &options)
            .format()
            .call1(&JsValue::UNDEFINED, &date)
            .ok()?
            .as_string()?;
        let relative = relative(time - Date::now())?;
        Some(format!("{absolute} ({relative})"))
    }

    /// "in 7 days", "3 minutes ago", in the largest unit that fits.
    fn relative(milliseconds: f64) -> Option<String> {
        const UNITS: [(&str, f64); 5] = [
            ("day", 86_400_000.0),
            ("hour", 3_600_000.0),
            ("minute", 60_000.0),
            ("second", 1_000.0),
            ("second", 0.0),
        ];
        let (unit, size) = UNITS
            .into_iter()
            .find(|(_, size)| milliseconds.abs() >= *size)?;
        let count = if size == 0.0 {
            0.0
        } else {
            (milliseconds / size).round()
        };
        let options = Object::new();
        set(&options, "numeric", "auto");
        Some(
            Intl::RelativeTimeFormat::new(&Array::new(), &options)
                .format(count, unit)
                .into(),
        )
    }

    fn set(object: &Object, key: &str, value: &str) {
        let _ = Reflect::set(object, &JsValue::from_str(key), &JsValue::from_str(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_writes_utc_to_the_minute() {
        assert_eq!(in_utc("2026-12-12T22:37:50Z"), "2026-12-12 22:37 UTC");
        // Anything else is shown as it came.
        assert_eq!(
            in_utc("2026-12-12T22:37:50+01:00"),
            "2026-12-12T22:37:50+01:00"
        );
        assert_eq!(in_utc("soon"), "soon");
        assert_eq!(in_utc(""), "");
    }
}
