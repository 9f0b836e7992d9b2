//! Reusable dashboard pieces shared by pages.

pub mod icon;
pub mod quick_start;
pub mod status_card;
