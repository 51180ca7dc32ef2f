//! `ResourcePolicyStore`'s suite.

use super::{other_registry, registry};
use crate::metadata::{RepositoryStore, ResourcePolicyStore};

pub async fn resource_policy_store_suite<S: RepositoryStore + ResourcePolicyStore + ?Sized>(
    store: &S,
) {
    let (reg, other) = (&registry(), &other_registry());
    store
        .ensure_repository(reg, "suite/tagged", 5)
        .await
        .unwrap();

    // Policies: per repository (the repository must exist) and per registry.
    let doc = r#"{"Statement":[]}"#;
    assert_eq!(
        store.repository_policy(reg, "suite/tagged").await.unwrap(),
        Some(None)
    );
    assert_eq!(
        store.repository_policy(reg, "suite/none").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .set_repository_policy(reg, "suite/tagged", Some(doc))
            .await
            .unwrap(),
        Some(None)
    );
    assert_eq!(
        store
            .set_repository_policy(reg, "suite/none", Some(doc))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.repository_policy(reg, "suite/tagged").await.unwrap(),
        Some(Some(doc.to_string()))
    );
    assert_eq!(store.registry_policy(reg).await.unwrap(), None);
    assert_eq!(
        store.set_registry_policy(reg, Some(doc)).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .set_registry_policy(reg, None)
            .await
            .unwrap()
            .as_deref(),
        Some(doc)
    );
    assert_eq!(store.registry_policy(reg).await.unwrap(), None);
    assert_eq!(store.registry_policy(other).await.unwrap(), None);
}
