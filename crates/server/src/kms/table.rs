//! The one table of the KMS model's 54 operations: the handler of each
//! operation berth implements, and for the rest the reason it answers
//! `UnsupportedOperationException`.

use super::{aliases, crypto, grants, keys, KmsCall};
use crate::aws_error::AwsError;
use crate::op_table::{no, yes};
use futures_util::future::BoxFuture;
use serde_json::Value;

/// An operation's handler: the request's JSON in, the response's out.
pub type Handler = for<'a> fn(&'a KmsCall<'a>, Value) -> BoxFuture<'a, Result<Value, AwsError>>;

pub type Entry = crate::op_table::Entry<Handler>;

const ASYMMETRIC: &str =
    "berth's keys are symmetric encryption keys only (no key pairs, signing or MAC keys)";
const STORES: &str = super::members::CUSTOM_KEY_STORES;
const IMPORT: &str = "berth makes its own key material: importing key material is not supported";

pub const OPERATIONS: &[Entry] = &[
    yes("CancelKeyDeletion", keys::cancel_key_deletion),
    no("ConnectCustomKeyStore", STORES),
    yes("CreateAlias", aliases::create_alias),
    no("CreateCustomKeyStore", STORES),
    yes("CreateGrant", grants::create_grant),
    yes("CreateKey", keys::create_key),
    yes("Decrypt", crypto::decrypt),
    yes("DeleteAlias", aliases::delete_alias),
    no("DeleteCustomKeyStore", STORES),
    no("DeleteImportedKeyMaterial", IMPORT),
    no("DeriveSharedSecret", ASYMMETRIC),
    no("DescribeCustomKeyStores", STORES),
    yes("DescribeKey", keys::describe_key),
    yes("DisableKey", keys::disable_key),
    yes("DisableKeyRotation", keys::disable_key_rotation),
    no("DisconnectCustomKeyStore", STORES),
    yes("EnableKey", keys::enable_key),
    yes("EnableKeyRotation", keys::enable_key_rotation),
    yes("Encrypt", crypto::encrypt),
    yes("GenerateDataKey", crypto::generate_data_key),
    no("GenerateDataKeyPair", ASYMMETRIC),
    no("GenerateDataKeyPairWithoutPlaintext", ASYMMETRIC),
    yes(
        "GenerateDataKeyWithoutPlaintext",
        crypto::generate_data_key_without_plaintext,
    ),
    no("GenerateMac", ASYMMETRIC),
    yes("GenerateRandom", crypto::generate_random),
    no("GetKeyLastUsage", "key usage is not tracked yet"),
    yes("GetKeyPolicy", keys::get_key_policy),
    yes("GetKeyRotationStatus", keys::get_key_rotation_status),
    no("GetParametersForImport", IMPORT),
    no("GetPublicKey", ASYMMETRIC),
    no("ImportKeyMaterial", IMPORT),
    yes("ListAliases", aliases::list_aliases),
    yes("ListGrants", grants::list_grants),
    yes("ListKeyPolicies", keys::list_key_policies),
    yes("ListKeyRotations", keys::list_key_rotations),
    yes("ListKeys", keys::list_keys),
    yes("ListResourceTags", keys::list_resource_tags),
    yes("ListRetirableGrants", grants::list_retirable_grants),
    yes("PutKeyPolicy", keys::put_key_policy),
    yes("ReEncrypt", crypto::re_encrypt),
    no("ReplicateKey", "berth does not make multi-Region keys"),
    yes("RetireGrant", grants::retire_grant),
    yes("RevokeGrant", grants::revoke_grant),
    yes("RotateKeyOnDemand", keys::rotate_key_on_demand),
    yes("ScheduleKeyDeletion", keys::schedule_key_deletion),
    no("Sign", ASYMMETRIC),
    yes("TagResource", keys::tag_resource),
    yes("UntagResource", keys::untag_resource),
    yes("UpdateAlias", aliases::update_alias),
    no("UpdateCustomKeyStore", STORES),
    yes("UpdateKeyDescription", keys::update_key_description),
    no(
        "UpdatePrimaryRegion",
        "berth does not make multi-Region keys",
    ),
    no("Verify", ASYMMETRIC),
    no("VerifyMac", ASYMMETRIC),
];

/// The names of the operations berth implements, in the table's order.
pub const IMPLEMENTED_OPERATIONS: &[&str] = crate::op_table::implemented_names!(OPERATIONS);

#[cfg(test)]
mod tests {
    /// The table is botocore's model: every operation once, in order.
    #[test]
    fn the_table_holds_the_models_54_operations() {
        let names: Vec<&str> = super::OPERATIONS.iter().map(|e| e.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert_eq!(names.len(), 54);
        assert_eq!(super::IMPLEMENTED_OPERATIONS.len(), 34);
    }
}
