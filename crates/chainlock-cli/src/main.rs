//! The chainlock command.
fn main() {}
