//! `ConsoleSessionStore`'s suite: a session found by its hash only,
//! touched, signed out once, and expired by idleness or age.

use crate::metadata::{ConsoleSession, ConsoleSessionStore};

fn session(hash: &str, at: i64) -> ConsoleSession {
    ConsoleSession {
        id_hash: hash.into(),
        access_key_id: "AKIAEXAMPLE".into(),
        created_at: at,
        last_seen: at,
        session_token: (hash == "c").then(|| "token of c".to_string()),
    }
}

pub async fn console_session_store_suite(store: &impl ConsoleSessionStore) {
    assert_eq!(store.console_session("a").await.unwrap(), None);
    store
        .create_console_session(&session("a", 100))
        .await
        .unwrap();
    store
        .create_console_session(&session("b", 200))
        .await
        .unwrap();
    store
        .create_console_session(&session("c", 300))
        .await
        .unwrap();
    assert!(
        store
            .create_console_session(&session("a", 400))
            .await
            .is_err(),
        "a hash is one session"
    );
    assert_eq!(
        store.console_session("a").await.unwrap(),
        Some(session("a", 100))
    );
    assert_eq!(
        store
            .console_session("c")
            .await
            .unwrap()
            .unwrap()
            .session_token
            .as_deref(),
        Some("token of c"),
        "temporary credentials' token kept"
    );
    store.touch_console_session("a", 500).await.unwrap();
    assert_eq!(
        store.console_session("a").await.unwrap().unwrap().last_seen,
        500
    );
    assert!(store.delete_console_session("b").await.unwrap());
    assert!(!store.delete_console_session("b").await.unwrap());
    assert_eq!(store.console_session("b").await.unwrap(), None);
    // "c" is idle since 300 (< 400); "a" was seen at 500 but opened at
    // 100: with an absolute limit at 150 it goes too.
    assert_eq!(store.expire_console_sessions(400, 0).await.unwrap(), 1);
    assert!(store.console_session("c").await.unwrap().is_none());
    assert!(store.console_session("a").await.unwrap().is_some());
    assert_eq!(store.expire_console_sessions(0, 150).await.unwrap(), 1);
    assert!(store.console_session("a").await.unwrap().is_none());
}
