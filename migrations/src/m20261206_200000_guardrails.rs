//! Guardrails, stored and versioned through the control plane: one row per guardrail (its slug
//! and latest version number) and one immutable row per version (the definition JSON); and a
//! virtual key's attached guardrails (a nullable JSON array of guardrail ids; NULL is none).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Guardrails::Table)
                    .if_not_exists()
                    .col(pk_uuid(Guardrails::Id))
                    .col(uuid(Guardrails::OrgId))
                    .col(string_len(Guardrails::Slug, 100))
                    .col(integer(Guardrails::LatestVersion))
                    .col(uuid_null(Guardrails::CreatedBy))
                    .col(timestamp_with_time_zone(Guardrails::CreatedAt))
                    .col(timestamp_with_time_zone(Guardrails::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Guardrails::Table, Guardrails::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_guardrails_org_slug")
                    .table(Guardrails::Table)
                    .col(Guardrails::OrgId)
                    .col(Guardrails::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(GuardrailVersions::Table)
                    .if_not_exists()
                    .col(uuid(GuardrailVersions::GuardrailId))
                    .col(integer(GuardrailVersions::Version))
                    .col(json_binary(GuardrailVersions::Definition))
                    .col(uuid_null(GuardrailVersions::CreatedBy))
                    .col(timestamp_with_time_zone(GuardrailVersions::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(GuardrailVersions::GuardrailId)
                            .col(GuardrailVersions::Version),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(GuardrailVersions::Table, GuardrailVersions::GuardrailId)
                            .to(Guardrails::Table, Guardrails::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(VirtualKeys::Table)
                    .add_column(json_binary_null(VirtualKeys::Guardrails))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(VirtualKeys::Table)
                    .drop_column(VirtualKeys::Guardrails)
                    .to_owned(),
            )
            .await?;
        for table in [
            GuardrailVersions::Table.into_iden(),
            Guardrails::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Guardrails {
    Table,
    Id,
    OrgId,
    Slug,
    LatestVersion,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GuardrailVersions {
    Table,
    GuardrailId,
    Version,
    Definition,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum VirtualKeys {
    Table,
    Guardrails,
}
