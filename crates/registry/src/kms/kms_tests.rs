//! KMS on a registry's real store with a controlled clock: key states,
//! rotation (on demand and automatic) keeping old ciphertexts readable,
//! the deletion window, key policies against identity policies, and the
//! lockout safety check.

use super::*;
use crate::test_fixture::*;
use crate::{Principal, ADMIN_USER};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

const ACCT: &str = "000000000000";
const R: &str = "us-east-1";

async fn admin(f: &Fixture) -> Caller {
    f.reg.identity().bootstrap_admin(ACCT, None).await.unwrap();
    Caller {
        principal: Principal::user(ACCT, ADMIN_USER),
        facts: Default::default(),
    }
}

async fn user(f: &Fixture, admin: &Caller, name: &str) -> Caller {
    f.reg
        .identity()
        .create_user(admin, ACCT, name)
        .await
        .unwrap();
    Caller {
        principal: Principal::user(ACCT, name),
        facts: Default::default(),
    }
}

fn code<T: std::fmt::Debug>(r: crate::Result<T>) -> &'static str {
    match r {
        Err(crate::Error::Kms { code, .. }) => code,
        other => panic!("expected a KMS error, got {other:?}"),
    }
}

fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn advance_days(f: &Fixture, days: i64) {
    f.clock.0.fetch_add(days * rules::DAY_MS, Ordering::SeqCst);
}

#[tokio::test]
async fn states_rotation_and_the_deletion_window() {
    let f = fixture().await;
    let a = admin(&f).await;
    let kms = f.reg.kms();
    let key = kms.create_key(&a, R, NewKey::default()).await.unwrap();
    assert_eq!(key.key_state, "Enabled");
    let c = ctx(&[("repo", "app")]);
    let enc = |plain: &'static [u8]| {
        let kms = f.reg.kms();
        let a = a.clone();
        let c = c.clone();
        let id = key.key_id.clone();
        async move { kms.encrypt(&a, R, &id, plain, &c, None, false).await }
    };
    let first = enc(b"one").await.unwrap();
    let opened = kms
        .decrypt(&a, R, &first.ciphertext, &c, None, None, false)
        .await
        .unwrap();
    assert_eq!(opened.plaintext, b"one");
    assert_eq!(opened.key_arn, key.arn);
    assert_eq!(
        code(
            kms.decrypt(&a, R, &first.ciphertext, &ctx(&[]), None, None, false)
                .await
        ),
        "InvalidCiphertextException"
    );

    // Disabled: no cryptographic operation; enabled again: all is there.
    kms.set_enabled(&a, R, &key.key_id, false).await.unwrap();
    assert_eq!(code(enc(b"two").await), "DisabledException");
    assert_eq!(
        code(
            kms.decrypt(&a, R, &first.ciphertext, &c, None, None, false)
                .await
        ),
        "DisabledException"
    );
    kms.set_enabled(&a, R, &key.key_id, true).await.unwrap();

    // Rotation on demand and automatic: new material for new ciphertexts,
    // the old still opens.
    kms.rotate_now(&a, R, &key.key_id).await.unwrap();
    let second = enc(b"two").await.unwrap();
    assert_ne!(second.material_id, first.material_id);
    kms.set_rotation(&a, R, &key.key_id, true, Some(90))
        .await
        .unwrap();
    advance_days(&f, 91);
    let third = enc(b"three").await.unwrap();
    assert_ne!(third.material_id, second.material_id, "rotated when due");
    let (_, rotations) = kms.list_rotations(&a, R, &key.key_id).await.unwrap();
    let kinds: Vec<&str> = rotations.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["ON_DEMAND", "AUTOMATIC"]);
    for (blob, plain) in [
        (&first, b"one".as_slice()),
        (&second, b"two"),
        (&third, b"three"),
    ] {
        let got = kms
            .decrypt(&a, R, &blob.ciphertext, &c, Some(&key.arn), None, false)
            .await
            .unwrap();
        assert_eq!(got.plaintext, plain);
    }

    // Deletion: pending for the window (refused, cancellable), then gone.
    let (meta, days) = kms
        .schedule_deletion(&a, R, &key.key_id, Some(7))
        .await
        .unwrap();
    assert_eq!((meta.key_state.as_str(), days), ("PendingDeletion", 7));
    assert_eq!(code(enc(b"x").await), "KMSInvalidStateException");
    assert_eq!(
        code(kms.set_enabled(&a, R, &key.key_id, true).await),
        "KMSInvalidStateException"
    );
    kms.cancel_deletion(&a, R, &key.key_id).await.unwrap();
    assert_eq!(
        kms.describe_key(&a, R, &key.key_id)
            .await
            .unwrap()
            .key_state,
        "Disabled"
    );
    kms.schedule_deletion(&a, R, &key.key_id, Some(7))
        .await
        .unwrap();
    advance_days(&f, 8);
    assert_eq!(
        code(kms.describe_key(&a, R, &key.key_id).await),
        "NotFoundException"
    );
    assert_eq!(
        code(
            kms.decrypt(&a, R, &first.ciphertext, &c, None, None, false)
                .await
        ),
        "NotFoundException"
    );
}

