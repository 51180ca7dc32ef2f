//! The cryptographic operations: Encrypt, Decrypt, ReEncrypt,
//! GenerateDataKey (with and without plaintext) and GenerateRandom. Each
//! is authorized with the encryption context in the request
//! (`kms:EncryptionContext:<key>`, `kms:EncryptionContextKeys`), and needs
//! an enabled key (`DisabledException`, `KMSInvalidStateException`).

use super::crypto::{self, decode_materials};
use super::keys::require_state;
use super::rules::{self, kms_error, validation};
use super::{Found, KmsApi};
use crate::identity::Caller;
use crate::Result;
use rand::RngCore as _;
use std::collections::BTreeMap;

pub type Context = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encrypted {
    pub ciphertext: Vec<u8>,
    pub key_arn: String,
    pub material_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    pub key_arn: String,
    pub material_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKey {
    /// `None` for GenerateDataKeyWithoutPlaintext.
    pub plaintext: Option<Vec<u8>>,
    pub ciphertext: Vec<u8>,
    pub key_arn: String,
    pub material_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReEncrypted {
    pub ciphertext: Vec<u8>,
    pub source_key_arn: String,
    pub key_arn: String,
}

fn context_facts(context: &Context) -> Vec<(String, Vec<String>)> {
    let mut facts: Vec<(String, Vec<String>)> = context
        .iter()
        .map(|(k, v)| (format!("kms:EncryptionContext:{k}"), vec![v.clone()]))
        .collect();
    if !context.is_empty() {
        facts.push((
            "kms:EncryptionContextKeys".into(),
            context.keys().cloned().collect(),
        ));
    }
    facts
}

fn check_algorithm(algorithm: Option<&str>) -> Result<()> {
    match algorithm {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(a) => Err(kms_error(
            "InvalidKeyUsageException",
            format!("{a} is not supported by a symmetric encryption key: use SYMMETRIC_DEFAULT"),
        )),
    }
}

pub(crate) fn dry_run() -> crate::Error {
    kms_error(
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    )
}

impl KmsApi<'_> {
    /// The enabled key `key_id` names, once `action` is allowed on it with
    /// `context`; its automatic rotation done if due.
    async fn usable_key(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        action: &str,
        context: &Context,
    ) -> Result<Found> {
        let found = self.resolve(caller, region, key_id, true).await?;
        self.authorize_key(caller, &found, action, &context_facts(context))
            .await?;
        require_state(&found.key, &found.arn, true)?;
        self.rotate_if_due(found).await
    }

    fn seal(&self, found: &Found, plain: &[u8], context: &Context) -> Result<Encrypted> {
        let materials = decode_materials(&found.key.materials)?;
        let current = materials.last().ok_or_else(|| {
            crate::Error::Store(berth_store::StoreError::Corrupt(format!(
                "KMS key {} has no key material",
                found.arn
            )))
        })?;
        Ok(Encrypted {
            ciphertext: crypto::encrypt(&self.kms.kek, &found.arn, current, plain, context)?,
            key_arn: found.arn.clone(),
            material_id: current.id.clone(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn encrypt(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        plaintext: &[u8],
        context: &Context,
        algorithm: Option<&str>,
        dry: bool,
    ) -> Result<Encrypted> {
        if plaintext.is_empty() || plaintext.len() > rules::MAX_PLAINTEXT {
            return Err(validation(
                "plaintext",
                "(the plaintext)",
                "Member must have length between 1 and 4096",
            ));
        }
        check_algorithm(algorithm)?;
        let found = self
            .usable_key(caller, region, key_id, "kms:Encrypt", context)
            .await?;
        if dry {
            return Err(dry_run());
        }
        self.seal(&found, plaintext, context)
    }

    /// Decrypt: the ciphertext names its key; `key_id`, when given, must
    /// be that key (`IncorrectKeyException`).
    #[allow(clippy::too_many_arguments)]
    pub async fn decrypt(
        &self,
        caller: &Caller,
        region: &str,
        ciphertext: &[u8],
        context: &Context,
        key_id: Option<&str>,
        algorithm: Option<&str>,
        dry: bool,
    ) -> Result<Decrypted> {
        self.open(
            caller,
            region,
            ciphertext,
            context,
            key_id,
            algorithm,
            "kms:Decrypt",
            dry,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn open(
        &self,
        caller: &Caller,
        region: &str,
        ciphertext: &[u8],
        context: &Context,
        key_id: Option<&str>,
        algorithm: Option<&str>,
        action: &str,
        dry: bool,
    ) -> Result<Decrypted> {
        check_algorithm(algorithm)?;
        let envelope = crypto::envelope(ciphertext)?;
        let found = self
            .usable_key(caller, region, envelope.key_arn, action, context)
            .await
            .map_err(|e| match e {
                // A ciphertext naming a key of another region, or a
                // malformed ARN, is not a ciphertext of this KMS.
                crate::Error::Kms {
                    code: "InvalidArnException",
                    ..
                } => kms_error(
                    "InvalidCiphertextException",
                    "The ciphertext is not one this KMS produced, or it was changed.",
                ),
                other => other,
            })?;
        if let Some(k) = key_id {
            let named = self.resolve(caller, region, k, true).await?;
            if named.arn != found.arn {
                return Err(kms_error(
                    "IncorrectKeyException",
                    "The key ID in the request does not identify a CMK that can perform this operation.",
                ));
            }
        }
        if dry {
            return Err(dry_run());
        }
        let materials = decode_materials(&found.key.materials)?;
        let Some(material) = materials.iter().find(|m| m.id == envelope.material_id) else {
            return Err(kms_error(
                "InvalidCiphertextException",
                "The ciphertext is not one this KMS produced, or it was changed.",
            ));
        };
        Ok(Decrypted {
            plaintext: envelope.open(&self.kms.kek, material, context)?,
            key_arn: found.arn,
            material_id: material.id.clone(),
        })
    }

    /// GenerateDataKey (`with_plaintext`) and GenerateDataKeyWithoutPlaintext:
    /// `KeySpec` (AES_256, AES_128) or `NumberOfBytes` (1–1024), not both.
    #[allow(clippy::too_many_arguments)]
    pub async fn generate_data_key(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        key_spec: Option<&str>,
        number_of_bytes: Option<i64>,
        context: &Context,
        with_plaintext: bool,
        dry: bool,
    ) -> Result<DataKey> {
        let len = match (key_spec, number_of_bytes) {
            (Some(_), Some(_)) => {
                return Err(kms_error(
                    "ValidationException",
                    "Please specify either number of bytes or key spec.",
                ))
            }
            (None, None) => {
                return Err(kms_error(
                    "ValidationException",
                    "Please specify either number of bytes or key spec.",
                ))
            }
            (Some("AES_256"), None) => 32,
            (Some("AES_128"), None) => 16,
            (Some(s), None) => {
                return Err(validation(
                    "keySpec",
                    s,
                    "Member must satisfy enum value set: [AES_256, AES_128]",
                ))
            }
            (None, Some(n)) if (1..=rules::MAX_DATA_KEY_BYTES).contains(&n) => n as usize,
            (None, Some(n)) => {
                return Err(validation(
                    "numberOfBytes",
                    &n.to_string(),
                    "Member must have value between 1 and 1024",
                ))
            }
        };
        let action = if with_plaintext {
            "kms:GenerateDataKey"
        } else {
            "kms:GenerateDataKeyWithoutPlaintext"
        };
        let found = self
            .usable_key(caller, region, key_id, action, context)
            .await?;
        if dry {
            return Err(dry_run());
        }
        let mut plain = vec![0u8; len];
        rand::rng().fill_bytes(&mut plain);
        let sealed = self.seal(&found, &plain, context)?;
        Ok(DataKey {
            plaintext: with_plaintext.then_some(plain),
            ciphertext: sealed.ciphertext,
            key_arn: sealed.key_arn,
            material_id: sealed.material_id,
        })
    }

    /// ReEncrypt: opened under its key (`kms:ReEncryptFrom` there), sealed
    /// under the destination (`kms:ReEncryptTo`); the plaintext never
    /// leaves the server. `algorithms`: the source's and the destination's.
    #[allow(clippy::too_many_arguments)]
    pub async fn re_encrypt(
        &self,
        caller: &Caller,
        region: &str,
        ciphertext: &[u8],
        source_context: &Context,
        source_key_id: Option<&str>,
        destination_key_id: &str,
        destination_context: &Context,
        algorithms: [Option<&str>; 2],
        dry: bool,
    ) -> Result<ReEncrypted> {
        let [source_algorithm, destination_algorithm] = algorithms;
        check_algorithm(destination_algorithm)?;
        let destination = self
            .usable_key(
                caller,
                region,
                destination_key_id,
                "kms:ReEncryptTo",
                destination_context,
            )
            .await?;
        let opened = self
            .open(
                caller,
                region,
                ciphertext,
                source_context,
                source_key_id,
                source_algorithm,
                "kms:ReEncryptFrom",
                dry,
            )
            .await?;
        let sealed = self.seal(&destination, &opened.plaintext, destination_context)?;
        Ok(ReEncrypted {
            ciphertext: sealed.ciphertext,
            source_key_arn: opened.key_arn,
            key_arn: sealed.key_arn,
        })
    }

    pub async fn generate_random(
        &self,
        caller: &Caller,
        number_of_bytes: Option<i64>,
    ) -> Result<Vec<u8>> {
        self.authorize_identity(caller, "kms:GenerateRandom", "*")
            .await?;
        let n = match number_of_bytes {
            Some(n) if (1..=rules::MAX_DATA_KEY_BYTES).contains(&n) => n as usize,
            Some(n) => {
                return Err(validation(
                    "numberOfBytes",
                    &n.to_string(),
                    "Member must have value between 1 and 1024",
                ))
            }
            None => {
                return Err(validation(
                    "numberOfBytes",
                    "null",
                    "Member must not be null",
                ))
            }
        };
        let mut out = vec![0u8; n];
        rand::rng().fill_bytes(&mut out);
        Ok(out)
    }
}
