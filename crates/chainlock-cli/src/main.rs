//! `chainlock`: the command line tool for publishers, builders, co-signers and consumers.
//!
//! A thin binary: each subcommand lives in its own module under `cmd/` with its `Args` and a
//! `run()`, and calls the domain crates. Errors end with what to do next.

use std::process::ExitCode;

use chainlock_diff::{limit_libgit2_memory, Libgit2Limits};
use clap::{Parser, Subcommand};

#[macro_use]
mod output;
mod cmd;

/// ChainLock: releases that count only when m maintainers co-sign them on the BSV chain.
#[derive(Debug, Parser)]
#[command(name = "chainlock", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Rebuild a release from source and sign an attestation; `attest verify` checks them.
    Attest(Box<cmd::attest::Args>),
    /// Builder keys (Ed25519) for signing rebuild attestations.
    Builder(cmd::builder::Args),
    /// Decode, verify, sign and combine transactions.
    Tx(cmd::tx::Args),
    /// Maintainer keys: in the OS keychain, or on a Ledger.
    Key(cmd::key::Args),
    /// Work with release records.
    Record(cmd::record::Args),
    /// Read a policy and print its digest.
    Policy(cmd::policy::Args),
    /// Check signing requests.
    Request(cmd::request::Args),
    /// Review evidence from git: the diff digest and the review diff of a release range.
    Diff(cmd::diff::Args),
    /// Co-signer: watch a package's coordination remote and pin its genesis.
    Watch(cmd::cosign::WatchArgs),
    /// Co-signer: fetch requests, signatures and rejections; push what waits locally.
    Sync(cmd::cosign::JsonArgs),
    /// Co-signer: the requests waiting for signatures.
    Pending(cmd::cosign::PendingArgs),
    /// Co-signer: every check of a request, every record field, the transaction, who signed.
    Review(cmd::cosign::ReviewArgs),
    /// Co-signer: sign a request that passes every check on this machine.
    Sign(cmd::cosign::SignArgs),
    /// Co-signer: reject a request with a reason (a signed statement).
    Reject(cmd::cosign::RejectArgs),
    /// Assemble m signatures, check the spend, broadcast, and publish `final`.
    Finalize(cmd::cosign::FinalizeArgs),
    /// Co-signer: this machine's audit log of signatures and rejections (hash-chained).
    History(cmd::cosign::JsonArgs),
    /// Publisher: write the policy, fund custody, publish the genesis request.
    Init(Box<cmd::publish::InitArgs>),
    /// Publisher: create custody outputs for the policy (a top-up).
    Fund(cmd::publish::FundArgs),
    /// Publisher: write `.chainlock/genesis` once the genesis is on the chain.
    Pin(cmd::publish::PinArgs),
    /// Which chain backend answers for spends and record chains.
    Chain(cmd::cosign::ChainArgs),
    /// Flag a release in its challenge window (`flag withdraw` takes yours back).
    Flag(cmd::flag::Args),
    /// Where a release stands: pending, in-window, verified or flagged, with its flags.
    Status(cmd::flag::StatusArgs),
    /// Publisher: request a rotation to a new policy, co-signed by m of the policy in force.
    Rotate(Box<cmd::publish::RotateArgs>),
    /// Publisher: attestations, request, m co-signatures, finalize, the block, the bundle.
    Publish(Box<cmd::publish::PublishArgs>),
    /// Add proof.beef to record refs whose transactions are mined (bundles made before the block).
    Prove(cmd::cosign::JsonArgs),
    /// Check a release's verification bundle offline, given block headers, back to its genesis.
    VerifyRecord(cmd::verify_record::Args),
    /// Build a local demo world (a package, builders, keys, a request waiting for you).
    Demo(cmd::cosign::DemoArgs),
}

fn main() -> ExitCode {
    // First, while this is the process's only thread: keeps libgit2's pack mappings and
    // caches bounded, so reviewing a huge range does not grow the resident size with it.
    if let Err(err) = limit_libgit2_memory(Libgit2Limits::default()) {
        eprintln!("warning: {err:#}; reading huge ranges may use more memory");
    }
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Attest(args) => cmd::attest::run(*args),
        Command::Builder(args) => cmd::builder::run(args),
        Command::Tx(args) => cmd::tx::run(args),
        Command::Key(args) => cmd::key::run(args),
        Command::Record(args) => cmd::record::run(args),
        Command::Policy(args) => cmd::policy::run(args),
        Command::Request(args) => cmd::request::run(args),
        Command::Diff(args) => cmd::diff::run(args),
        Command::Watch(args) => cmd::cosign::watch(args),
        Command::Sync(args) => cmd::cosign::sync(args),
        Command::Pending(args) => cmd::cosign::pending(args),
        Command::Review(args) => cmd::cosign::review(args),
        Command::Sign(args) => cmd::cosign::sign(args),
        Command::Reject(args) => cmd::cosign::reject(args),
        Command::Finalize(args) => cmd::cosign::finalize(args),
        Command::History(args) => cmd::cosign::history(args),
        Command::Init(args) => cmd::publish::init(*args),
        Command::Fund(args) => cmd::publish::fund(args),
        Command::Pin(args) => cmd::publish::pin(args),
        Command::Chain(args) => cmd::cosign::chain(args),
        Command::Demo(args) => cmd::cosign::demo(args),
        Command::VerifyRecord(args) => cmd::verify_record::run(args),
        Command::Flag(args) => cmd::flag::run(args),
        Command::Prove(args) => cmd::cosign::prove(args),
        Command::Rotate(args) => cmd::publish::rotate(*args),
        Command::Publish(args) => cmd::publish::publish(*args),
        Command::Status(args) => cmd::flag::status(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // Errors quote what they were given (file names, JSON fields, revisions): escaped
            // and cut here once more, whatever the message's source, so hostile input can
            // neither drive the terminal nor flood it. Line breaks the message itself holds
            // (before "next:") stay.
            eprintln!("error: {}", error_text(&format!("{err:#}")));
            ExitCode::from(2)
        }
    }
}

/// An error message made safe to print: each line escaped and cut to
/// [`chainlock_protocol::text::MESSAGE_CHARS`] characters with its length stated.
fn error_text(message: &str) -> String {
    use chainlock_protocol::text::{printable_cut, MESSAGE_CHARS};
    message
        .split('\n')
        .map(|line| printable_cut(line, MESSAGE_CHARS))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A safety net for any `println!` left in a module: std panics when standard output is a
/// closed pipe, which would print a backtrace and exit 101; the reader went away, so exit 0
/// quietly instead. Output goes through `out!`/`outln!`, which handle this without panicking.
fn quiet_on_closed_stdout() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
}
