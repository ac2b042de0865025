//! Pieces the pages are made of.

mod api_panel;
mod banner;
mod brand;
mod heading;
mod local_time;
mod logout_form;
mod once_per_read;
mod page_data;
mod page_failure;
mod profile_card;
mod profile_reload;
mod session_view;
mod sign_in_prompt;
mod site_header;
mod viewer;

pub use api_panel::ApiPanel;
pub use banner::LocalProviderBanner;
pub use brand::{Brand, BrandMark};
pub use heading::{FocusedPath, PageHeading};
pub use local_time::LocalTime;
pub use logout_form::LogoutForm;
pub use once_per_read::{ProfilePart, ViewerPart};
pub use page_data::{page_data, Loading, PageReloads};
pub use page_failure::PageFailure;
pub use profile_card::ProfileCard;
pub use profile_reload::{AccountSettingsLink, ProfileActions};
pub use session_view::SessionView;
pub use sign_in_prompt::SignInPrompt;
pub use site_header::SiteHeader;
pub use viewer::{SharedViewer, Viewed};
