//! Integration tests of the `chainlock` binary: one module per topic, shared helpers in `util`.

mod attest;
mod request;
mod key;
mod sign;
mod diff;
mod tx;
mod util;
