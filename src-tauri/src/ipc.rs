//! The types that cross the IPC boundary, declared once here and generated into
//! `ui/src/lib/ipc.ts` by [`typescript`].
//!
//! They are views of the domain crates' results, shaped for the window: every string that
//! came from a request, a builder or a remote is already escaped for display by the domain
//! crates or here ([`shown`]). 64-bit integers (Unix seconds, satoshis) are serialized as
//! JSON numbers on purpose and typed `number`: both stay far below 2^53 (the chain's whole
//! supply is 2.1e15 satoshis), so a JavaScript number holds them exactly.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use chainlock_protocol::text;

pub use crate::ipc_status::{ProgressEvent, ReleaseFlagView, ReleaseState, ReleaseStatusView};

/// Text from outside (a path, a label, a reason) with hidden characters made visible.
pub fn shown(raw: &str) -> String {
    text::shown(raw)
}

/// The longest explanation (a check's detail, a warning) shown whole: they quote digests and
/// several builders, and a reader must see all of it.
pub const DETAIL_CHARS: usize = 4000;

/// A check's or a warning's explanation: escaped like [`shown`], cut only past
/// [`DETAIL_CHARS`].
pub fn detail(raw: &str) -> String {
    text::printable_cut(raw, DETAIL_CHARS)
}

/// Which requests the inbox lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum Filter {
    /// Requests one of my keys may still sign.
    NeedsMe,
    /// Every request.
    All,
    /// Requests I signed.
    SignedByMe,
    /// Final requests.
    Final,
    /// Rejected requests.
    Rejected,
}

/// A request's verdict in one word (the domain's [`chainlock_cosign::Verdict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every check ran and passed.
    Ready,
    /// A check failed: do not sign.
    Failing,
    /// No check failed, but some could not run.
    Waiting,
}

impl From<chainlock_cosign::Verdict> for Verdict {
    fn from(v: chainlock_cosign::Verdict) -> Self {
        match v {
            chainlock_cosign::Verdict::Ready => Verdict::Ready,
            chainlock_cosign::Verdict::Failing => Verdict::Failing,
            chainlock_cosign::Verdict::Waiting => Verdict::Waiting,
        }
    }
}

/// One line of the inbox.
#[derive(Debug, Clone, Serialize, TS)]
pub struct InboxItem {
    /// The package (`npm:pad`).
    pub package: String,
    /// The request id (hex).
    pub request: String,
    /// `release 1.1.0`, `genesis`, `rotation`.
    pub what: String,
    /// The publisher's key id.
    pub publisher: String,
    /// Creation, Unix seconds.
    pub created_at: u64,
    /// Expiry, Unix seconds.
    pub expires_at: u64,
    /// Key ids that signed.
    pub signed_by: Vec<String>,
    /// The policy's m.
    pub threshold: u8,
    /// Key ids that rejected.
    pub rejected_by: Vec<String>,
    /// A final transaction exists.
    pub finalized: bool,
    /// My keys that may still sign it.
    pub my_keys_to_sign: Vec<String>,
    /// One of my keys signed it.
    pub signed_by_me: bool,
    /// The verdict of this machine's checks, for requests needing a signature.
    pub verdict: Option<Verdict>,
    /// The checks that failed or did not run, in words.
    pub problems: Vec<String>,
    /// Distinct trusted builders that agree, when evaluated.
    pub builders_agreeing: Option<u32>,
    /// The policy's minimum of agreeing builders, when evaluated.
    pub builders_min: Option<u32>,
    /// The highest risk flag of the range (`high`, `medium`, `low`), when scanned.
    pub highest_risk: Option<String>,
    /// Where a final release stands in its challenge window.
    pub release_status: Option<ReleaseStatusView>,
}

/// The whole inbox: the items of one filter, and the counts behind the filter tabs.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Inbox {
    /// The items, newest first.
    pub items: Vec<InboxItem>,
    /// How many requests need my signature.
    pub needs_me: u32,
    /// Whether this is the demo workspace.
    pub demo: bool,
    /// Unix seconds of the last successful sync, if any.
    pub synced_at: Option<u64>,
    /// Why the last sync failed, if it did.
    pub sync_error: Option<String>,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    /// Ran and passed.
    Passed,
    /// Ran and failed.
    Failed,
    /// Could not run.
    NotRun,
}

