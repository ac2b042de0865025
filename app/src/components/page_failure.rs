use leptos::prelude::*;

use super::PageHeading;
use crate::model::ApiError;

/// A page whose data could not be had: its heading, and why, in words a
/// person can act on.
#[component]
pub fn PageFailure(heading: &'static str, error: ApiError) -> impl IntoView {
    view! {
        <PageHeading>{heading}</PageHeading>
        <p class="notice error" role="alert">{error.to_string()}</p>
    }
}
