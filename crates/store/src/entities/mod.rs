//! sea-orm entities, one module per table.

pub mod organization;
