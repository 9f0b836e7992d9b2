//! Accounts and the organization around them: users, login sessions and their rotating refresh
//! tokens, one-time e-mail tokens (verification, password reset), memberships with roles,
//! invites, teams and their members, the audit log, and per-organization settings.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn org_fk<T: IntoIden + Copy>(table: T, col: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn user_fk<T: IntoIden + Copy>(table: T, col: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(col);
    }
    if unique {
        stmt.unique();
    }
    manager.create_index(stmt.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(integer_null(Organizations::RetentionDays))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(boolean(Organizations::LogBodies).default(false))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(pk_uuid(Users::Id))
                    .col(string_len(Users::Email, 254))
                    .col(string_len(Users::Name, 200))
                    .col(string_len(Users::PasswordHash, 200))
                    .col(timestamp_with_time_zone_null(Users::EmailVerifiedAt))
                    .col(timestamp_with_time_zone(Users::PasswordChangedAt))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_users_email",
            Users::Table,
            vec![Users::Email.into_iden()],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    .col(pk_uuid(Sessions::Id))
                    .col(uuid(Sessions::UserId))
                    .col(string_len_null(Sessions::Ip, 64))
                    .col(string_len_null(Sessions::UserAgent, 300))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .col(string_len_null(Sessions::RevokedReason, 32))
                    .foreign_key(&mut user_fk(Sessions::Table, Sessions::UserId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_sessions_user",
            Sessions::Table,
            vec![Sessions::UserId.into_iden()],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    .col(pk_uuid(RefreshTokens::Id))
                    .col(uuid(RefreshTokens::SessionId))
                    .col(string_len(RefreshTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RefreshTokens::Table, RefreshTokens::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_refresh_tokens_hash",
            RefreshTokens::Table,
            vec![RefreshTokens::TokenHash.into_iden()],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(EmailTokens::Table)
                    .if_not_exists()
                    .col(pk_uuid(EmailTokens::Id))
                    .col(uuid(EmailTokens::UserId))
                    .col(string_len(EmailTokens::Purpose, 32))
                    .col(string_len(EmailTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(EmailTokens::CreatedAt))
                    .col(timestamp_with_time_zone(EmailTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(EmailTokens::UsedAt))
                    .foreign_key(&mut user_fk(EmailTokens::Table, EmailTokens::UserId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_email_tokens_hash",
            EmailTokens::Table,
            vec![EmailTokens::TokenHash.into_iden()],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .if_not_exists()
                    .col(uuid(Memberships::OrgId))
                    .col(uuid(Memberships::UserId))
                    .col(string_len(Memberships::Role, 16))
                    .col(timestamp_with_time_zone(Memberships::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(Memberships::OrgId)
                            .col(Memberships::UserId),
                    )
                    .foreign_key(&mut org_fk(Memberships::Table, Memberships::OrgId))
                    .foreign_key(&mut user_fk(Memberships::Table, Memberships::UserId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_memberships_user",
            Memberships::Table,
            vec![Memberships::UserId.into_iden()],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Invites::Table)
                    .if_not_exists()
                    .col(pk_uuid(Invites::Id))
                    .col(uuid(Invites::OrgId))
                    .col(string_len(Invites::Email, 254))
                    .col(string_len(Invites::Role, 16))
                    .col(string_len(Invites::TokenHash, 64))
                    .col(uuid_null(Invites::InvitedBy))
                    .col(timestamp_with_time_zone(Invites::CreatedAt))
                    .col(timestamp_with_time_zone(Invites::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Invites::AcceptedAt))
                    .col(timestamp_with_time_zone_null(Invites::RevokedAt))
                    .foreign_key(&mut org_fk(Invites::Table, Invites::OrgId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_invites_hash",
            Invites::Table,
            vec![Invites::TokenHash.into_iden()],
            true,
        )
        .await?;
        index(
            manager,
            "ix_invites_org",
            Invites::Table,
            vec![Invites::OrgId.into_iden()],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Teams::Table)
                    .if_not_exists()
                    .col(pk_uuid(Teams::Id))
                    .col(uuid(Teams::OrgId))
                    .col(string_len(Teams::Name, 200))
                    .col(json_binary(Teams::Limits))
                    .col(json_binary_null(Teams::Budget))
                    .col(timestamp_with_time_zone(Teams::CreatedAt))
                    .col(timestamp_with_time_zone(Teams::UpdatedAt))
                    .foreign_key(&mut org_fk(Teams::Table, Teams::OrgId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_teams_org_name",
            Teams::Table,
            vec![Teams::OrgId.into_iden(), Teams::Name.into_iden()],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(TeamMembers::Table)
                    .if_not_exists()
                    .col(uuid(TeamMembers::TeamId))
                    .col(uuid(TeamMembers::UserId))
                    .col(timestamp_with_time_zone(TeamMembers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(TeamMembers::TeamId)
                            .col(TeamMembers::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TeamMembers::Table, TeamMembers::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut user_fk(TeamMembers::Table, TeamMembers::UserId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(pk_uuid(AuditLog::Id))
                    .col(uuid(AuditLog::OrgId))
                    .col(uuid_null(AuditLog::ActorId))
                    .col(string_len(AuditLog::ActorEmail, 254))
                    .col(string_len(AuditLog::Action, 64))
                    .col(string_len(AuditLog::TargetType, 32))
                    .col(string_len(AuditLog::TargetId, 64))
                    .col(json_binary(AuditLog::Summary))
                    .col(string_len_null(AuditLog::Ip, 64))
                    .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                    .foreign_key(&mut org_fk(AuditLog::Table, AuditLog::OrgId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_audit_org_time",
            AuditLog::Table,
            vec![
                AuditLog::OrgId.into_iden(),
                AuditLog::CreatedAt.into_iden(),
                AuditLog::Id.into_iden(),
            ],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            TeamMembers::Table.into_iden(),
            Teams::Table.into_iden(),
            Invites::Table.into_iden(),
            Memberships::Table.into_iden(),
            EmailTokens::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for col in [Organizations::RetentionDays, Organizations::LogBodies] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Organizations::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
    RetentionDays,
    LogBodies,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    Email,
    Name,
    PasswordHash,
    EmailVerifiedAt,
    PasswordChangedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    UserId,
    Ip,
    UserAgent,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    RevokedReason,
}

#[derive(DeriveIden, Clone, Copy)]
enum RefreshTokens {
    Table,
    Id,
    SessionId,
    TokenHash,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EmailTokens {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Memberships {
    Table,
    OrgId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Invites {
    Table,
    Id,
    OrgId,
    Email,
    Role,
    TokenHash,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
    AcceptedAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Teams {
    Table,
    Id,
    OrgId,
    Name,
    Limits,
    Budget,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TeamMembers {
    Table,
    TeamId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditLog {
    Table,
    Id,
    OrgId,
    ActorId,
    ActorEmail,
    Action,
    TargetType,
    TargetId,
    Summary,
    Ip,
    CreatedAt,
}
