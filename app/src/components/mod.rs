//! Pieces the pages are made of.

mod api_panel;
mod banner;
mod brand;
mod logout_form;
mod profile_card;
mod profile_reload;
mod render_once;
mod session_view;
mod site_header;
mod viewer_state;

pub use api_panel::ApiPanel;
pub use banner::LocalProviderBanner;
pub use brand::Brand;
pub use logout_form::LogoutForm;
pub use profile_card::ProfileCard;
pub use profile_reload::{AccountSettingsLink, ProfileActions};
pub use render_once::{RenderOnce, Rendered};
pub use session_view::SessionView;
pub use site_header::SiteHeader;
pub use viewer_state::ViewerState;
