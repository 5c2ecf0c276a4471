//! The IPC types of where things stand: a final release in its challenge window, the flags
//! on it, and how far long work is. Part of [`crate::ipc`] (re-exported there and generated
//! into `ui/src/lib/ipc.ts` with the rest).

use serde::Serialize;
use ts_rs::TS;

/// A final release's place in the challenge window (PROTOCOL.md section 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseState {
    /// Its record transaction is not in a block yet.
    Pending,
    /// In its challenge window.
    InWindow,
    /// The window closed with no standing blocking flag.
    Verified,
    /// A blocking flag stands against it.
    Flagged,
}

/// Where a final release stands, from the co-signing crate's status of its flags.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ReleaseStatusView {
    /// The state.
    pub state: ReleaseState,
    /// When the challenge window closes, Unix seconds (in-window).
    pub closes_at: Option<u64>,
    /// Key ids of the standing blocking flags (flagged).
    pub flagged_by: Vec<String>,
}

/// A flag raised on a final release, and whether it counts.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ReleaseFlagView {
    /// `blocking`, `advisory`, or `unreadable`.
    pub severity: String,
    /// The key id its ref names.
    pub key_id: String,
    /// `maintainer`, `trusted builder`, `unknown key`, `unverified`.
    pub who: String,
    /// Whether it counts against the release.
    pub counted: bool,
    /// Why it counts or not, in words.
    pub why: String,
    /// The flag's reason, escaped.
    pub reason: String,
    /// Its evidence (links, hashes), escaped.
    pub evidence: Vec<String>,
    /// When it was made, Unix seconds.
    pub created_at: Option<u64>,
    /// Whether its signer withdrew it.
    pub withdrawn: bool,
}

/// How far a long piece of work is.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ProgressEvent {
    /// What the work is for (the request id); `cancel_work` takes it.
    pub work: String,
    /// The stage, in words (`Scanning for risky changes`).
    pub stage: String,
    /// Steps done.
    pub done: u32,
    /// Steps in all; 0 when unknown.
    pub total: u32,
    /// What the steps are (`files`, `envelopes`, `packages`).
    pub unit: String,
}