#[tokio::test]
async fn key_policies_and_identity_policies_decide_together() {
    let f = fixture().await;
    let a = admin(&f).await;
    let bob = user(&f, &a, "bob").await;
    let kms = f.reg.kms();
    // The default policy delegates to IAM: bob has no identity policy.
    let key = kms.create_key(&a, R, NewKey::default()).await.unwrap();
    assert_eq!(
        code(
            kms.encrypt(&bob, R, &key.key_id, b"x", &ctx(&[]), None, false)
                .await
        ),
        "AccessDeniedException"
    );
    assert_eq!(
        code(kms.list_keys(&bob, R, None, None).await),
        "AccessDeniedException"
    );

    // A key policy naming bob lets him in without an identity policy, for
    // what it names only, and only with the encryption context it asks.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCT}:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCT}:user/bob"}},"Action":"kms:Encrypt","Resource":"*",
          "Condition":{{"StringEquals":{{"kms:EncryptionContext:team":"blue"}}}}}}]}}"#
    );
    kms.put_key_policy(&a, R, &key.key_id, None, &policy, false)
        .await
        .unwrap();
    kms.encrypt(
        &bob,
        R,
        &key.key_id,
        b"x",
        &ctx(&[("team", "blue")]),
        None,
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        code(
            kms.encrypt(
                &bob,
                R,
                &key.key_id,
                b"x",
                &ctx(&[("team", "red")]),
                None,
                false
            )
            .await
        ),
        "AccessDeniedException"
    );
    assert_eq!(
        code(kms.set_enabled(&bob, R, &key.key_id, false).await),
        "AccessDeniedException"
    );

    // The lockout check: a policy that would shut the caller out.
    let lockout = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCT}:user/bob"}},"Action":"kms:Encrypt","Resource":"*"}}]}}"#
    );
    assert_eq!(
        code(
            kms.put_key_policy(&a, R, &key.key_id, None, &lockout, false)
                .await
        ),
        "MalformedPolicyDocumentException"
    );
    assert_eq!(
        code(
            kms.create_key(
                &a,
                R,
                NewKey {
                    policy: Some(lockout.clone()),
                    ..Default::default()
                }
            )
            .await
        ),
        "MalformedPolicyDocumentException"
    );
    kms.put_key_policy(&a, R, &key.key_id, None, &lockout, true)
        .await
        .unwrap();
    assert_eq!(
        code(kms.describe_key(&a, R, &key.key_id).await),
        "AccessDeniedException",
        "bypassed: even the account's admin is out"
    );
}

#[tokio::test]
async fn aliases_name_keys_and_the_ecr_managed_key_appears_on_first_use() {
    let f = fixture().await;
    let a = admin(&f).await;
    let kms = f.reg.kms();
    let k1 = kms.create_key(&a, R, NewKey::default()).await.unwrap();
    let k2 = kms.create_key(&a, R, NewKey::default()).await.unwrap();
    kms.create_alias(&a, R, "alias/app", &k1.key_id)
        .await
        .unwrap();
    assert_eq!(
        code(kms.create_alias(&a, R, "alias/app", &k2.key_id).await),
        "AlreadyExistsException"
    );
    let blob = kms
        .encrypt(&a, R, "alias/app", b"x", &ctx(&[]), None, false)
        .await
        .unwrap();
    assert_eq!(blob.key_arn, k1.arn);
    kms.update_alias(&a, R, "alias/app", &k2.key_id)
        .await
        .unwrap();
    assert_eq!(
        kms.describe_key(&a, R, "alias/app").await.unwrap().key_id,
        k2.key_id
    );
    assert_eq!(
        code(
            kms.decrypt(
                &a,
                R,
                &blob.ciphertext,
                &ctx(&[]),
                Some("alias/app"),
                None,
                false
            )
            .await
        ),
        "IncorrectKeyException"
    );
    assert_eq!(
        code(kms.set_enabled(&a, R, "alias/app", false).await),
        "NotFoundException",
        "management operations take a key id or ARN"
    );
    let managed = kms.describe_key(&a, R, "alias/aws/ecr").await.unwrap();
    assert_eq!(managed.key_manager, "AWS");
    assert_eq!(
        kms.describe_key(&a, R, "alias/aws/ecr")
            .await
            .unwrap()
            .key_id,
        managed.key_id,
        "made once"
    );
    assert_eq!(
        code(kms.schedule_deletion(&a, R, &managed.key_id, None).await),
        "AccessDeniedException",
        "its policy lets the account read it only"
    );
    let page = kms.list_aliases(&a, R, None, Some(1), None).await.unwrap();
    assert_eq!(page.aliases[0].name, "alias/app");
    let rest = kms
        .list_aliases(&a, R, None, None, page.next.as_deref())
        .await
        .unwrap();
    assert_eq!(rest.aliases[0].name, "alias/aws/ecr");
    kms.delete_alias(&a, R, "alias/app").await.unwrap();
    assert_eq!(
        code(kms.describe_key(&a, R, "alias/app").await),
        "NotFoundException"
    );
}

