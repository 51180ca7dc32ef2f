//! Tag and catalog listings on real stores.

use crate::test_fixture::*;
use crate::*;

#[tokio::test]
async fn listings_paginate() {
    let f = fixture().await;
    let a = repo("app");
    let cfg = sha(b"cfg");
    f.reg.upload_blob(&a, &cfg, body(&[b"cfg"])).await.unwrap();
    let m = image_manifest(&cfg, &[]);
    for t in ["b", "a", "c", "d"] {
        f.reg
            .put_manifest(&a, &tag(t), None, m.clone())
            .await
            .unwrap();
    }
    let p = f.reg.list_tags(&a, None, 3).await.unwrap();
    assert_eq!(
        (p.items.as_slice(), p.more),
        (&["a".to_string(), "b".into(), "c".into()][..], true)
    );
    let p = f.reg.list_tags(&a, Some("c"), 3).await.unwrap();
    assert_eq!((p.items, p.more), (vec!["d".to_string()], false));
    f.reg.start_upload(&repo("zz/top"), None).await.unwrap();
    let p = f.reg.catalog(&a.registry, None, 1).await.unwrap();
    assert_eq!((p.items, p.more), (vec!["app".to_string()], true));
    assert!(matches!(
        f.reg.list_tags(&repo("nope"), None, 3).await,
        Err(Error::NameUnknown(_))
    ));
}
