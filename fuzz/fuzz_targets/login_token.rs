//! `docker login` passwords (the tokens GetAuthorizationToken issues):
//! arbitrary text is refused, and a token issued for one principal never
//! verifies as another, whatever its fields contain.
#![no_main]
use berth_iam::server_key::ServerKey;
use berth_iam::token::{issue, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = ServerKey::from_bytes(&[7u8; 32]).unwrap();
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = verify(&key, s, 1_700_000_000);
    let mut f = s.splitn(3, '\n');
    let (account, user, key_id) = (
        f.next().unwrap_or(""),
        f.next().unwrap_or(""),
        f.next().unwrap_or(""),
    );
    let token = issue(&key, account, user, key_id, 1_800_000_000);
    if let Ok(p) = verify(&key, &token, 1_700_000_000) {
        assert_eq!(
            (p.account_id.as_str(), p.user.as_str()),
            (account, user),
            "a token verified as a principal it was not issued for"
        );
    }
});
