//! The policies of users, roles and groups (each a `Holder`) as the IAM
//! API manages them: inline policies (Put/Get/List/Delete{User,Role,Group}Policy)
//! and attachments (Attach/Detach/ListAttached{User,Role,Group}Policies).
//! One implementation for the three; the action (`iam:PutRolePolicy`) and
//! the resource (the holder's ARN with its real path) follow the kind.

use super::authz::Caller;
use super::iam_policies::{aws_managed, no_such_policy};
use super::rules::{
    check_policy_name, kind_word, no_such_entity, validate_policy_document, PolicyKind,
};
use super::Identity;
use crate::{Error, Result};
use berth_store::{AttachOutcome, Holder, HolderKind};

/// `User`, `Role` or `Group`, as IAM's action names spell it.
pub(crate) fn kind_title(kind: HolderKind) -> &'static str {
    match kind {
        HolderKind::User => "User",
        HolderKind::Role => "Role",
        HolderKind::Group => "Group",
    }
}

/// `arn:aws:iam::<account>:<kind><path><name>`.
pub fn holder_arn(account: &str, kind: HolderKind, path: &str, name: &str) -> String {
    berth_iam::policy::iam_arn(account, kind_word(kind), path, name)
}

impl Identity {
    /// The holder's path, if it exists.
    async fn holder_path(&self, account: &str, holder: Holder<'_>) -> Result<Option<String>> {
        Ok(match holder.kind {
            HolderKind::User => self
                .meta
                .get_user(account, holder.name)
                .await?
                .map(|u| u.path),
            HolderKind::Role => self
                .meta
                .get_role(account, holder.name)
                .await?
                .map(|r| r.path),
            HolderKind::Group => self
                .meta
                .get_group(account, holder.name)
                .await?
                .map(|g| g.path),
        })
    }

    /// The resource ARN of a holder a request names, with its real path (a
    /// holder that does not exist is named at `/`).
    pub(crate) async fn holder_resource(
        &self,
        account: &str,
        holder: Holder<'_>,
    ) -> Result<String> {
        let path = self.holder_path(account, holder).await?;
        Ok(holder_arn(
            account,
            holder.kind,
            path.as_deref().unwrap_or("/"),
            holder.name,
        ))
    }

    /// `iam:<verb><Kind><noun>` on the holder, as `authorize_iam` decides.
    async fn authorize_holder(
        &self,
        caller: &Caller,
        verb: &str,
        noun: &str,
        holder: Holder<'_>,
    ) -> Result<()> {
        let action = format!("iam:{verb}{}{noun}", kind_title(holder.kind));
        let target = (holder.kind == HolderKind::User).then_some(holder.name);
        let resource = self.holder_resource(&caller.account_id, holder).await?;
        self.authorize_iam(caller, &action, target, &resource).await
    }

    async fn require_holder(&self, account: &str, holder: Holder<'_>) -> Result<()> {
        match self.holder_path(account, holder).await? {
            Some(_) => Ok(()),
            None => Err(no_such_entity(holder.kind, holder.name)),
        }
    }

    /// Put{User,Role,Group}Policy.
    pub async fn put_holder_policy(
        &self,
        caller: &Caller,
        holder: Holder<'_>,
        name: &str,
        document: &str,
    ) -> Result<()> {
        self.authorize_holder(caller, "Put", "Policy", holder)
            .await?;
        check_policy_name(name)?;
        validate_policy_document(document, PolicyKind::Inline)?;
        let stored = self
            .meta
            .put_inline_policy(&caller.account_id, holder, name, document)
            .await?;
        self.authz.changed();
        if stored {
            Ok(())
        } else {
            Err(no_such_entity(holder.kind, holder.name))
        }
    }

    /// Get{User,Role,Group}Policy: the document as it was put.
    pub async fn get_holder_policy(
        &self,
        caller: &Caller,
        holder: Holder<'_>,
        name: &str,
    ) -> Result<String> {
        self.authorize_holder(caller, "Get", "Policy", holder)
            .await?;
        self.require_holder(&caller.account_id, holder).await?;
        self.meta
            .get_inline_policy(&caller.account_id, holder, name)
            .await?
            .ok_or_else(|| no_such_inline_policy(holder, name))
    }