/// A new key and repository `name` under it, made as CreateRepository
/// makes them (the key checked as `a`'s, ECR's grant made): the key and
/// the registry.
async fn repository_under_new_key(
    f: &Fixture,
    a: &Caller,
    name: &str,
) -> (KeyMetadata, crate::RegistryKey) {
    let key = f
        .reg
        .kms()
        .create_key(a, R, NewKey::default())
        .await
        .unwrap();
    let registry = crate::RegistryKey {
        account_id: ACCT.into(),
        region: R.into(),
    };
    let arn = f
        .reg
        .repository_encryption(a, &registry, "KMS", Some(&key.key_id))
        .await
        .unwrap();
    assert_eq!(arn.as_deref(), Some(key.arn.as_str()));
    f.reg
        .create_repository(
            &registry,
            &berth_oci::RepositoryName::parse(name).unwrap(),
            crate::RepositorySettings {
                encryption_type: "KMS".into(),
                kms_key: arn,
                ..Default::default()
            },
            &[],
        )
        .await
        .unwrap();
    (key, registry)
}

#[tokio::test]
async fn fsck_names_repositories_whose_key_is_pending_deletion_or_gone() {
    let f = fixture().await;
    let a = admin(&f).await;
    let kms = f.reg.kms();
    let (key, registry) = repository_under_new_key(&f, &a, "kms/app").await;
    let kinds = |r: crate::FsckReport| r.problems.iter().map(|p| p.kind).collect::<Vec<_>>();
    let fsck = || f.reg.fsck(crate::FsckOptions::default());
    assert!(kinds(fsck().await.unwrap()).is_empty());
    kms.schedule_deletion(&a, R, &key.key_id, Some(7))
        .await
        .unwrap();
    assert_eq!(
        kinds(fsck().await.unwrap()),
        ["repository-kms-key-pending-deletion"]
    );
    advance_days(&f, 8);
    assert_eq!(kinds(fsck().await.unwrap()), ["repository-kms-key-deleted"]);
    // The key is gone for KMS too, and so is every use of the repository.
    assert_eq!(
        code(kms.describe_key(&a, R, &key.key_id).await),
        "NotFoundException"
    );
    assert_eq!(kinds(fsck().await.unwrap()), ["repository-kms-key-deleted"]);
    let refused = f
        .reg
        .authorize_key_use(
            &a.principal,
            &a.facts,
            &registry,
            "kms/app",
            "ecr:BatchGetImage",
        )
        .await;
    assert_eq!(code(refused), "NotFoundException");
}

