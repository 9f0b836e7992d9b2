//! Prompt templates, versioned: one row per prompt (slug, name, description, latest version),
//! one immutable row per version (messages, model, parameters, variable schema, commit
//! message, author), one row per label pointing at a version; and the organization's partials,
//! versioned the same way.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Prompts::Table)
                    .if_not_exists()
                    .col(pk_uuid(Prompts::Id))
                    .col(uuid(Prompts::OrgId))
                    .col(string_len(Prompts::Slug, 100))
                    .col(string_len(Prompts::Name, 200))
                    .col(text(Prompts::Description))
                    .col(integer(Prompts::LatestVersion))
                    .col(uuid_null(Prompts::CreatedBy))
                    .col(timestamp_with_time_zone(Prompts::CreatedAt))
                    .col(timestamp_with_time_zone(Prompts::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Prompts::Table, Prompts::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_prompts_org_slug")
                    .table(Prompts::Table)
                    .col(Prompts::OrgId)
                    .col(Prompts::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PromptVersions::Table)
                    .if_not_exists()
                    .col(uuid(PromptVersions::PromptId))
                    .col(integer(PromptVersions::Version))
                    .col(json_binary(PromptVersions::Messages))
                    .col(string_len(PromptVersions::Model, 200))
                    .col(json_binary(PromptVersions::Parameters))
                    .col(json_binary(PromptVersions::Variables))
                    .col(text(PromptVersions::CommitMessage))
                    .col(uuid_null(PromptVersions::CreatedBy))
                    .col(timestamp_with_time_zone(PromptVersions::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(PromptVersions::PromptId)
                            .col(PromptVersions::Version),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PromptVersions::Table, PromptVersions::PromptId)
                            .to(Prompts::Table, Prompts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PromptLabels::Table)
                    .if_not_exists()
                    .col(uuid(PromptLabels::PromptId))
                    .col(string_len(PromptLabels::Name, 64))
                    .col(integer(PromptLabels::Version))
                    .col(uuid_null(PromptLabels::UpdatedBy))
                    .col(timestamp_with_time_zone(PromptLabels::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(PromptLabels::PromptId)
                            .col(PromptLabels::Name),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PromptLabels::Table, PromptLabels::PromptId)
                            .to(Prompts::Table, Prompts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PromptPartials::Table)
                    .if_not_exists()
                    .col(pk_uuid(PromptPartials::Id))
                    .col(uuid(PromptPartials::OrgId))
                    .col(string_len(PromptPartials::Slug, 100))
                    .col(integer(PromptPartials::LatestVersion))
                    .col(uuid_null(PromptPartials::CreatedBy))
                    .col(timestamp_with_time_zone(PromptPartials::CreatedAt))
                    .col(timestamp_with_time_zone(PromptPartials::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PromptPartials::Table, PromptPartials::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_prompt_partials_org_slug")
                    .table(PromptPartials::Table)
                    .col(PromptPartials::OrgId)
                    .col(PromptPartials::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PromptPartialVersions::Table)
                    .if_not_exists()
                    .col(uuid(PromptPartialVersions::PartialId))
                    .col(integer(PromptPartialVersions::Version))
                    .col(text(PromptPartialVersions::Content))
                    .col(text(PromptPartialVersions::CommitMessage))
                    .col(uuid_null(PromptPartialVersions::CreatedBy))
                    .col(timestamp_with_time_zone(PromptPartialVersions::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(PromptPartialVersions::PartialId)
                            .col(PromptPartialVersions::Version),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                PromptPartialVersions::Table,
                                PromptPartialVersions::PartialId,
                            )
                            .to(PromptPartials::Table, PromptPartials::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PromptPartialVersions::Table.into_iden(),
            PromptPartials::Table.into_iden(),
            PromptLabels::Table.into_iden(),
            PromptVersions::Table.into_iden(),
            Prompts::Table.into_iden(),
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
enum Prompts {
    Table,
    Id,
    OrgId,
    Slug,
    Name,
    Description,
    LatestVersion,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PromptVersions {
    Table,
    PromptId,
    Version,
    Messages,
    Model,
    Parameters,
    Variables,
    CommitMessage,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PromptLabels {
    Table,
    PromptId,
    Name,
    Version,
    UpdatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PromptPartials {
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
enum PromptPartialVersions {
    Table,
    PartialId,
    Version,
    Content,
    CommitMessage,
    CreatedBy,
    CreatedAt,
}
