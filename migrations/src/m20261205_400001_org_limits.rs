//! Organization-wide rate limits and budget, and the limits and budget every end user
//! (`x-keyway-user`) of the organization gets: one row per organization that set any.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrgLimits::Table)
                    .if_not_exists()
                    .col(pk_uuid(OrgLimits::OrgId))
                    .col(json_binary(OrgLimits::Limits))
                    .col(json_binary_null(OrgLimits::Budget))
                    .col(json_binary(OrgLimits::EndUserLimits))
                    .col(json_binary_null(OrgLimits::EndUserBudget))
                    .col(timestamp_with_time_zone(OrgLimits::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrgLimits::Table, OrgLimits::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrgLimits::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OrgLimits {
    Table,
    OrgId,
    Limits,
    Budget,
    EndUserLimits,
    EndUserBudget,
    UpdatedAt,
}
