// What the screens need from the co-signer, as an interface: the app passes the Tauri
// implementation (tauri.ts), the component tests a fake (test/fake.ts).
import type { AppEvent, DiffRow, DiffSummary, Filter, HistoryView, Inbox, KeyView, LedgerKeyView, Outcome, ReviewView, SettingsView, SignerChoice, WatchAdded } from './ipc';

export interface Backend {
  inbox(filter: Filter): Promise<Inbox>;
  review(request: string): Promise<ReviewView>;
  /** The review with the artifact file at `artifact` compared with the source. */
  reviewArtifact(request: string, artifact: string): Promise<ReviewView>;
  diffSummary(request: string): Promise<DiffSummary>;
  diffRows(request: string, start: number, count: number): Promise<DiffRow[]>;
  /** Stops the long work on `request` (its diff); false when none runs. */
  cancelWork(request: string): Promise<boolean>;
  sign(request: string, signer: SignerChoice, acceptWarnings: boolean): Promise<Outcome>;
  reject(request: string, reason: string, signer: SignerChoice): Promise<Outcome>;
  finalize(request: string): Promise<Outcome>;
  history(): Promise<HistoryView>;
  settings(): Promise<SettingsView>;
  setNotifications(on: boolean): Promise<SettingsView>;
  setSyncInterval(secs: number): Promise<SettingsView>;
  setAutostart(on: boolean): Promise<SettingsView>;
  createKey(label: string): Promise<KeyView>;
  /** Watches a package: its coordination remote and my clone (cloned when missing). */
  watchPackage(remote: string, clone: string): Promise<WatchAdded>;
  /** The key the connected Ledger holds at the default ChainLock path (nothing stored). */
  readLedgerKey(): Promise<LedgerKeyView>;
  /** Adds the connected Ledger's key, if it is still `keyId`, with `label`. */
  addLedgerKey(keyId: string, label: string): Promise<KeyView>;
  setKeyLabel(keyId: string, label: string): Promise<KeyView>;
  syncNow(): Promise<void>;
  openingReview(): Promise<string | null>;
  /** Reviews the signing request in a file (every check; never signable). */
  openRequestFile(path: string): Promise<ReviewView>;
  /** The request file a `chainlock-app FILE` launch asked for, once. */
  openingRequestFile(): Promise<string | null>;
  /** Calls `f` with every backend event; resolves to the function that stops it. */
  onEvent(f: (event: AppEvent) => void): Promise<() => void>;
}

/** The message of a failed command (a CommandError from Rust, or anything thrown). */
export function errorMessage(err: unknown): string {
  if (err && typeof err === 'object' && 'message' in err) {
    return String((err as { message: unknown }).message);
  }
  return String(err);
}

/** The kind of a failed command (`rejected-on-device`, `device-unreachable`, ...), or ''. */
export function errorKind(err: unknown): string {
  if (err && typeof err === 'object' && 'kind' in err) {
    return String((err as { kind: unknown }).kind);
  }
  return '';
}
