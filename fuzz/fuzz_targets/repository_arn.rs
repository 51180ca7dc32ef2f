//! Repository ARNs from TagResource and friends: one that parses names a
//! valid account, and its parts print back to the same ARN.
#![no_main]
use berth_iam::arn::RepositoryArn;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(a) = RepositoryArn::parse(s) {
        assert_eq!(
            format!("arn:{}:ecr:{}:{}:repository/{}", a.partition, a.region, a.account, a.name),
            s
        );
    }
});