/// One check of the verification report.
#[derive(Debug, Clone, Serialize, TS)]
pub struct CheckView {
    /// Stable id (`diff-digest`).
    pub id: String,
    /// What it checks, in a line.
    pub title: String,
    /// Its outcome.
    pub status: CheckStatus,
    /// Why.
    pub detail: String,
}

/// A record field, escaped by the protocol crate.
#[derive(Debug, Clone, Serialize, TS)]
pub struct FieldView {
    /// Dotted name (`source.tag`).
    pub name: String,
    /// Its value, escaped.
    pub value: String,
}

/// One builder envelope's line.
#[derive(Debug, Clone, Serialize, TS)]
pub struct EnvelopeView {
    /// Where the envelope came from.
    pub label: String,
    /// `agrees`, `duplicate`, `disagrees`, `untrusted`, `invalid`.
    pub verdict: String,
    /// The builder's key id, when known.
    pub key_id: Option<String>,
    /// Whether the policy trusts this builder.
    pub trusted: bool,
    /// The artifact hash it attests, when valid.
    pub artifact_sha256: Option<String>,
    /// Why this verdict, in words.
    pub detail: String,
}

/// The builders' agreement.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BuildersView {
    /// The artifact hash the release claims.
    pub artifact_sha256: String,
    /// The policy's minimum.
    pub min: u32,
    /// Builders the policy trusts.
    pub trusted: u32,
    /// Distinct trusted builders that agree.
    pub agreeing: u32,
    /// Distinct trusted builders that attest something else.
    pub disagreeing: u32,
    /// Whether the minimum is met with no invalid envelope.
    pub passes: bool,
    /// Every envelope.
    pub envelopes: Vec<EnvelopeView>,
}

/// The transaction a signature is over, in numbers.
#[derive(Debug, Clone, Serialize, TS)]
pub struct TxView {
    /// Txid of the unsigned transaction.
    pub txid: String,
    /// The custody outpoint spent.
    pub custody_outpoint: String,
    /// Its value in satoshis.
    pub custody_satoshis: u64,
    /// `2-of-3`.
    pub custody: String,
    /// Output 0 commits to this record digest.
    pub commits_to: String,
    /// The change address (legacy base58, as a Ledger shows it).
    pub change_address: Option<String>,
    /// Change in satoshis.
    pub change_satoshis: Option<u64>,
    /// The fee in satoshis.
    pub fee: u64,
    /// The sighash a signature is over.
    pub sighash: String,
}

/// A risk flag of the range or the artifact.
#[derive(Debug, Clone, Serialize, TS)]
pub struct FlagView {
    /// `high`, `medium`, `low`.
    pub severity: String,
    /// Short code.
    pub code: String,
    /// The file it is about, escaped.
    pub path: Option<String>,
    /// What was found, in words.
    pub detail: String,
}

/// The published artifact against the source at the release's commit.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ArtifactView {
    /// The artifact file compared, escaped.
    pub file: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Files identical in both.
    pub identical: u32,
    /// Files only in the artifact (the `.pth` case), escaped.
    pub only_in_artifact: Vec<String>,
    /// Files whose content differs, with their diff.
    pub differing: Vec<DifferingView>,
    /// Files the packaging tool writes itself, escaped, with why.
    pub tool_written: Vec<String>,
}

/// An artifact file that differs from its source file.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DifferingView {
    /// The path in the archive, escaped.
    pub path: String,
    /// Whether either side is binary (then there is no diff).
    pub binary: bool,
    /// Unified diff, source to artifact, each line escaped; cut past [`ARTIFACT_DIFF_CHARS`].
    pub diff: String,
    /// Whether the diff was cut (by the review crate's line limit or here).
    pub truncated: bool,
}

/// The most characters of one differing file's diff sent to the window.
pub const ARTIFACT_DIFF_CHARS: usize = 20_000;

/// One screen of the Ledger's Bitcoin Cash app and what to do on it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct LedgerScreen {
    /// The text the device shows.
    pub text: String,
    /// `next` (right button), `approve` (both buttons), `reject` (both buttons here reject).
    pub action: String,
}

