//! Reusable dashboard pieces: the page layout, cards and widgets shared by pages.

pub mod icon;
pub mod layout;
pub mod quick_start;
pub mod status_card;
