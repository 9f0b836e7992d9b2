//! Routing configs, stored and versioned through the control plane: one row per config (its
//! name and latest version number) and one immutable row per version (the config JSON).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RoutingConfigs::Table)
                    .if_not_exists()
                    .col(pk_uuid(RoutingConfigs::Id))
                    .col(uuid(RoutingConfigs::OrgId))
                    .col(string_len(RoutingConfigs::Name, 200))
                    .col(integer(RoutingConfigs::LatestVersion))
                    .col(uuid_null(RoutingConfigs::CreatedBy))
                    .col(timestamp_with_time_zone(RoutingConfigs::CreatedAt))
                    .col(timestamp_with_time_zone(RoutingConfigs::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RoutingConfigs::Table, RoutingConfigs::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_routing_configs_org_name")
                    .table(RoutingConfigs::Table)
                    .col(RoutingConfigs::OrgId)
                    .col(RoutingConfigs::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RoutingConfigVersions::Table)
                    .if_not_exists()
                    .col(uuid(RoutingConfigVersions::ConfigId))
                    .col(integer(RoutingConfigVersions::Version))
                    .col(json_binary(RoutingConfigVersions::Config))
                    .col(uuid_null(RoutingConfigVersions::CreatedBy))
                    .col(timestamp_with_time_zone(RoutingConfigVersions::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(RoutingConfigVersions::ConfigId)
                            .col(RoutingConfigVersions::Version),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                RoutingConfigVersions::Table,
                                RoutingConfigVersions::ConfigId,
                            )
                            .to(RoutingConfigs::Table, RoutingConfigs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RoutingConfigVersions::Table.into_iden(),
            RoutingConfigs::Table.into_iden(),
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
enum RoutingConfigs {
    Table,
    Id,
    OrgId,
    Name,
    LatestVersion,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RoutingConfigVersions {
    Table,
    ConfigId,
    Version,
    Config,
    CreatedBy,
    CreatedAt,
}