/// A signature or rejection by a maintainer.
#[derive(Debug, Clone, Serialize, TS)]
pub struct MaintainerAct {
    /// The maintainer's key id.
    pub key_id: String,
    /// Whether the key is one of mine.
    pub mine: bool,
    /// The reason, for a rejection, escaped.
    pub reason: Option<String>,
}

/// Everything shown before deciding (PROTOCOL.md section 7).
#[derive(Debug, Clone, Serialize, TS)]
pub struct ReviewView {
    /// The package.
    pub package: String,
    /// The request id.
    pub request: String,
    /// `release 1.1.0`.
    pub what: String,
    /// Version, tag and commit of a release (escaped).
    pub version: Option<String>,
    /// The tag.
    pub tag: Option<String>,
    /// The source commit.
    pub commit: Option<String>,
    /// The publisher's key id.
    pub publisher: String,
    /// Creation, Unix seconds.
    pub created_at: u64,
    /// Expiry, Unix seconds.
    pub expires_at: u64,
    /// The record digest the transaction commits to.
    pub record_digest: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// The verdict in a sentence.
    pub verdict_line: String,
    /// Every check: failed first, then not run, then passed.
    pub checks: Vec<CheckView>,
    /// Every record field.
    pub fields: Vec<FieldView>,
    /// The diff digest the record claims.
    pub diff_digest_claimed: Option<String>,
    /// The diff digest recomputed from my clone.
    pub diff_digest_computed: Option<String>,
    /// The builders' agreement.
    pub builders: Option<BuildersView>,
    /// The transaction.
    pub transaction: Option<TxView>,
    /// Risk flags of the range and of the artifact against the source, most severe first.
    pub risk: Vec<FlagView>,
    /// Why the risk scan could not run, when it could not.
    pub risk_error: Option<String>,
    /// What needs an explicit acknowledgement before signing (high flags, a disagreeing
    /// trusted builder), in words.
    pub warnings: Vec<String>,
    /// The published artifact compared with the source, when an artifact file was available.
    pub artifact: Option<ArtifactView>,
    /// What a Ledger shows, screen by screen, when it signs this transaction on the default
    /// ChainLock path, with the actual values (from `chainlock_signer::ledger::screens`).
    pub ledger_screens: Vec<LedgerScreen>,
    /// Signatures so far.
    pub signatures: Vec<MaintainerAct>,
    /// Rejections so far.
    pub rejections: Vec<MaintainerAct>,
    /// m.
    pub threshold: u8,
    /// The maintainers' key ids (n).
    pub maintainers: Vec<String>,
    /// For each maintainer (same order), the label of my key when it is mine, escaped.
    pub maintainer_labels: Vec<Option<String>>,
    /// My keys that may still sign.
    pub my_keys_to_sign: Vec<String>,
    /// Whether signing is allowed now: every check passed and one of my keys may sign.
    pub can_sign: bool,
    /// Whether m signatures are present and no final exists yet.
    pub can_finalize: bool,
    /// Whether the request is final.
    pub finalized: bool,
    /// Refs of this request that failed verification, in words.
    pub invalid: Vec<String>,
    /// Where the release stands in its challenge window, once final.
    pub release_status: Option<ReleaseStatusView>,
    /// Every flag on the final release, counted or not.
    pub release_flags: Vec<ReleaseFlagView>,
    /// For a rotation: what changes from the policy in force to the new one, in words.
    pub policy_changes: Vec<String>,
    /// The file this request was opened from (escaped): reviewed, never signable.
    pub from_file: Option<String>,
}

/// One changed file in the diff tree.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DiffFile {
    /// Its path, escaped.
    pub path: String,
    /// `A`, `D` or `M`.
    pub status: String,
    /// Added lines, when counted.
    pub additions: Option<u32>,
    /// Removed lines, when counted.
    pub deletions: Option<u32>,
    /// Why its lines are not shown (binary, too large, generated, submodule).
    pub collapsed: Option<String>,
    /// Index of its header row in the flat row index.
    pub first_row: u32,
    /// The worst risk flag on this file, if any.
    pub risk: Option<String>,
}

