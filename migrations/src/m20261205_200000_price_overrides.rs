//! Per-organization price overrides: an org's own price (nano-USD per million tokens) for a
//! provider kind and model pattern, replacing the shipped catalog's in cost computation.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PriceOverrides::Table)
                    .if_not_exists()
                    .col(pk_uuid(PriceOverrides::Id))
                    .col(uuid(PriceOverrides::OrgId))
                    .col(string_len(PriceOverrides::Provider, 64))
                    .col(string_len(PriceOverrides::ModelPattern, 200))
                    .col(big_integer(PriceOverrides::InputNanosPerMtok))
                    .col(big_integer(PriceOverrides::OutputNanosPerMtok))
                    .col(big_integer(PriceOverrides::CachedReadNanosPerMtok))
                    .col(big_integer(PriceOverrides::CacheWriteNanosPerMtok))
                    .col(big_integer(PriceOverrides::ReasoningNanosPerMtok))
                    .col(timestamp_with_time_zone(PriceOverrides::CreatedAt))
                    .col(timestamp_with_time_zone(PriceOverrides::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PriceOverrides::Table, PriceOverrides::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_price_overrides_org_provider_model")
                    .table(PriceOverrides::Table)
                    .col(PriceOverrides::OrgId)
                    .col(PriceOverrides::Provider)
                    .col(PriceOverrides::ModelPattern)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PriceOverrides::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PriceOverrides {
    Table,
    Id,
    OrgId,
    Provider,
    ModelPattern,
    InputNanosPerMtok,
    OutputNanosPerMtok,
    CachedReadNanosPerMtok,
    CacheWriteNanosPerMtok,
    ReasoningNanosPerMtok,
    CreatedAt,
    UpdatedAt,
}
