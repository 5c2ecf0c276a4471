//! The expiry check with a co-signer clock at the end of time: `--now` comes from the command
//! line, so a huge value must be judged (expired), not overflow.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chainlock_protocol::request::SigningRequest;
use chainlock_protocol::verify::{verify_request, CheckId, Context, Status};

#[test]
fn now_near_u64_max_is_expired_not_an_overflow() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/requests/valid/request.json"
    );
    let req = SigningRequest::from_json(&std::fs::read(path).unwrap()).unwrap();
    for now in [u64::MAX, u64::MAX - 1, u64::MAX - 300] {
        let v = verify_request(&req, &Context::offline(now));
        let expiry = v.report().get(CheckId::Expiry).unwrap();
        assert_eq!(
            expiry.status(),
            Status::Failed,
            "now = {now}: {}",
            expiry.detail()
        );
        assert!(expiry.detail().contains("expired"), "{}", expiry.detail());
    }
}
