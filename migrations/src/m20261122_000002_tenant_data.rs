//! Tenant data the gateway reads on every request: provider credentials (sealed secrets),
//! virtual keys (hashed secrets), model aliases, and an organization's disabled flag.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite can add one nullable column per ALTER TABLE, which is all this needs.
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(timestamp_with_time_zone_null(Organizations::DisabledAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProviderCredentials::Table)
                    .if_not_exists()
                    .col(pk_uuid(ProviderCredentials::Id))
                    .col(uuid(ProviderCredentials::OrgId))
                    .col(string_len(ProviderCredentials::Name, 200))
                    .col(string_len(ProviderCredentials::Slug, 64))
                    .col(string_len(ProviderCredentials::Provider, 32))
                    .col(text_null(ProviderCredentials::BaseUrl))
                    .col(json_binary(ProviderCredentials::Config))
                    .col(blob(ProviderCredentials::SecretCiphertext))
                    .col(blob(ProviderCredentials::SecretNonce))
                    .col(blob(ProviderCredentials::WrappedKey))
                    .col(blob(ProviderCredentials::KeyNonce))
                    .col(string_len(ProviderCredentials::MasterKeyId, 32))
                    .col(string_len(ProviderCredentials::KeyLast4, 8))
                    .col(timestamp_with_time_zone(ProviderCredentials::CreatedAt))
                    .col(timestamp_with_time_zone(ProviderCredentials::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProviderCredentials::Table, ProviderCredentials::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_provider_credentials_org_slug")
                    .table(ProviderCredentials::Table)
                    .col(ProviderCredentials::OrgId)
                    .col(ProviderCredentials::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VirtualKeys::Table)
                    .if_not_exists()
                    .col(pk_uuid(VirtualKeys::Id))
                    .col(uuid(VirtualKeys::OrgId))
                    .col(string_len(VirtualKeys::Name, 200))
                    .col(string_len(VirtualKeys::Prefix, 16))
                    .col(string_len(VirtualKeys::Hash, 64))
                    .col(string_len_null(VirtualKeys::PreviousHash, 64))
                    .col(timestamp_with_time_zone_null(
                        VirtualKeys::PreviousHashExpiresAt,
                    ))
                    .col(uuid_null(VirtualKeys::TeamId))
                    .col(json_binary(VirtualKeys::AllowedModels))
                    .col(json_binary(VirtualKeys::AllowedProviders))
                    .col(json_binary(VirtualKeys::Limits))
                    .col(json_binary_null(VirtualKeys::Budget))
                    .col(json_binary(VirtualKeys::Metadata))
                    .col(uuid_null(VirtualKeys::DefaultConfigId))
                    .col(timestamp_with_time_zone_null(VirtualKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(VirtualKeys::RevokedAt))
                    .col(timestamp_with_time_zone(VirtualKeys::CreatedAt))
                    .col(timestamp_with_time_zone(VirtualKeys::UpdatedAt))
                    .col(timestamp_with_time_zone_null(VirtualKeys::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(VirtualKeys::Table, VirtualKeys::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The gateway's lookup matches `hash` or, during a rotation's grace, `previous_hash`;
        // both are indexed so it stays one index probe each.
        manager
            .create_index(
                Index::create()
                    .name("ux_virtual_keys_hash")
                    .table(VirtualKeys::Table)
                    .col(VirtualKeys::Hash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_virtual_keys_previous_hash")
                    .table(VirtualKeys::Table)
                    .col(VirtualKeys::PreviousHash)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_virtual_keys_org")
                    .table(VirtualKeys::Table)
                    .col(VirtualKeys::OrgId)
                    .col(VirtualKeys::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ModelAliases::Table)
                    .if_not_exists()
                    .col(pk_uuid(ModelAliases::Id))
                    .col(uuid(ModelAliases::OrgId))
                    .col(string_len(ModelAliases::Alias, 128))
                    .col(string_len(ModelAliases::Target, 300))
                    .col(timestamp_with_time_zone(ModelAliases::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ModelAliases::Table, ModelAliases::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_model_aliases_org_alias")
                    .table(ModelAliases::Table)
                    .col(ModelAliases::OrgId)
                    .col(ModelAliases::Alias)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ModelAliases::Table.into_iden(),
            VirtualKeys::Table.into_iden(),
            ProviderCredentials::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::DisabledAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    DisabledAt,
}

#[derive(DeriveIden)]
enum ProviderCredentials {
    Table,
    Id,
    OrgId,
    Name,
    Slug,
    Provider,
    BaseUrl,
    Config,
    SecretCiphertext,
    SecretNonce,
    WrappedKey,
    KeyNonce,
    MasterKeyId,
    KeyLast4,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum VirtualKeys {
    Table,
    Id,
    OrgId,
    Name,
    Prefix,
    Hash,
    PreviousHash,
    PreviousHashExpiresAt,
    TeamId,
    AllowedModels,
    AllowedProviders,
    Limits,
    Budget,
    Metadata,
    DefaultConfigId,
    ExpiresAt,
    RevokedAt,
    CreatedAt,
    UpdatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum ModelAliases {
    Table,
    Id,
    OrgId,
    Alias,
    Target,
    CreatedAt,
}
