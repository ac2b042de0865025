//! Pieces the pages are made of.

mod banner;
mod logout_form;
mod session_view;

pub use banner::LocalProviderBanner;
pub use logout_form::LogoutForm;
pub use session_view::SessionView;
