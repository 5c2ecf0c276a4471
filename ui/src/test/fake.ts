// A Backend for component tests: canned data, and a record of every call.
import type { Backend } from '../lib/backend';
import type { AppEvent, DiffRow, DiffSummary, Filter, HistoryView, Inbox, InboxItem, KeyView, LedgerKeyView, ReviewView, SettingsView } from '../lib/ipc';

export const NOW = Math.floor(Date.now() / 1000);
export const MY_KEY = 'c'.repeat(64);
export const LEDGER_KEY = '4e'.repeat(32);

export function item(over: Partial<InboxItem> = {}): InboxItem {
  return {
    package: 'npm:pad',
    request: 'a'.repeat(64),
    what: 'release 1.1.0',
    publisher: 'b'.repeat(64),
    created_at: NOW - 120,
    expires_at: NOW + 86_000,
    signed_by: ['d'.repeat(64)],
    threshold: 2,
    rejected_by: [],
    finalized: false,
    my_keys_to_sign: [MY_KEY],
    signed_by_me: false,
    verdict: 'ready',
    problems: [],
    builders_agreeing: 2,
    builders_min: 2,
    highest_risk: null,
    release_status: null,
    ...over,
  };
}

export function review(over: Partial<ReviewView> = {}): ReviewView {
  return {
    package: 'npm:pad',
    request: 'a'.repeat(64),
    what: 'release 1.1.0',
    version: '1.1.0',
    tag: 'v1.1.0',
    commit: 'e'.repeat(40),
    publisher: 'b'.repeat(64),
    created_at: NOW - 120,
    expires_at: NOW + 86_000,
    record_digest: 'f'.repeat(64),
    verdict: 'ready',
    verdict_line: 'ready to sign: every check passed',
    checks: [
      { id: 'publisher-signature', title: 'publisher signature', status: 'passed', detail: 'valid' },
      { id: 'diff-digest', title: 'diff digest', status: 'passed', detail: 'matches' },
    ],
    fields: [{ name: 'version', value: '1.1.0' }],
    diff_digest_claimed: '1'.repeat(64),
    diff_digest_computed: '1'.repeat(64),
    builders: {
      artifact_sha256: '2'.repeat(64),
      min: 2,
      trusted: 3,
      agreeing: 2,
      disagreeing: 1,
      passes: true,
      envelopes: [
        { label: 'attestation 1', verdict: 'agrees', key_id: '3'.repeat(64), trusted: true, artifact_sha256: '2'.repeat(64), detail: 'agrees' },
        { label: 'remote attestation by 444', verdict: 'disagrees', key_id: '4'.repeat(64), trusted: true, artifact_sha256: '5'.repeat(64), detail: 'attests another artifact' },
      ],
    },
    transaction: {
      txid: '6'.repeat(64),
      custody_outpoint: '7'.repeat(64) + ':0',
      custody_satoshis: 10_000,
      custody: '2-of-3',
      commits_to: 'f'.repeat(64),
      change_address: '8'.repeat(40),
      change_satoshis: 9_500,
      fee: 500,
      sighash: '9'.repeat(64),
    },
    risk: [],
    risk_error: null,
    warnings: [],
    artifact: null,
    ledger_screens: [
      { text: 'Review output #1', action: 'next' },
      { text: 'Amount BCH 0', action: 'next' },
      { text: 'Accept', action: 'approve' },
      { text: "Reject if you're not sure", action: 'reject' },
    ],
    signatures: [{ key_id: 'd'.repeat(64), mine: false, reason: null }],
    rejections: [],
    threshold: 2,
    maintainers: ['d'.repeat(64), MY_KEY, '0'.repeat(64)],
    maintainer_labels: [null, 'alice laptop', null],
    my_keys_to_sign: [MY_KEY],
    can_sign: true,
    can_finalize: false,
    finalized: false,
    invalid: [],
    release_status: null,
    release_flags: [],
    policy_changes: [],
    from_file: null,
    ...over,
  };
}

export function settings(): SettingsView {
  return {
    packages: [],
    keys: [{ key_id: MY_KEY, label: 'my laptop', kind: 'keychain', path: null }],
    sync_interval_secs: 300,
    notifications: true,
    autostart: false,
    demo: false,
    config_dir: '/home/me/.config/chainlock',
  };
}

export function rows(total: number): { summary: DiffSummary; all: DiffRow[] } {
  const all: DiffRow[] = [];
  for (let i = 0; i < total; i++) {
    all.push({ kind: 'added', file: 0, old_line: null, new_line: i + 1, segments: [{ text: `line ${i}`, changed: false }] });
  }
  return {
    summary: { files: [{ path: 'a.js', status: 'A', additions: total, deletions: 0, collapsed: null, first_row: 0, risk: null }], total_rows: total, additions: total, deletions: 0 },
    all,
  };
}

export class FakeBackend implements Backend {
  calls: string[] = [];
  items: InboxItem[] = [item()];
  theReview: ReviewView = review();
  diff = rows(10);
  listeners: ((e: AppEvent) => void)[] = [];
  signError: unknown = null;
  ledgerError: unknown = null;
  keys: KeyView[] = settings().keys;