    /// List{User,Role,Group}Policies: names, in byte order.
    pub async fn list_holder_policies(
        &self,
        caller: &Caller,
        holder: Holder<'_>,
    ) -> Result<Vec<String>> {
        self.authorize_holder(caller, "List", "Policies", holder)
            .await?;
        self.require_holder(&caller.account_id, holder).await?;
        Ok(self
            .meta
            .list_inline_policies(&caller.account_id, holder)
            .await?)
    }

    pub async fn delete_holder_policy(
        &self,
        caller: &Caller,
        holder: Holder<'_>,
        name: &str,
    ) -> Result<()> {
        self.authorize_holder(caller, "Delete", "Policy", holder)
            .await?;
        self.require_holder(&caller.account_id, holder).await?;
        let deleted = self
            .meta
            .delete_inline_policy(&caller.account_id, holder, name)
            .await?;
        self.authz.changed();
        if deleted {
            Ok(())
        } else {
            Err(no_such_inline_policy(holder, name))
        }
    }

    /// Attach{User,Role,Group}Policy: a policy of the caller's account or
    /// an AWS-managed one. Attaching twice is not an error (AWS).
    pub async fn attach_holder_policy(
        &self,
        caller: &Caller,
        holder: Holder<'_>,
        arn: &str,
    ) -> Result<()> {
        self.authorize_holder(caller, "Attach", "Policy", holder)
            .await?;
        let local = aws_managed(arn).is_none();
        if local && !arn.starts_with(&format!("arn:aws:iam::{}:policy/", caller.account_id)) {
            return Err(no_such_policy(arn));
        }
        let outcome = self
            .meta
            .attach_policy(&caller.account_id, holder, arn, local, self.now())
            .await?;
        self.authz.changed();
        match outcome {
            AttachOutcome::Attached => Ok(()),
            AttachOutcome::NoSuchHolder => Err(no_such_entity(holder.kind, holder.name)),
            AttachOutcome::NoSuchPolicy => Err(no_such_policy(arn)),
        }
    }

    pub async fn detach_holder_policy(
        &self,
        caller: &Caller,
        holder: Holder<'_>,
        arn: &str,
    ) -> Result<()> {
        self.authorize_holder(caller, "Detach", "Policy", holder)
            .await?;
        self.require_holder(&caller.account_id, holder).await?;
        let detached = self
            .meta
            .detach_policy(&caller.account_id, holder, arn)
            .await?;
        self.authz.changed();
        if detached {
            Ok(())
        } else {
            Err(Error::NoSuchEntity(format!(
                "Policy {arn} was not found or is not attached to {} {}.",
                kind_word(holder.kind),
                holder.name
            )))
        }
    }

    /// ListAttached{User,Role,Group}Policies: (name, ARN) pairs, by ARN.
    pub async fn attached_holder_policies(
        &self,
        caller: &Caller,
        holder: Holder<'_>,
        path_prefix: Option<&str>,
    ) -> Result<Vec<(String, String)>> {
        self.authorize_holder(caller, "ListAttached", "Policies", holder)
            .await?;
        self.require_holder(&caller.account_id, holder).await?;
        let prefix = path_prefix.unwrap_or("/");
        Ok(self
            .meta
            .attached_policies(&caller.account_id, holder)
            .await?
            .into_iter()
            .filter_map(|arn| {
                // `...:policy<path><name>`: the name is after the last '/'.
                let rest = arn.split_once(":policy").map(|(_, r)| r)?;
                let (path, name) = rest.rsplit_once('/')?;
                let path = format!("{path}/");
                path.starts_with(prefix)
                    .then(|| (name.to_string(), arn.clone()))
            })
            .collect())
    }
}

fn no_such_inline_policy(holder: Holder<'_>, name: &str) -> Error {
    Error::NoSuchEntity(match holder.kind {
        HolderKind::User => format!(
            "The user policy with name {name} cannot be found for user {}.",
            holder.name
        ),
        kind => format!(
            "The {} policy with name {name} cannot be found.",
            kind_word(kind)
        ),
    })
}
