//! The action table: every action of the IAM and STS models (botocore
//! 1.43.11: IAM 176, STS 11), each implemented (its type, whose
//! `QueryAction` impl holds its service, name and handler) or declared
//! unsupported. An unsupported action, like a name the model lacks, answers
//! `InvalidAction`.
//!
//! Adding an action: write the unit struct and its `QueryAction` impl in
//! the module of its area (here `users.rs`), e.g.
//!
//! ```ignore
//! pub struct UpdateUser;
//!
//! impl QueryAction for UpdateUser {
//!     const SERVICE: Service = Service::Iam;
//!     const NAME: &'static str = "UpdateUser";
//!     async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
//!         reg(app.registry.iam_update_user(caller, q.required("UserName")?, ...).await)?;
//!         Ok(None) // or render(move |x| ...) for a <UpdateUserResult>
//!     }
//! }
//! ```
//!
//! then replace its row below, `Entry::unsupported(Iam, "UpdateUser"),`,
//! with `Entry::implemented::<users::UpdateUser>(),`.

use super::action::Entry;
use super::action::Service::{Iam, Sts};
use super::{groups, holder_policies, policies, roles, sts, users};

/// Per service, in the model's (alphabetical) order.
pub const TABLE: &[Entry] = &[
    // IAM (176 actions)
    Entry::unsupported(Iam, "AcceptDelegationRequest"),
    Entry::unsupported(Iam, "AddClientIDToOpenIDConnectProvider"),
    Entry::unsupported(Iam, "AddRoleToInstanceProfile"),
    Entry::implemented::<groups::AddUserToGroup>(),
    Entry::unsupported(Iam, "AssociateDelegationRequest"),
    Entry::implemented::<holder_policies::AttachGroupPolicy>(),
    Entry::implemented::<holder_policies::AttachRolePolicy>(),
    Entry::implemented::<holder_policies::AttachUserPolicy>(),
    Entry::unsupported(Iam, "ChangePassword"),
    Entry::implemented::<users::CreateAccessKey>(),
    Entry::unsupported(Iam, "CreateAccountAlias"),
    Entry::unsupported(Iam, "CreateDelegationRequest"),
    Entry::implemented::<groups::CreateGroup>(),
    Entry::unsupported(Iam, "CreateInstanceProfile"),
    Entry::unsupported(Iam, "CreateLoginProfile"),
    Entry::unsupported(Iam, "CreateOpenIDConnectProvider"),
    Entry::implemented::<policies::CreatePolicy>(),
    Entry::unsupported(Iam, "CreatePolicyVersion"),
    Entry::implemented::<roles::CreateRole>(),
    Entry::unsupported(Iam, "CreateSAMLProvider"),
    Entry::unsupported(Iam, "CreateServiceLinkedRole"),
    Entry::unsupported(Iam, "CreateServiceSpecificCredential"),
    Entry::implemented::<users::CreateUser>(),
    Entry::unsupported(Iam, "CreateVirtualMFADevice"),
    Entry::unsupported(Iam, "DeactivateMFADevice"),
    Entry::implemented::<users::DeleteAccessKey>(),
    Entry::unsupported(Iam, "DeleteAccountAlias"),
    Entry::unsupported(Iam, "DeleteAccountPasswordPolicy"),
    Entry::implemented::<groups::DeleteGroup>(),
    Entry::implemented::<holder_policies::DeleteGroupPolicy>(),
    Entry::unsupported(Iam, "DeleteInstanceProfile"),
    Entry::unsupported(Iam, "DeleteLoginProfile"),
    Entry::unsupported(Iam, "DeleteOpenIDConnectProvider"),
    Entry::implemented::<policies::DeletePolicy>(),
    Entry::unsupported(Iam, "DeletePolicyVersion"),
    Entry::implemented::<roles::DeleteRole>(),
    Entry::unsupported(Iam, "DeleteRolePermissionsBoundary"),
    Entry::implemented::<holder_policies::DeleteRolePolicy>(),
    Entry::unsupported(Iam, "DeleteSAMLProvider"),
    Entry::unsupported(Iam, "DeleteSSHPublicKey"),
    Entry::unsupported(Iam, "DeleteServerCertificate"),
    Entry::unsupported(Iam, "DeleteServiceLinkedRole"),
    Entry::unsupported(Iam, "DeleteServiceSpecificCredential"),
    Entry::unsupported(Iam, "DeleteSigningCertificate"),
    Entry::implemented::<users::DeleteUser>(),
    Entry::unsupported(Iam, "DeleteUserPermissionsBoundary"),
    Entry::implemented::<holder_policies::DeleteUserPolicy>(),
    Entry::unsupported(Iam, "DeleteVirtualMFADevice"),
    Entry::implemented::<holder_policies::DetachGroupPolicy>(),
    Entry::implemented::<holder_policies::DetachRolePolicy>(),
    Entry::implemented::<holder_policies::DetachUserPolicy>(),
    Entry::unsupported(Iam, "DisableOrganizationsRootCredentialsManagement"),
    Entry::unsupported(Iam, "DisableOrganizationsRootSessions"),
    Entry::unsupported(Iam, "DisableOutboundWebIdentityFederation"),
    Entry::unsupported(Iam, "EnableMFADevice"),
    Entry::unsupported(Iam, "EnableOrganizationsRootCredentialsManagement"),
    Entry::unsupported(Iam, "EnableOrganizationsRootSessions"),
    Entry::unsupported(Iam, "EnableOutboundWebIdentityFederation"),
    Entry::unsupported(Iam, "GenerateCredentialReport"),
    Entry::unsupported(Iam, "GenerateOrganizationsAccessReport"),
    Entry::unsupported(Iam, "GenerateServiceLastAccessedDetails"),
    Entry::unsupported(Iam, "GetAccessKeyLastUsed"),
    Entry::unsupported(Iam, "GetAccountAuthorizationDetails"),
    Entry::unsupported(Iam, "GetAccountPasswordPolicy"),
    Entry::unsupported(Iam, "GetAccountSummary"),
    Entry::unsupported(Iam, "GetContextKeysForCustomPolicy"),
    Entry::unsupported(Iam, "GetContextKeysForPrincipalPolicy"),
    Entry::unsupported(Iam, "GetCredentialReport"),
    Entry::unsupported(Iam, "GetDelegationRequest"),
    Entry::implemented::<groups::GetGroup>(),
    Entry::implemented::<holder_policies::GetGroupPolicy>(),
    Entry::unsupported(Iam, "GetHumanReadableSummary"),
    Entry::unsupported(Iam, "GetInstanceProfile"),
    Entry::unsupported(Iam, "GetLoginProfile"),
    Entry::unsupported(Iam, "GetMFADevice"),
    Entry::unsupported(Iam, "GetOpenIDConnectProvider"),
    Entry::unsupported(Iam, "GetOrganizationsAccessReport"),
    Entry::unsupported(Iam, "GetOutboundWebIdentityFederationInfo"),
    Entry::implemented::<policies::GetPolicy>(),
    Entry::implemented::<policies::GetPolicyVersion>(),
    Entry::implemented::<roles::GetRole>(),
    Entry::implemented::<holder_policies::GetRolePolicy>(),
    Entry::unsupported(Iam, "GetSAMLProvider"),
    Entry::unsupported(Iam, "GetSSHPublicKey"),
    Entry::unsupported(Iam, "GetServerCertificate"),
    Entry::unsupported(Iam, "GetServiceLastAccessedDetails"),
    Entry::unsupported(Iam, "GetServiceLastAccessedDetailsWithEntities"),
    Entry::unsupported(Iam, "GetServiceLinkedRoleDeletionStatus"),
    Entry::implemented::<users::GetUser>(),
    Entry::implemented::<holder_policies::GetUserPolicy>(),
    Entry::implemented::<users::ListAccessKeys>(),
    Entry::unsupported(Iam, "ListAccountAliases"),
    Entry::implemented::<holder_policies::ListAttachedGroupPolicies>(),
    Entry::implemented::<holder_policies::ListAttachedRolePolicies>(),
    Entry::implemented::<holder_policies::ListAttachedUserPolicies>(),
    Entry::unsupported(Iam, "ListDelegationRequests"),
    Entry::unsupported(Iam, "ListEntitiesForPolicy"),
    Entry::implemented::<holder_policies::ListGroupPolicies>(),
    Entry::implemented::<groups::ListGroups>(),
    Entry::implemented::<groups::ListGroupsForUser>(),
    Entry::unsupported(Iam, "ListInstanceProfileTags"),
    Entry::unsupported(Iam, "ListInstanceProfiles"),
    Entry::unsupported(Iam, "ListInstanceProfilesForRole"),
    Entry::unsupported(Iam, "ListMFADeviceTags"),
    Entry::unsupported(Iam, "ListMFADevices"),
    Entry::unsupported(Iam, "ListOpenIDConnectProviderTags"),
    Entry::unsupported(Iam, "ListOpenIDConnectProviders"),
    Entry::unsupported(Iam, "ListOrganizationsFeatures"),
    Entry::implemented::<policies::ListPolicies>(),
    Entry::unsupported(Iam, "ListPoliciesGrantingServiceAccess"),
    Entry::unsupported(Iam, "ListPolicyTags"),
    Entry::unsupported(Iam, "ListPolicyVersions"),
    Entry::implemented::<holder_policies::ListRolePolicies>(),
    Entry::implemented::<roles::ListRoleTags>(),
    Entry::implemented::<roles::ListRoles>(),
    Entry::unsupported(Iam, "ListSAMLProviderTags"),
    Entry::unsupported(Iam, "ListSAMLProviders"),
    Entry::unsupported(Iam, "ListSSHPublicKeys"),
    Entry::unsupported(Iam, "ListServerCertificateTags"),
    Entry::unsupported(Iam, "ListServerCertificates"),
    Entry::unsupported(Iam, "ListServiceSpecificCredentials"),
    Entry::unsupported(Iam, "ListSigningCertificates"),
    Entry::implemented::<holder_policies::ListUserPolicies>(),
    Entry::unsupported(Iam, "ListUserTags"),
    Entry::implemented::<users::ListUsers>(),
    Entry::unsupported(Iam, "ListVirtualMFADevices"),
    Entry::implemented::<holder_policies::PutGroupPolicy>(),
    Entry::unsupported(Iam, "PutRolePermissionsBoundary"),
    Entry::implemented::<holder_policies::PutRolePolicy>(),
    Entry::unsupported(Iam, "PutUserPermissionsBoundary"),
    Entry::implemented::<holder_policies::PutUserPolicy>(),
    Entry::unsupported(Iam, "RejectDelegationRequest"),
    Entry::unsupported(Iam, "RemoveClientIDFromOpenIDConnectProvider"),
    Entry::unsupported(Iam, "RemoveRoleFromInstanceProfile"),
    Entry::implemented::<groups::RemoveUserFromGroup>(),
    Entry::unsupported(Iam, "ResetServiceSpecificCredential"),
    Entry::unsupported(Iam, "ResyncMFADevice"),
    Entry::unsupported(Iam, "SendDelegationToken"),
    Entry::unsupported(Iam, "SetDefaultPolicyVersion"),
    Entry::unsupported(Iam, "SetSecurityTokenServicePreferences"),
    Entry::unsupported(Iam, "SimulateCustomPolicy"),
    Entry::unsupported(Iam, "SimulatePrincipalPolicy"),
    Entry::unsupported(Iam, "TagInstanceProfile"),
    Entry::unsupported(Iam, "TagMFADevice"),
    Entry::unsupported(Iam, "TagOpenIDConnectProvider"),
    Entry::unsupported(Iam, "TagPolicy"),
    Entry::implemented::<roles::TagRole>(),
    Entry::unsupported(Iam, "TagSAMLProvider"),
    Entry::unsupported(Iam, "TagServerCertificate"),
    Entry::unsupported(Iam, "TagUser"),
    Entry::unsupported(Iam, "UntagInstanceProfile"),
    Entry::unsupported(Iam, "UntagMFADevice"),
    Entry::unsupported(Iam, "UntagOpenIDConnectProvider"),
    Entry::unsupported(Iam, "UntagPolicy"),
    Entry::implemented::<roles::UntagRole>(),
    Entry::unsupported(Iam, "UntagSAMLProvider"),
    Entry::unsupported(Iam, "UntagServerCertificate"),
    Entry::unsupported(Iam, "UntagUser"),
    Entry::implemented::<users::UpdateAccessKey>(),
    Entry::unsupported(Iam, "UpdateAccountPasswordPolicy"),
    Entry::implemented::<roles::UpdateAssumeRolePolicy>(),
    Entry::unsupported(Iam, "UpdateDelegationRequest"),
    Entry::unsupported(Iam, "UpdateGroup"),
    Entry::unsupported(Iam, "UpdateLoginProfile"),
    Entry::unsupported(Iam, "UpdateOpenIDConnectProviderThumbprint"),
    Entry::implemented::<roles::UpdateRole>(),
    Entry::implemented::<roles::UpdateRoleDescription>(),
    Entry::unsupported(Iam, "UpdateSAMLProvider"),
    Entry::unsupported(Iam, "UpdateSSHPublicKey"),
    Entry::unsupported(Iam, "UpdateServerCertificate"),
    Entry::unsupported(Iam, "UpdateServiceSpecificCredential"),
    Entry::unsupported(Iam, "UpdateSigningCertificate"),
    Entry::unsupported(Iam, "UpdateUser"),
    Entry::unsupported(Iam, "UploadSSHPublicKey"),
    Entry::unsupported(Iam, "UploadServerCertificate"),
    Entry::unsupported(Iam, "UploadSigningCertificate"),
    // STS (11 actions)
    Entry::implemented::<sts::AssumeRole>(),
    Entry::unsupported(Sts, "AssumeRoleWithSAML"),
    Entry::unsupported(Sts, "AssumeRoleWithWebIdentity"),
    Entry::unsupported(Sts, "AssumeRoot"),
    Entry::unsupported(Sts, "DecodeAuthorizationMessage"),
    Entry::unsupported(Sts, "GetAccessKeyInfo"),
    Entry::implemented::<sts::GetCallerIdentity>(),
    Entry::unsupported(Sts, "GetDelegatedAccessToken"),
    Entry::unsupported(Sts, "GetFederationToken"),
    Entry::implemented::<sts::GetSessionToken>(),
    Entry::unsupported(Sts, "GetWebIdentityToken"),
];

/// The handler of a service's action, if berth implements it.
pub fn find(service: super::action::Service, action: &str) -> Option<super::action::Run> {
    TABLE
        .iter()
        .find(|e| e.service == service && e.name == action)
        .and_then(|e| e.run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_each_model_once_in_order() {
        for service in [Iam, Sts] {
            let names: Vec<&str> = TABLE
                .iter()
                .filter(|e| e.service == service)
                .map(|e| e.name)
                .collect();
            assert!(names.windows(2).all(|w| w[0] < w[1]), "{service:?}");
        }
        let implemented = TABLE.iter().filter(|e| e.run.is_some()).count();
        assert_eq!(implemented, 21 + 10 + 7 + 14 + 2);
        assert!(find(Sts, "GetCallerIdentity").is_some());
        assert!(find(Iam, "GetCallerIdentity").is_none());
        assert!(find(Iam, "CreateGroup").is_some());
        assert!(find(Iam, "CreateInstanceProfile").is_none());
    }
}