/// The diff's shape: the file tree and the number of rows to scroll through.
#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct DiffSummary {
    /// Every changed file in path order.
    pub files: Vec<DiffFile>,
    /// Rows in the flat index.
    pub total_rows: u32,
    /// Added lines.
    pub additions: u32,
    /// Removed lines.
    pub deletions: u32,
}

/// What a diff row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum RowKind {
    /// A file's header.
    File,
    /// A hunk header (`@@ -1,3 +1,4 @@`).
    Hunk,
    /// An unchanged line.
    Context,
    /// An added line.
    Added,
    /// A removed line.
    Removed,
    /// A note instead of lines (binary, too large).
    Note,
}

/// A run of a row's text; `changed` runs are the words that differ.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Segment {
    /// The text.
    pub text: String,
    /// Whether it is a word-level change.
    pub changed: bool,
}

/// One row of the unified diff.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DiffRow {
    /// Its kind.
    pub kind: RowKind,
    /// The file it belongs to (index in [`DiffSummary::files`]).
    pub file: u32,
    /// Base line number.
    pub old_line: Option<u32>,
    /// Head line number.
    pub new_line: Option<u32>,
    /// The text.
    pub segments: Vec<Segment>,
}

/// Which signer to use: the window names a key, never a secret or a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SignerChoice {
    /// A key in the OS keychain, by its key id (64 hex digits).
    Keychain {
        /// The key id.
        key_id: String,
    },
    /// A Ledger on its default ChainLock path.
    Ledger,
}

/// What a sign, reject or finalize did.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Outcome {
    /// One sentence for the user.
    pub message: String,
    /// The signing key's id, when a key was used.
    pub key_id: Option<String>,
}

/// A key of mine.
#[derive(Debug, Clone, Serialize, TS)]
pub struct KeyView {
    /// Its key id.
    pub key_id: String,
    /// Its label, escaped.
    pub label: String,
    /// `keychain` or `ledger`.
    pub kind: String,
    /// The derivation path, for a key on a Ledger.
    pub path: Option<String>,
}

/// The key a connected Ledger holds at the default ChainLock path, before it is added.
#[derive(Debug, Clone, Serialize, TS)]
pub struct LedgerKeyView {
    /// Its key id (SHA-256 of the public key), to compare with the one added.
    pub key_id: String,
    /// The compressed public key, hex.
    pub public_key: String,
    /// The derivation path read.
    pub path: String,
    /// Whether the key is already in the key index.
    pub known: bool,
}

/// One entry of the audit log.
#[derive(Debug, Clone, Serialize, TS)]
pub struct HistoryEntry {
    /// `sign`, `reject`, `finalize`.
    pub action: String,
    /// The package.
    pub package: String,
    /// The request id.
    pub request: String,
    /// The key used.
    pub key_id: String,
    /// When, Unix seconds.
    pub time: u64,
    /// The digest of the report shown, when logged.
    pub report: Option<String>,
    /// The reason, for a rejection.
    pub reason: Option<String>,
}

/// The audit log with its chain status.
#[derive(Debug, Clone, Serialize, TS)]
pub struct HistoryView {
    /// Entries, newest first.
    pub entries: Vec<HistoryEntry>,
    /// Where the hash chain breaks, if it does.
    pub broken: Option<String>,
}

/// A watched package.
#[derive(Debug, Clone, Serialize, TS)]
pub struct WatchedView {
    /// The package.
    pub package: String,
    /// Its coordination remote.
    pub remote: String,
    /// My clone.
    pub clone: String,
    /// The pinned genesis digest.
    pub genesis: String,
}

/// A package just watched, and where its genesis pin came from (trust on first use).
#[derive(Debug, Clone, Serialize, TS)]
pub struct WatchAdded {
    /// The package as now watched.
    pub watched: WatchedView,
    /// Where the pinned genesis was read (the clone's `.chainlock/genesis`, or the remote's one
    /// genesis request), escaped.
    pub pinned_from: String,
}

/// The settings screen.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SettingsView {
    /// Watched packages.
    pub packages: Vec<WatchedView>,
    /// My keys: keychain keys and the Ledger keys added in Settings.
    pub keys: Vec<KeyView>,
    /// Seconds between background syncs.
    pub sync_interval_secs: u32,
    /// Whether desktop notifications are on.
    pub notifications: bool,
    /// Whether the co-signer starts at login (off until the user turns it on).
    pub autostart: bool,
    /// Whether this is the demo workspace.
    pub demo: bool,
    /// The workspace's config directory.
    pub config_dir: String,
}