/// A repository under a KMS key keeps its manifest bodies under that key:
/// no AES256 copy of a body only it holds exists, the AES256 keys cannot
/// open its copy, an AES256 repository pushing the same manifest gets a
/// copy of its own, and once the key is deleted the repository's copy
/// opens nowhere while the AES256 repository's still reads.
#[tokio::test]
async fn a_kms_repositorys_manifest_bodies_are_sealed_under_its_key() {
    let f = fixture().await;
    let a = admin(&f).await;
    let kms = f.reg.kms();
    let (key, registry) = repository_under_new_key(&f, &a, "kms/app").await;
    let (under_key, plain) = (repo("kms/app"), repo("plain"));
    let (cfg, layer) = (sha(b"cfg"), sha(b"layer"));
    for r in [&under_key, &plain] {
        f.reg.upload_blob(r, &cfg, body(&[b"cfg"])).await.unwrap();
        f.reg
            .upload_blob(r, &layer, body(&[b"layer"]))
            .await
            .unwrap();
    }
    let manifest = image_manifest(&cfg, &[&layer]);
    let digest = sha(&manifest);
    f.reg
        .put_manifest(&under_key, &tag("v1"), None, manifest.clone())
        .await
        .unwrap();
    let shared = |f: &Fixture| {
        let meta = f.reg.meta.clone();
        async move {
            meta.manifest_bodies(None, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|(d, _)| d)
                .collect::<Vec<_>>()
        }
    };
    assert!(
        !shared(&f).await.contains(&digest.to_string()),
        "no shared (AES256) copy of a body only a KMS repository holds"
    );
    let id = |name: &str| {
        let meta = f.reg.meta.clone();
        let registry = registry.clone();
        let name = name.to_string();
        async move {
            meta.get_repository(&registry, &name)
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let kms_id = id("kms/app").await;
    let raw = f
        .reg
        .meta
        .get_manifest(kms_id, &digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raw.domain_key.as_deref(), Some(key.arn.as_str()));
    assert!(
        f.reg.bodies.open(&digest, &raw.body).is_err(),
        "the AES256 keys do not open it"
    );
    let read = f
        .reg
        .bodies
        .get(&*f.reg.meta, kms_id, &digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.body, manifest);

    f.reg
        .put_manifest(&plain, &tag("v1"), None, manifest.clone())
        .await
        .unwrap();
    assert!(shared(&f).await.contains(&digest.to_string()));
    let plain_id = id("plain").await;

    kms.schedule_deletion(&a, R, &key.key_id, Some(7))
        .await
        .unwrap();
    advance_days(&f, 8);
    assert_eq!(
        code(kms.describe_key(&a, R, &key.key_id).await),
        "NotFoundException"
    );
    // A fresh registry over the same stores: nothing cached of the key.
    let again = crate::test_fixture::registry_at(&f.root, f.clock.clone()).await;
    assert!(again
        .bodies
        .get(&*again.meta, kms_id, &digest)
        .await
        .is_err());
    let still = again
        .bodies
        .get(&*again.meta, plain_id, &digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.body, manifest);
    // Nothing is sealed under a gone key's throwaway keys.
    assert_eq!(
        code(
            again
                .bodies
                .seal_for(Some(key.arn.as_str()), &digest, &manifest)
                .await
        ),
        "NotFoundException"
    );
}

/// A manifest a repository under a key stored before bodies followed keys
/// (its body the shared AES256 one) reads as it is, and the sealing pass
/// gives it a body of its own under the key, emptying the shared one no
/// manifest reads any more; fsck --deep opens and hashes it there.
#[tokio::test]
async fn the_sealing_pass_moves_older_kms_manifest_bodies_under_their_key() {
    let f = fixture().await;
    let a = admin(&f).await;
    let (key, registry) = repository_under_new_key(&f, &a, "kms/old").await;
    let r = repo("kms/old");
    let (cfg, layer) = (sha(b"cfg"), sha(b"layer"));
    f.reg.upload_blob(&r, &cfg, body(&[b"cfg"])).await.unwrap();
    f.reg
        .upload_blob(&r, &layer, body(&[b"layer"]))
        .await
        .unwrap();
    let manifest = image_manifest(&cfg, &[&layer]);
    let digest = sha(&manifest);
    let id = f
        .reg
        .meta
        .get_repository(&registry, "kms/old")
        .await
        .unwrap()
        .unwrap()
        .id;
    // As a berth from before stored it: the shared body, AES256.
    let shared_body = f.reg.bodies.seal(&digest, &manifest);
    let refs = [(cfg.clone(), 3), (layer.clone(), 5)];
    f.reg
        .meta
        .put_manifest(
            id,
            berth_store::NewManifest {
                digest: &digest,
                media_type: "application/vnd.oci.image.manifest.v1+json",
                body: &shared_body,
                repository_body: false,
                size: manifest.len() as u64,
                artifact_type: None,
                annotations: None,
                subject: None,
                blob_refs: &refs,
                manifest_refs: &[],
                tag: Some("v1"),
                tag_immutable: false,
                refuse_existing: false,
                now: 1,
            },
        )
        .await
        .unwrap();
    let shared = || async {
        f.reg
            .meta
            .manifest_bodies(None, 100)
            .await
            .unwrap()
            .into_iter()
            .any(|(d, _)| d == digest.to_string())
    };
    let raw = || async { f.reg.meta.get_manifest(id, &digest).await.unwrap().unwrap() };
    assert_eq!(raw().await.domain_key, None);
    assert!(shared().await);
    let read = || async {
        f.reg
            .bodies
            .get(&*f.reg.meta, id, &digest)
            .await
            .unwrap()
            .unwrap()
            .body
    };
    assert_eq!(read().await, manifest);

    let run = f.reg.seal_plaintext().await.unwrap();
    assert_eq!((run.bodies, run.failed), (1, 0), "{run:?}");
    assert_eq!(raw().await.domain_key.as_deref(), Some(key.arn.as_str()));
    assert!(
        !shared().await,
        "no manifest reads the shared copy any more"
    );
    assert_eq!(read().await, manifest);
    assert_eq!(
        f.reg.seal_plaintext().await.unwrap().bodies,
        0,
        "idempotent"
    );
    let report = f
        .reg
        .fsck(crate::FsckOptions {
            deep: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.checked.manifest_bodies_hashed >= 1);
}
