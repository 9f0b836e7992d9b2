//! One module per routed page.

pub mod not_found;
pub mod overview;
