//! Guardrails a prompt version applies: a nullable JSON array of guardrail ids on each version
//! (NULL is none, as on virtual keys).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PromptVersions::Table)
                    .add_column(json_binary_null(PromptVersions::Guardrails))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PromptVersions::Table)
                    .drop_column(PromptVersions::Guardrails)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum PromptVersions {
    Table,
    Guardrails,
}
