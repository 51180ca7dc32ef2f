//! `ReplicationStore`'s suite: configurations per registry; the queue
//! claimed under leases (never twice while a lease lasts, again after it
//! ends), retried when due, finished; the latest task per destination as
//! an image's status; the backlog; one image's tasks to one destination
//! claimed one at a time, in queue order, whatever their action.

use crate::metadata::{
    BackfillOutcome, BackfillRecord, NewReplicationTask, RegistryKey, ReplicationAction,
    ReplicationStore, REPLICATION_COMPLETE, REPLICATION_FAILED, REPLICATION_IN_PROGRESS,
};

fn task(digest: &str, dest_region: &str) -> NewReplicationTask {
    NewReplicationTask {
        source: super::registry(),
        repository: "prod-app".into(),
        digest: digest.into(),
        tag: Some("v1".into()),
        destination: RegistryKey {
            account_id: super::registry().account_id,
            region: dest_region.into(),
        },
        backfill: None,
        action: ReplicationAction::Replicate,
    }
}

pub async fn replication_store_suite(store: &impl ReplicationStore) {
    let (reg, other) = (super::registry(), super::other_registry());
    assert_eq!(store.replication_config(&reg).await.unwrap(), None);
    store
        .put_replication_config(&reg, "{\"rules\":[]}", 1)
        .await
        .unwrap();
    store
        .put_replication_config(&reg, "{\"rules\":[1]}", 2)
        .await
        .unwrap();
    assert_eq!(
        store.replication_config(&reg).await.unwrap().as_deref(),
        Some("{\"rules\":[1]}")
    );
    assert_eq!(store.replication_config(&other).await.unwrap(), None);

    assert_eq!(store.claim_replication(100, 200).await.unwrap(), None);
    store
        .enqueue_replications(
            &[task("sha256:a", "us-west-2"), task("sha256:a", "eu-west-1")],
            100,
        )
        .await
        .unwrap();
    assert_eq!(store.replication_backlog().await.unwrap(), (2, Some(100)));
    // Claimed oldest first, each once while its lease lasts.
    let first = store.claim_replication(100, 160).await.unwrap().unwrap();
    assert_eq!(first.task, task("sha256:a", "us-west-2"));
    assert_eq!(
        (first.attempts, first.status.as_str()),
        (1, REPLICATION_IN_PROGRESS)
    );
    let second = store.claim_replication(100, 160).await.unwrap().unwrap();
    assert_eq!(second.task.destination.region, "eu-west-1");
    assert_eq!(store.claim_replication(150, 210).await.unwrap(), None);
    // A lease that ended (its node died) is claimed again.
    let again = store.claim_replication(170, 230).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (first.id, 2));
    // The first claim's writes change nothing now: the task is another's.
    assert!(!store
        .finish_replication((first.id, 1), REPLICATION_FAILED, Some("X"), 171)
        .await
        .unwrap());
    assert!(!store.renew_replication((first.id, 1), 999).await.unwrap());
    assert!(store.renew_replication((again.id, 2), 240).await.unwrap());
    assert_eq!(
        store
            .claim_replication(235, 300)
            .await
            .unwrap()
            .map(|t| t.id),
        Some(second.id),
        "renewed: not claimable"
    );
    // Retried: not due before its time.
    assert!(store
        .retry_replication((again.id, 2), 500, Some("CONNECTION_REFUSED"), 171)
        .await
        .unwrap());
    let other_lease = store.claim_replication(310, 370).await.unwrap().unwrap();
    assert_eq!(
        other_lease.id, second.id,
        "the lease taken at 235 ended at 300"
    );
    assert_eq!(store.claim_replication(350, 410).await.unwrap(), None);
    assert!(store
        .finish_replication(
            (other_lease.id, other_lease.attempts),
            REPLICATION_FAILED,
            Some("REPLICATION_DENIED"),
            351,
        )
        .await
        .unwrap());
    let retried = store.claim_replication(500, 560).await.unwrap().unwrap();
    assert_eq!((retried.id, retried.attempts), (first.id, 3));
    // A single node restarted takes back what its dead process held.
    assert_eq!(store.claim_replication(501, 561).await.unwrap(), None);
    assert_eq!(store.release_replication_leases().await.unwrap(), 1);
    let back = store.claim_replication(501, 560).await.unwrap().unwrap();
    assert_eq!((back.id, back.attempts), (first.id, 4));
    assert!(store
        .finish_replication((back.id, back.attempts), REPLICATION_COMPLETE, None, 501)
        .await
        .unwrap());
    assert_eq!(store.claim_replication(10_000, 10_060).await.unwrap(), None);
    assert_eq!(store.replication_backlog().await.unwrap(), (0, None));

    // The image's status: the latest task per destination.
    let statuses = store
        .image_replications(&reg, "prod-app", "sha256:a")
        .await
        .unwrap();
    let seen: Vec<(&str, &str, Option<&str>)> = statuses
        .iter()
        .map(|t| {
            (
                t.task.destination.region.as_str(),
                t.status.as_str(),
                t.failure_code.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("eu-west-1", REPLICATION_FAILED, Some("REPLICATION_DENIED")),
            ("us-west-2", REPLICATION_COMPLETE, None)
        ]
    );
    store
        .enqueue_replications(&[task("sha256:a", "eu-west-1")], 600)
        .await
        .unwrap();
    let statuses = store
        .image_replications(&reg, "prod-app", "sha256:a")
        .await
        .unwrap();
    assert_eq!(statuses[0].status, REPLICATION_IN_PROGRESS, "a newer push");
    assert!(store
        .image_replications(&other, "prod-app", "sha256:a")
        .await
        .unwrap()
        .is_empty());

    // Backfills: one running per destination region, at most `max`;
    // a page queued once however many advance it; stopped, its queued
    // tasks fail.
    let backfill = |id: &str, region: &str| BackfillRecord {
        id: id.into(),
        source: reg.clone(),
        destination: RegistryKey {
            account_id: reg.account_id.clone(),
            region: region.into(),
        },
        status: REPLICATION_IN_PROGRESS.into(),
        after_repo: String::new(),
        enumerated: false,
        started_at: 700,
        ended_at: None,
    };
    assert_eq!(
        store
            .create_backfill(&backfill("b1", "us-west-2"), 2)
            .await
            .unwrap(),
        BackfillOutcome::Created
    );
    assert_eq!(
        store
            .create_backfill(&backfill("b2", "us-west-2"), 2)
            .await
            .unwrap(),
        BackfillOutcome::InProgress("b1".into())
    );
    assert_eq!(
        store
            .create_backfill(&backfill("b3", "eu-west-1"), 2)
            .await
            .unwrap(),
        BackfillOutcome::Created
    );
    assert_eq!(
        store
            .create_backfill(&backfill("b4", "ap-south-1"), 2)
            .await
            .unwrap(),
        BackfillOutcome::Full
    );
    let mut queued = task("sha256:old", "us-west-2");
    queued.backfill = Some("b1".into());
    assert!(store
        .advance_backfill(
            "b1",
            "",
            "prod-app",
            false,
            std::slice::from_ref(&queued),
            710
        )
        .await
        .unwrap());
    assert!(
        !store
            .advance_backfill(
                "b1",
                "",
                "prod-app",
                false,
                std::slice::from_ref(&queued),
                711
            )
            .await
            .unwrap(),
        "moved already"
    );
    assert!(store
        .advance_backfill("b1", "prod-app", "prod-app", true, &[], 712)
        .await
        .unwrap());
    let got = store.get_backfill(&reg, "b1").await.unwrap().unwrap();
    assert_eq!(
        (got.after_repo.as_str(), got.enumerated),
        ("prod-app", true)
    );
    assert_eq!(store.backfill_counts("b1").await.unwrap(), (1, 0, 0));
    assert!(
        store
            .backfill_tasks("b1", None, 0, 10)
            .await
            .unwrap()
            .is_empty(),
        "without a filter: finished ones only"
    );
    let tasks = store
        .backfill_tasks("b1", Some(REPLICATION_IN_PROGRESS), 0, 10)
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].task.backfill.as_deref(), Some("b1"));
    assert!(store
        .backfill_tasks("b1", Some(REPLICATION_COMPLETE), 0, 10)
        .await
        .unwrap()
        .is_empty());
    let listed: Vec<String> = store
        .list_backfills(&reg, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(listed, ["b1", "b3"]);
    assert_eq!(
        store
            .list_backfills(&reg, Some("b1"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .list_backfills(&other, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.running_backfills(10).await.unwrap().len(), 2);
    assert!(store.end_backfill("b1", "STOPPED", 720).await.unwrap());
    assert!(
        !store.end_backfill("b1", "COMPLETE", 721).await.unwrap(),
        "not in progress"
    );
    assert_eq!(store.backfill_counts("b1").await.unwrap(), (0, 0, 1));
    let failed = store
        .backfill_tasks("b1", Some(REPLICATION_FAILED), 0, 10)
        .await
        .unwrap();
    assert_eq!(failed[0].failure_code.as_deref(), Some("BACKFILL_STOPPED"));
    assert_eq!(
        store
            .get_backfill(&reg, "b1")
            .await
            .unwrap()
            .unwrap()
            .ended_at,
        Some(720)
    );

    // Deletes and untags: queued after the copy to eu-west-1 (still in
    // progress since 600), the delete waits for it; the untag to
    // us-west-2, whose copy is done, does not.
    let delete = NewReplicationTask {
        action: ReplicationAction::Delete,
        tag: None,
        ..task("sha256:a", "eu-west-1")
    };
    let untag = NewReplicationTask {
        action: ReplicationAction::Untag,
        ..task("sha256:a", "us-west-2")
    };
    store
        .enqueue_replications(&[delete.clone(), untag.clone()], 800)
        .await
        .unwrap();
    let copy = store.claim_replication(900, 960).await.unwrap().unwrap();
    assert_eq!(copy.task, task("sha256:a", "eu-west-1"));
    let claimed = store.claim_replication(900, 960).await.unwrap().unwrap();
    assert_eq!(claimed.task, untag, "another destination: not held back");
    assert_eq!(
        store.claim_replication(900, 960).await.unwrap(),
        None,
        "the delete waits for the copy queued before it"
    );
    assert!(store
        .finish_replication((copy.id, copy.attempts), REPLICATION_COMPLETE, None, 901)
        .await
        .unwrap());
    let claimed = store.claim_replication(902, 960).await.unwrap().unwrap();
    assert_eq!(claimed.task, delete);
    // An image's status is its copies', not its deletes'.
    let statuses = store
        .image_replications(&reg, "prod-app", "sha256:a")
        .await
        .unwrap();
    assert!(
        statuses
            .iter()
            .all(|t| t.task.action == ReplicationAction::Replicate
                && t.status == REPLICATION_COMPLETE),
        "{statuses:?}"
    );
}