/// A failed command, for the window: what went wrong and what to do.
#[derive(Debug, Clone, Serialize, TS)]
pub struct CommandError {
    /// Stable kind (`not-ready`, `unknown-request`, `invalid-input`, `busy`, `failed`,
    /// `signer`, `rejected-on-device`, `device-unreachable`).
    pub kind: String,
    /// The message, with its causes.
    pub message: String,
}

/// Events the backend emits to the window.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum AppEvent {
    /// The inbox changed (sync, sign, reject, finalize): fetch it again.
    InboxChanged,
    /// A sync started.
    SyncStarted,
    /// A sync ended, with its error if any.
    SyncEnded {
        /// Why it failed.
        error: Option<String>,
    },
    /// Open a request's review (tray menu, notification, deep link).
    OpenReview {
        /// The request id.
        request: String,
    },
    /// Show the inbox.
    OpenInbox,
    /// How far a long piece of work is (a big diff).
    Progress(ProgressEvent),
    /// Open the review of a signing request file (`chainlock-app FILE`, a second launch).
    OpenRequestFile {
        /// The file's path.
        path: String,
    },
}

/// The name of the one event channel the backend emits [`AppEvent`]s on.
pub const EVENT: &str = "chainlock";

/// The generated TypeScript module: every IPC type, `u64` typed as `number`.
pub fn typescript() -> String {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let decls = [
        Filter::decl(&cfg),
        Verdict::decl(&cfg),
        InboxItem::decl(&cfg),
        ReleaseState::decl(&cfg),
        ReleaseStatusView::decl(&cfg),
        ReleaseFlagView::decl(&cfg),
        Inbox::decl(&cfg),
        CheckStatus::decl(&cfg),
        CheckView::decl(&cfg),
        FieldView::decl(&cfg),
        EnvelopeView::decl(&cfg),
        BuildersView::decl(&cfg),
        TxView::decl(&cfg),
        FlagView::decl(&cfg),
        ArtifactView::decl(&cfg),
        DifferingView::decl(&cfg),
        LedgerScreen::decl(&cfg),
        MaintainerAct::decl(&cfg),
        ReviewView::decl(&cfg),
        DiffFile::decl(&cfg),
        DiffSummary::decl(&cfg),
        RowKind::decl(&cfg),
        Segment::decl(&cfg),
        DiffRow::decl(&cfg),
        SignerChoice::decl(&cfg),
        Outcome::decl(&cfg),
        KeyView::decl(&cfg),
        LedgerKeyView::decl(&cfg),
        HistoryEntry::decl(&cfg),
        HistoryView::decl(&cfg),
        WatchedView::decl(&cfg),
        WatchAdded::decl(&cfg),
        SettingsView::decl(&cfg),
        CommandError::decl(&cfg),
        ProgressEvent::decl(&cfg),
        AppEvent::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated by `cargo test -p chainlock-app --lib ipc` from src-tauri/src/ipc.rs.\n\
         // Do not edit: change the Rust types and run `UPDATE_IPC=1 cargo test -p chainlock-app --lib ipc`.\n\n",
    );
    out.push_str(&format!("export const EVENT = {EVENT:?};\n"));
    for decl in decls {
        out.push_str("\nexport ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The committed `ui/src/lib/ipc.ts` is what the Rust types generate; with
    /// `UPDATE_IPC=1` the test rewrites it instead.
    #[test]
    fn generated_typescript_is_up_to_date() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/ipc.ts");
        let fresh = super::typescript();
        if std::env::var_os("UPDATE_IPC").is_some() {
            std::fs::write(&path, &fresh).expect("write ipc.ts");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/src/lib/ipc.ts is stale: run `UPDATE_IPC=1 cargo test -p chainlock-app --lib ipc` and commit it"
        );
    }

    #[test]
    fn sixty_four_bit_integers_are_numbers_not_bigints() {
        let ts = super::typescript();
        assert!(!ts.contains("bigint"), "{ts}");
        assert!(ts.contains("created_at: number"), "{ts}");
    }
}
