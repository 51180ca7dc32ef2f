//! `ScanningStore`'s suite: imports (newer wins, withdrawals), layer
//! inventories, scans (a superseded finish is discarded), configurations.

use super::registry;
use crate::metadata::{RepositoryStore, ScanClaim, ScanOutcome, ScanningStore, VulnRecordRow};
use berth_oci::{Algorithm, Digest};

pub async fn scanning_store_suite<S: RepositoryStore + ScanningStore + ?Sized>(store: &S) {
    let reg = &registry();
    let row = |id: &str, modified: &str, json: &str, pkgs: &[(&str, &str)]| VulnRecordRow {
        id: id.into(),
        modified: Some(modified.into()),
        json: json.into(),
        packages: pkgs
            .iter()
            .map(|(e, n)| (e.to_string(), n.to_string()))
            .collect(),
    };
    assert_eq!(store.vuln_source().await.unwrap(), None);
    let o = store
        .import_vuln_records(
            &[
                row(
                    "A-1",
                    "2024-01-01T00:00:00Z",
                    "a1",
                    &[("Debian", "openssl")],
                ),
                row(
                    "A-2",
                    "2024-01-01T00:00:00Z",
                    "a2",
                    &[("Debian", "openssl"), ("PyPI", "x")],
                ),
            ],
            &[],
        )
        .await
        .unwrap();
    assert_eq!((o.stored, o.unchanged, o.removed), (2, 0, 0));
    let keys = |e: &str, n: &str| vec![(e.to_string(), n.to_string())];
    let mut ids = store
        .vuln_record_ids(&keys("Debian", "openssl"))
        .await
        .unwrap();
    ids.sort();
    assert_eq!(ids.len(), 2);
    // An older version changes nothing; a newer one replaces text and keys.
    let o = store
        .import_vuln_records(
            &[
                row("A-1", "2023-01-01T00:00:00Z", "old", &[]),
                row("A-2", "2025-01-01T00:00:00Z", "a2-new", &[("PyPI", "x")]),
            ],
            &[],
        )
        .await
        .unwrap();
    assert_eq!((o.stored, o.unchanged), (1, 1));
    assert_eq!(
        store
            .vuln_record_ids(&keys("Debian", "openssl"))
            .await
            .unwrap(),
        [("A-1".to_string(), Some("2024-01-01T00:00:00Z".to_string()))]
    );
    let recs = store
        .vuln_records(&["A-1".into(), "A-2".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(recs.len(), 2);
    assert!(recs.iter().any(|r| r.0 == "A-2" && r.2 == "a2-new"));
    // A withdrawal older than the stored record leaves it; a newer one deletes it.
    let o = store
        .import_vuln_records(&[], &[("A-2".into(), Some("2024-06-01T00:00:00Z".into()))])
        .await
        .unwrap();
    assert_eq!(o.removed, 0);
    let o = store
        .import_vuln_records(&[], &[("A-2".into(), Some("2025-06-01T00:00:00Z".into()))])
        .await
        .unwrap();
    assert_eq!(o.removed, 1);
    assert!(store
        .vuln_record_ids(&keys("PyPI", "x"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.vuln_record_count().await.unwrap(), 1);
    let s1 = store.finish_vuln_import(10).await.unwrap();
    let s2 = store.finish_vuln_import(20).await.unwrap();
    assert_eq!((s2.updated_at, s2.generation), (20, s1.generation + 1));
    assert_eq!(store.vuln_source().await.unwrap(), Some(s2));

    // Layer inventories by digest.
    let layer = Digest::of_bytes(Algorithm::Sha256, b"layer");
    assert_eq!(store.layer_inventory(&layer).await.unwrap(), None);
    store
        .put_layer_inventory(&layer, Some("sha256:x"), b"inv", 1)
        .await
        .unwrap();
    assert_eq!(
        store.layer_inventory(&layer).await.unwrap(),
        Some(b"inv".to_vec())
    );

    // Scans: a finish from a superseded start is discarded.
    let r = store.ensure_repository(reg, "suite/scan", 1).await.unwrap();
    let d = Digest::of_bytes(Algorithm::Sha256, b"image");
    assert_eq!(store.image_scan(r, &d).await.unwrap(), None);
    let claim = |by, until| ScanClaim { by, until };
    store
        .start_image_scan(r, &d, "BASIC", 100, claim("node-a", 150))
        .await
        .unwrap();
    assert_eq!(store.scans_in_progress(i64::MAX).await.unwrap().len(), 1);
    assert_eq!(
        store.scans_in_progress(151).await.unwrap()[0].name,
        "suite/scan"
    );
    assert!(
        store.scans_in_progress(150).await.unwrap().is_empty(),
        "a claim until 150 has not lapsed before 150"
    );
    // Only the claimant's renewal moves the claim.
    assert_eq!(
        store.renew_scan_claims(claim("node-b", 500)).await.unwrap(),
        0
    );
    assert_eq!(store.scans_in_progress(151).await.unwrap().len(), 1);
    assert_eq!(
        store.renew_scan_claims(claim("node-a", 400)).await.unwrap(),
        1
    );
    assert!(store.scans_in_progress(400).await.unwrap().is_empty());
    assert_eq!(store.scans_in_progress(401).await.unwrap().len(), 1);
    // A new start takes the claim over: the old claimant renews nothing.
    store
        .start_image_scan(r, &d, "ENHANCED", 200, claim("node-b", 250))
        .await
        .unwrap();
    assert_eq!(
        store.renew_scan_claims(claim("node-a", 900)).await.unwrap(),
        0
    );
    assert_eq!(store.scans_in_progress(251).await.unwrap().len(), 1);
    let outcome = ScanOutcome {
        status: "COMPLETE",
        description: None,
        completed_at: 300,
        source_updated_at: Some(20),
        source_generation: Some(2),
        findings: Some("[]"),
        counts: Some("{}"),
        detection: Some(b"det"),
    };
    assert!(!store.finish_image_scan(r, &d, 100, &outcome).await.unwrap());
    assert!(store.finish_image_scan(r, &d, 200, &outcome).await.unwrap());
    let scan = store.image_scan(r, &d).await.unwrap().unwrap();
    assert_eq!(
        (scan.status.as_str(), scan.scan_type.as_str()),
        ("COMPLETE", "ENHANCED")
    );
    assert_eq!(scan.detection.as_deref(), Some(&b"det"[..]));
    assert_eq!(store.complete_scans(r).await.unwrap().len(), 1);
    assert!(store.scans_in_progress(i64::MAX).await.unwrap().is_empty());
    assert_eq!(
        store.renew_scan_claims(claim("node-b", 900)).await.unwrap(),
        0,
        "a finished scan holds no claim"
    );

    // Registry scanning configurations.
    assert_eq!(store.registry_scanning(reg).await.unwrap(), None);
    store.put_registry_scanning(reg, "{\"a\":1}").await.unwrap();
    store.put_registry_scanning(reg, "{\"a\":2}").await.unwrap();
    assert_eq!(
        store.registry_scanning(reg).await.unwrap().as_deref(),
        Some("{\"a\":2}")
    );
    assert_eq!(store.registry_scanning_all().await.unwrap().len(), 1);
}
