//! The `prompt_versions` table: immutable versions of a prompt.

use sea_orm::entity::prelude::*;

/// One version of a prompt.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prompt_versions")]
pub struct Model {
    /// The prompt.
    #[sea_orm(primary_key, auto_increment = false)]
    pub prompt_id: Uuid,
    /// Version number, from 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// Messages (`[{role, content}]`, contents are templates).
    #[sea_orm(column_type = "JsonBinary")]
    pub messages: Json,
    /// Model as the gateway addresses it.
    pub model: String,
    /// Request parameters (object).
    #[sea_orm(column_type = "JsonBinary")]
    pub parameters: Json,
    /// Variable schema (object by name).
    #[sea_orm(column_type = "JsonBinary")]
    pub variables: Json,
    /// Ids of the guardrails this version applies (array; NULL is none).
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub guardrails: Option<Json>,
    /// What changed in this version.
    pub commit_message: String,
    /// User who wrote this version.
    pub created_by: Option<Uuid>,
    /// When it was written.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
