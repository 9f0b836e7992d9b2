//! sea-orm entities, one module per table.

pub mod model_alias;
pub mod organization;
pub mod price_override;
pub mod provider_credential;
pub mod virtual_key;
