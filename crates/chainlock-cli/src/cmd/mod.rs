//! One module per subcommand group, each with its `Args` and `run()`.

pub mod record;
pub mod request;
pub mod tx;