  async inbox(filter: Filter): Promise<Inbox> {
    this.calls.push(`inbox:${filter}`);
    const items = filter === 'needs-me' ? this.items.filter((i) => i.my_keys_to_sign.length) : this.items;
    return { items, needs_me: this.items.filter((i) => i.my_keys_to_sign.length).length, demo: false, synced_at: null, sync_error: null };
  }
  /** When set, review waits until cancelWork (then fails as cancelled) or `finishReview`. */
  slowReview = false;
  private pendingReview: { resolve: (r: ReviewView) => void; reject: (e: unknown) => void } | null = null;
  async review(request: string) {
    this.calls.push(`review:${request}`);
    if (!this.slowReview) return this.theReview;
    return new Promise<ReviewView>((resolve, reject) => (this.pendingReview = { resolve, reject }));
  }
  finishReview() { this.pendingReview?.resolve(this.theReview); this.pendingReview = null; }
  withArtifact: ReviewView['artifact'] = null;
  async reviewArtifact(request: string, artifact: string) {
    this.calls.push(`review_artifact:${request}:${artifact}`);
    return { ...this.theReview, artifact: this.withArtifact };
  }
  /** When set, diffSummary waits until cancelWork (then fails as cancelled) or `finishDiff`. */
  slowDiff = false;
  private pendingDiff: { resolve: (s: DiffSummary) => void; reject: (e: unknown) => void } | null = null;
  async diffSummary(request: string) {
    this.calls.push(`diff_summary:${request}`);
    if (!this.slowDiff) return this.diff.summary;
    return new Promise<DiffSummary>((resolve, reject) => (this.pendingDiff = { resolve, reject }));
  }
  finishDiff() { this.pendingDiff?.resolve(this.diff.summary); this.pendingDiff = null; }
  async cancelWork(request: string) {
    this.calls.push(`cancel_work:${request}`);
    const running = this.pendingDiff !== null || this.pendingReview !== null;
    this.pendingDiff?.reject({ kind: 'cancelled', message: 'Cancelled: nothing was kept. Open the diff again to compute it.' });
    this.pendingDiff = null;
    this.pendingReview?.reject({ kind: 'cancelled', message: 'Review cancelled: nothing was checked or kept, and nothing can be signed from it. Open the request again to review it.' });
    this.pendingReview = null;
    return running;
  }
  async diffRows(request: string, start: number, count: number) {
    this.calls.push(`diff_rows:${start}:${count}`);
    return this.diff.all.slice(start, start + count);
  }
  async sign(request: string, signer: unknown, ack: boolean) {
    this.calls.push(`sign:${request}:${JSON.stringify(signer)}:${ack}`);
    if (this.signError) throw this.signError;
    return { message: 'Signed.', key_id: MY_KEY };
  }
  async reject(request: string, reason: string, signer: unknown) {
    this.calls.push(`reject:${request}:${reason}`);
    this.calls.push(`reject-signer:${JSON.stringify(signer)}`);
    return { message: 'Rejected.', key_id: MY_KEY };
  }
  async finalize(request: string) { this.calls.push(`finalize:${request}`); return { message: 'Final.', key_id: null }; }
  async history(): Promise<HistoryView> {
    return {
      entries: [
        { action: 'sign', package: 'npm:pad', request: 'a'.repeat(64), key_id: MY_KEY, time: NOW - 60, report: 'r'.repeat(64), reason: null },
        { action: 'reject', package: 'npm:evil', request: 'b'.repeat(64), key_id: MY_KEY, time: NOW - 30, report: null, reason: 'diff does not match' },
      ],
      broken: null,
    };
  }
  async settings() { return { ...settings(), keys: this.keys }; }
  async setNotifications(on: boolean) { return { ...settings(), notifications: on }; }
  async setSyncInterval(secs: number) { return { ...settings(), sync_interval_secs: secs }; }
  async setAutostart(on: boolean) { this.calls.push(`autostart:${on}`); return { ...settings(), autostart: on }; }
  watchError: Error | null = null;
  async watchPackage(remote: string, clone: string) {
    this.calls.push(`watch_package:${remote}:${clone}`);
    if (this.watchError) throw this.watchError;
    return {
      watched: { package: 'npm:pad', remote, clone, genesis: '9'.repeat(64) },
      pinned_from: 'the genesis request 1234abcd on the remote',
    };
  }
  async createKey(label: string) { return { key_id: MY_KEY, label, kind: 'keychain', path: null }; }
  async readLedgerKey(): Promise<LedgerKeyView> {
    this.calls.push('read_ledger_key');
    if (this.ledgerError) throw this.ledgerError;
    return { key_id: LEDGER_KEY, public_key: '02' + 'ab'.repeat(32), path: "m/45'/236'/0'/0/0", known: this.keys.some((k) => k.key_id === LEDGER_KEY) };
  }
  async addLedgerKey(keyId: string, label: string) {
    this.calls.push(`add_ledger_key:${keyId}:${label}`);
    const key = { key_id: keyId, label, kind: 'ledger', path: "m/45'/236'/0'/0/0" };
    this.keys = [...this.keys, key];
    return key;
  }
  async setKeyLabel(keyId: string, label: string) {
    this.calls.push(`set_key_label:${keyId}:${label}`);
    this.keys = this.keys.map((k) => (k.key_id === keyId ? { ...k, label } : k));
    return this.keys.find((k) => k.key_id === keyId)!;
  }
  async syncNow() { this.calls.push('sync_now'); }
  async openingReview() { return null; }
  fileError: unknown = null;
  async openRequestFile(path: string) {
    this.calls.push(`open_request_file:${path}`);
    if (this.fileError) throw this.fileError;
    return { ...this.theReview, can_sign: false, can_finalize: false, my_keys_to_sign: [], from_file: path };
  }
  async openingRequestFile(): Promise<string | null> { return null; }
  async onEvent(f: (e: AppEvent) => void) { this.listeners.push(f); return () => {}; }
  emit(e: AppEvent) { for (const f of this.listeners) f(e); }
}
