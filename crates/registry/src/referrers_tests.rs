//! The referrers of a subject on real stores.

use crate::test_fixture::*;
use crate::*;
use berth_oci::Reference;

#[tokio::test]
async fn referrers_list_manifests_with_a_subject_and_filter_by_artifact_type() {
    let f = fixture().await;
    let a = repo("a");
    let (subject, _) = push_image(&f.reg, &a, "app", Some("v1")).await;
    let empty = sha(b"{}");
    f.reg.upload_blob(&a, &empty, body(&[b"{}"])).await.unwrap();
    let mut pushed = Vec::new();
    for (kind, note) in [
        ("application/vnd.example.sig", "s"),
        ("application/vnd.example.sbom", "b"),
    ] {
        let m = Bytes::from(format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"{kind}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{subject}","size":1}},"annotations":{{"note":"{note}"}}}}"#
        ));
        let d = sha(&m);
        let put = f
            .reg
            .put_manifest(&a, &Reference::Digest(d.clone()), None, m)
            .await
            .unwrap();
        assert_eq!(put.subject.as_ref(), Some(&subject));
        pushed.push(d);
    }
    let all = f.reg.referrers(&a, &subject, None).await.unwrap();
    assert_eq!(all.len(), 2);
    let sboms = f
        .reg
        .referrers(&a, &subject, Some("application/vnd.example.sbom"))
        .await
        .unwrap();
    assert_eq!(sboms.len(), 1);
    assert_eq!(sboms[0].digest, pushed[1]);
    assert_eq!(sboms[0].annotations.as_deref(), Some(r#"{"note":"b"}"#));
    // Another repository, or an unknown one, has none.
    assert!(f
        .reg
        .referrers(&repo("b"), &subject, None)
        .await
        .unwrap()
        .is_empty());
    // A subject need not exist.
    assert!(f
        .reg
        .referrers(&a, &sha(b"nothing"), None)
        .await
        .unwrap()
        .is_empty());
}
