//! One module per subcommand group, each with its `Args` and `run()`.

pub mod attest;
pub mod builder;
pub mod cosign;
pub mod diff;
pub mod diff_artifact;
pub mod flag;
pub mod key;
pub mod policy;
pub mod publish;
pub mod record;
pub mod request;
pub mod tx;
pub mod tx_sign;
pub mod verify_record;
