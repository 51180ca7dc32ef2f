//! `GroupStore` on SQLite: `iam_groups`, `group_members`
//! (`0013_roles_groups.sql`; the SQL is shared with PostgreSQL in
//! `iam_sql.rs`).

use super::sql::{count, named_exists, user_exists};
use super::SqliteMetadataStore;
use crate::iam_sql::*;
use crate::metadata::{
    CreateOutcome, DeleteHolderOutcome, GroupRecord, GroupStore, HolderKind, MembershipOutcome,
    UserRecord,
};
use crate::Result;
use async_trait::async_trait;

#[async_trait]
impl GroupStore for SqliteMetadataStore {
    async fn create_group(&self, group: &GroupRecord) -> Result<CreateOutcome> {
        let mut tx = self.writer.begin().await?;
        if !named_exists(
            &mut tx,
            ACCOUNT_EXISTS,
            &group.account_id,
            &group.account_id,
        )
        .await?
        {
            return Ok(CreateOutcome::NoSuchAccount);
        }
        if named_exists(&mut tx, GROUP_NAME_TAKEN, &group.account_id, &group.name).await? {
            return Ok(CreateOutcome::AlreadyExists);
        }
        sqlx::query(INSERT_GROUP)
            .bind(&group.account_id)
            .bind(&group.name)
            .bind(&group.path)
            .bind(&group.group_id)
            .bind(group.created_at)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(CreateOutcome::Created)
    }

    async fn get_group(&self, account_id: &str, name: &str) -> Result<Option<GroupRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM iam_groups WHERE account_id = $1 AND name = $2"
        ))
        .bind(account_id)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(group_from_row))
    }

    async fn list_groups(&self, account_id: &str) -> Result<Vec<GroupRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM iam_groups WHERE account_id = $1 ORDER BY name"
        ))
        .bind(account_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(group_from_row).collect())
    }

    async fn delete_group(&self, account_id: &str, name: &str) -> Result<DeleteHolderOutcome> {
        let sql = HolderSql::of(HolderKind::Group);
        let mut tx = self.writer.begin().await?;
        if !named_exists(&mut tx, &sql.exists, account_id, name).await? {
            return Ok(DeleteHolderOutcome::NotFound);
        }
        for (sql, refusal) in [
            (COUNT_MEMBERS, DeleteHolderOutcome::HasMembers),
            (&sql.count_inline, DeleteHolderOutcome::HasInlinePolicies),
            (
                &sql.count_attached,
                DeleteHolderOutcome::HasAttachedPolicies,
            ),
        ] {
            if count(&mut tx, sql, account_id, name).await? > 0 {
                return Ok(refusal);
            }
        }
        sqlx::query("DELETE FROM iam_groups WHERE account_id = $1 AND name = $2")
            .bind(account_id)
            .bind(name)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(DeleteHolderOutcome::Deleted)
    }

    async fn add_user_to_group(
        &self,
        account_id: &str,
        group: &str,
        user: &str,
        now: i64,
    ) -> Result<MembershipOutcome> {
        let mut tx = self.writer.begin().await?;
        if !named_exists(
            &mut tx,
            &HolderSql::of(HolderKind::Group).exists,
            account_id,
            group,
        )
        .await?
        {
            return Ok(MembershipOutcome::NoSuchGroup);
        }
        if !user_exists(&mut tx, account_id, user).await? {
            return Ok(MembershipOutcome::NoSuchUser);
        }
        sqlx::query(ADD_MEMBER)
            .bind(account_id)
            .bind(group)
            .bind(user)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(MembershipOutcome::Done)
    }

    async fn remove_user_from_group(
        &self,
        account_id: &str,
        group: &str,
        user: &str,
    ) -> Result<MembershipOutcome> {
        let mut tx = self.writer.begin().await?;
        if !named_exists(
            &mut tx,
            &HolderSql::of(HolderKind::Group).exists,
            account_id,
            group,
        )
        .await?
        {
            return Ok(MembershipOutcome::NoSuchGroup);
        }
        if !user_exists(&mut tx, account_id, user).await? {
            return Ok(MembershipOutcome::NoSuchUser);
        }
        let n = sqlx::query(REMOVE_MEMBER)
            .bind(account_id)
            .bind(group)
            .bind(user)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(if n == 1 {
            MembershipOutcome::Done
        } else {
            MembershipOutcome::NotMember
        })
    }

    async fn group_members(&self, account_id: &str, group: &str) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query(GROUP_MEMBERS)
            .bind(account_id)
            .bind(group)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(member_from_row).collect())
    }

    async fn groups_for_user(&self, account_id: &str, user: &str) -> Result<Vec<GroupRecord>> {
        let rows = sqlx::query(GROUPS_FOR_USER)
            .bind(account_id)
            .bind(user)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(group_from_row).collect())
    }
}
